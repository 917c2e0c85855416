"""Staging: sharding, File/FastFile copies, Pipe feeds, and reading a channel whatever its mode."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest

from smtoolkit.config.channels import Channel, ChannelConfig
from smtoolkit.errors import ConfigError
from smtoolkit.formats.pipe import open_fifo, wait_for_fifo
from smtoolkit.formats.recordio import frame
from smtoolkit.local.platform import staging
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.storage import StoredObject


def _objects(count: int) -> list[StoredObject]:
    return [StoredObject(f"k{n}", f"/x/k{n}", 1) for n in range(count)]


def test_sharded_by_s3_key_is_round_robin_over_sorted_keys() -> None:
    objects = _objects(5)
    shares = [staging.host_share(objects, "ShardedByS3Key", index, 2) for index in range(2)]
    assert [[o.key for o in share] for share in shares] == [["k0", "k2", "k4"], ["k1", "k3"]]
    assert staging.host_share(_objects(1), "ShardedByS3Key", 1, 2) == []
    assert staging.host_share(objects, "FullyReplicated", 1, 2) == objects


def test_local_listing_and_file_staging(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "b.txt").write_text("b")
    (source / "sub" / "a.txt").write_text("a")
    store = ObjectStore({})
    objects = store.list_objects(str(source))
    assert [o.key for o in objects] == ["b.txt", "sub/a.txt"]
    assert [o.key for o in store.list_objects(str(source / "b.txt"))] == ["b.txt"]
    target = tmp_path / "fast"
    staging.stage_files(store, objects, target, read_only=True)
    assert (target / "sub" / "a.txt").read_text() == "a"
    assert (target / "sub" / "a.txt").stat().st_mode & 0o777 == 0o444
    assert target.stat().st_mode & 0o777 == 0o555
    with pytest.raises(ConfigError, match="no such file or folder"):
        store.list_objects(str(tmp_path / "missing"))


def test_pipe_feed_wraps_decompresses_and_shuffles(tmp_path: Path) -> None:
    files = []
    for name in ("a", "b", "c"):
        path = tmp_path / f"{name}.gz"
        path.write_bytes(gzip.compress(name.encode() * 3))
        files.append(path)
    plain = staging.PipeFeed(files, gzip_compressed=True, recordio=False, shuffle_seed=None)
    assert b"".join(plain(0)) == b"aaabbbccc"
    wrapped = staging.PipeFeed(files, gzip_compressed=True, recordio=True, shuffle_seed=None)
    assert b"".join(wrapped(1)) == frame(b"aaa") + frame(b"bbb") + frame(b"ccc")
    shuffled = staging.PipeFeed(files, gzip_compressed=False, recordio=False, shuffle_seed=7)
    orders = {tuple(shuffled.files_for(epoch)) for epoch in range(6)}
    assert len(orders) > 1 and shuffled.files_for(2) == shuffled.files_for(2)


def _channel(base: Path, mode: str, wrapper: str = "None") -> Channel:
    config = ChannelConfig.model_validate({"TrainingInputMode": mode, "RecordWrapperType": wrapper})
    return Channel(name="train", path=base / "train", config=config)


def test_channel_reading_in_file_mode(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "1").write_bytes(b"one")
    (tmp_path / "train" / "2").write_bytes(b"two")
    channel = _channel(tmp_path, "FastFile")
    assert list(channel.iter_records()) == [b"one", b"two"]
    with channel.open_epoch(3) as stream:
        assert stream.read() == b"onetwo"


@pytest.mark.parametrize(("wrapper", "expected"), [("RecordIO", [b"one", b"two"]), ("None", [b"onetwo"])])
def test_channel_reading_in_pipe_mode(tmp_path: Path, wrapper: str, expected: list[bytes]) -> None:
    channel = _channel(tmp_path, "Pipe", wrapper)
    payloads = [b"one", b"two"]
    feed = (lambda epoch: [frame(p) for p in payloads]) if wrapper == "RecordIO" else (lambda epoch: payloads)
    writer = staging.start_pipe(tmp_path / "train", feed, epochs=2)
    try:
        assert [list(channel.iter_records(epoch, timeout=10)) for epoch in (0, 1)] == [expected, expected]
    finally:
        writer.stop()
    assert writer.epochs_written == 2 and writer.error is None


def test_pipe_reader_times_out_when_no_fifo_appears(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match="train_0: the Pipe-mode FIFO did not appear within 0.2 s"):
        list(_channel(tmp_path, "Pipe").iter_records(0, timeout=0.2))


def test_pipe_writer_stops_while_waiting_for_a_reader_and_survives_early_close(tmp_path: Path) -> None:
    writer = staging.start_pipe(tmp_path / "train", lambda epoch: [b"x" * 1024] * 1024)
    with open_fifo(tmp_path / "train_0", timeout=10) as stream:  # read a little, then close early
        assert stream.read(10) == b"x" * 10
    wait_for_fifo(tmp_path / "train_1", timeout=10)  # the writer went on to the next epoch, now waits for a reader
    done = threading.Event()

    def stop() -> None:
        writer.stop()
        done.set()

    threading.Thread(target=stop, daemon=True).start()
    assert done.wait(10)
    assert writer.error is None
    assert writer.epochs_written == 0
