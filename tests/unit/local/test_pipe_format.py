"""Streaming RecordIO decoding and concatenated file streams (smtoolkit.formats.pipe)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from smtoolkit.formats.pipe import concatenated, fifo_path, read_recordio
from smtoolkit.formats.recordio import MAGIC_BYTES, frame


def test_read_recordio_joins_multi_part_records() -> None:
    tricky = b"abcd" + MAGIC_BYTES + b"efgh"  # split by the writer where the magic sits aligned
    stream = io.BytesIO(frame(b"x") + frame(tricky) + frame(b""))
    assert list(read_recordio(stream)) == [b"x", tricky, b""]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (frame(b"hello")[:6], "truncated header at offset 0"),
        (b"\0" * 8, "bad magic number"),
        (frame(b"hello")[:10], "truncated record data at offset 8"),
        (frame(b"abcd" + MAGIC_BYTES + b"efgh")[:12], "ends inside a multi-part record"),
    ],
)
def test_read_recordio_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        list(read_recordio(io.BytesIO(data)))


def test_concatenated_and_fifo_path(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).write_bytes(name.encode() * 2)
    with concatenated([tmp_path / "a", tmp_path / "b", tmp_path / "c"]) as stream:
        assert stream.read(3) == b"aab" and stream.read() == b"bcc"
    assert fifo_path(tmp_path / "train", 3) == tmp_path / "train_3"
