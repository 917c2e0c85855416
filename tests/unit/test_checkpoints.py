"""smtoolkit.checkpoints: latest() and atomic save() on real files; the folder from a real checkpointconfig.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtoolkit import checkpoints
from smtoolkit.config.training import current_env


@pytest.fixture
def folder(job_tree: Any, tmp_path: Path) -> Iterator[Path]:
    local = tmp_path / "ckpt"
    job_tree(checkpointconfig={"LocalPath": str(local), "S3Uri": "s3://bucket/ckpt/"})
    current_env.cache_clear()
    yield local
    current_env.cache_clear()


def test_directory_is_the_jobs_local_path(folder: Path) -> None:
    assert checkpoints.directory() == folder and checkpoints.configured()
    assert checkpoints.latest() is None  # the folder does not exist yet


def test_without_checkpoint_config_the_default_folder(job_tree: Any) -> None:
    base = job_tree()
    current_env.cache_clear()
    try:
        assert checkpoints.directory() == base / "checkpoints" and not checkpoints.configured()
    finally:
        current_env.cache_clear()


def test_save_through_a_callback_and_as_bytes_then_latest(folder: Path) -> None:
    for step in (9, 10, 2):
        with checkpoints.save(f"step-{step}.pt") as path:
            assert path.parent == folder and path.name != f"step-{step}.pt"
            path.write_text(str(step))
    checkpoints.save_bytes("sub/step-11.pt", b"11")
    assert sorted(p.name for p in folder.iterdir()) == ["step-10.pt", "step-2.pt", "step-9.pt", "sub"]
    # step-10 beats step-9 and step-2 written after it: the number in the name decides, not the name or the time
    assert checkpoints.latest("step-*.pt") == folder / "step-10.pt"
    assert checkpoints.latest("**/step-*.pt") == folder / "sub" / "step-11.pt"


def test_a_save_cut_short_leaves_the_previous_checkpoint_whole(folder: Path) -> None:
    checkpoints.save_bytes("last.pt", b"good")
    with pytest.raises(RuntimeError), checkpoints.save("last.pt") as path:
        path.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert (folder / "last.pt").read_bytes() == b"good" and os.listdir(folder) == ["last.pt"]


def test_a_partial_file_left_by_a_crash_is_never_the_latest(folder: Path) -> None:
    folder.mkdir()
    (folder / ".step-99.pt.0a1b2c3d.partial").write_bytes(b"half")
    checkpoints.save_bytes("step-1.pt", b"whole")
    assert checkpoints.latest() == folder / "step-1.pt"


def test_a_callback_that_writes_nothing_is_an_error(folder: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing was written"), checkpoints.save("empty.pt"):
        pass
    assert not (folder / "empty.pt").exists()


@pytest.mark.parametrize("name", ["../escape.pt", "/abs.pt", "", "sub/.."])
def test_names_outside_the_folder_are_refused(folder: Path, name: str) -> None:
    with pytest.raises(ValueError, match="expected a relative file name"):
        checkpoints.save_bytes(name, b"x")


def test_import_smtoolkit_stays_cheap() -> None:
    heavy = "sorted(m for m in sys.modules if m.startswith(('pydantic', 'boto', 'watchdog')))"
    code = f"import json, sys, smtoolkit; print(json.dumps({heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
