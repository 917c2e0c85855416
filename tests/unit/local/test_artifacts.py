"""Artifacts, outputs and metrics: what a local job leaves behind and reports."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from smtoolkit.local.platform.artifacts import pack_training_artifacts, restore_checkpoints
from smtoolkit.local.platform.metrics import MetricCollector
from smtoolkit.local.platform.outputs import put_folder
from smtoolkit.local.platform.store import ObjectStore


def test_pack_merges_hosts_first_host_wins(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "sub").mkdir(parents=True)
    two.mkdir()
    (one / "model.bin").write_text("one")
    (one / "sub" / "x").write_text("x")
    (two / "model.bin").write_text("two")
    (two / "extra").write_text("e")
    os.symlink("/etc/passwd", two / "link")
    out, kept = str(tmp_path / "out"), tmp_path / "kept"
    packed = pack_training_artifacts(ObjectStore({}), [one, two], [tmp_path / "none"], out, "job", kept)
    assert packed.model == str(tmp_path / "out" / "job" / "output" / "model.tar.gz")
    with tarfile.open(packed.model) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert sorted(members) == ["extra", "link", "model.bin", "sub/x"]
        assert members["link"].issym()
        assert archive.extractfile("model.bin").read() == b"one"  # type: ignore[union-attr]
    with tarfile.open(packed.output) as archive:
        assert archive.getmembers() == []


def test_an_end_of_job_output_puts_every_regular_file_and_no_link(tmp_path: Path) -> None:
    local, dest = tmp_path / "local", tmp_path / "dest"
    (local / "sub").mkdir(parents=True)
    (local / "a").write_text("1")
    (local / "sub" / "b").write_text("b")
    os.symlink(local / "a", local / "link")
    assert put_folder(ObjectStore({}), local, str(dest)) == 2
    assert (dest / "a").read_text() == "1" and (dest / "sub" / "b").read_text() == "b"
    assert not (dest / "link").exists()


def test_checkpoints_restore(tmp_path: Path) -> None:
    store = ObjectStore({})
    saved = tmp_path / "saved"
    assert restore_checkpoints(store, str(saved), [tmp_path / "h1"]) == 0
    saved.mkdir()
    (saved / "step-1.pt").write_text("w")
    assert restore_checkpoints(store, str(saved), [tmp_path / "h1", tmp_path / "h2"]) == 1
    assert (tmp_path / "h2" / "step-1.pt").read_text() == "w"


def test_metrics_from_log_lines() -> None:
    collector = MetricCollector(
        [("loss", r"loss=(\S+)"), ("acc", "acc: ([0-9.]+)"), ("epochs", r"epoch \d+"), ("none", "x=(y)")]
    )
    for line in ("epoch 1 loss=0.5", "epoch 2 loss=0.25 acc: 0.9", "loss=nan", "loss=abc", "x=y"):
        collector.feed(line)
    assert [(s.name, s.values) for s in collector.series] == [("loss", [0.5, 0.25]), ("acc", [0.9])]
    assert [item["MetricName"] for item in collector.final_metric_data()] == ["loss", "acc"]
    table = collector.table().splitlines()
    assert table[0].split() == ["metric", "last", "min", "max", "count"]
    assert table[1].split() == ["loss", "0.25", "0.25", "0.5", "2"]
    assert table[3].split() == ["epochs", "-", "-", "-", "0"]  # matched, but not a number
