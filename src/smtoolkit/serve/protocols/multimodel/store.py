"""The models every worker of a multi-model endpoint agrees on: one folder, made by the master before the fork.

    <root>/config.json         {"workers": N, "baseline_bytes": B}: written once by `create`
    <root>/generation          a counter (8 bytes, memory-mapped), bumped by every publish and removal
    <root>/models/<key>.json   one record per model: name, url, state (loading/ready), pid, load id, cost
    <root>/lock                fcntl lock held around every change

Records are replaced atomically, so readers never lock. The counter is mapped into each process: checking it
on every request costs a memory read, not a system call. A model is listed only once its
record is "ready": the loading worker publishes it after its own load succeeded. A "loading" record holds
the name against a second load; one whose loading process died is treated as absent.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import mmap
import os
import shutil
import struct
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from smtoolkit.atomicfile import is_partial, write_atomically
from smtoolkit.errors import Conflict, NotFound

SHARED_MEMORY = Path("/dev/shm")  # tmpfs: the records never touch a disk
# Called with the bytes already committed; raises to refuse a load (memory.check_fits).
ModelCheck = Callable[[int], None]
_COUNTER = struct.Struct("<Q")


@dataclass(frozen=True)
class ModelRecord:
    name: str
    url: str
    state: Literal["loading", "ready"]
    pid: int
    load_id: str
    loaded_at: float = 0.0
    memory_bytes: int = 0  # RSS added by the load in one worker


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def not_loaded(name: str) -> NotFound:
    return NotFound(f"Model not found: {name}")


class SharedStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        config = json.loads((root / "config.json").read_text())
        self.workers: int = config["workers"]
        self.baseline_bytes: int = config["baseline_bytes"]
        self._mapped: mmap.mmap | None = None

    @classmethod
    def create(cls, workers: int, baseline_bytes: int = 0, parent: Path | None = None) -> SharedStore:
        """A new, empty store in `parent` (default /dev/shm when there is one, else the temporary folder)."""
        if parent is None and SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK):
            parent = SHARED_MEMORY
        root = Path(tempfile.mkdtemp(prefix="smtoolkit-models-", dir=parent))
        (root / "models").mkdir()
        config = {"workers": workers, "baseline_bytes": baseline_bytes}
        write_atomically(root / "config.json", json.dumps(config).encode())
        write_atomically(root / "generation", bytes(_COUNTER.size))
        return cls(root)

    def discard(self) -> None:
        """Remove the folder: the master does it once its workers are gone."""
        if self._mapped is not None:
            self._mapped.close()
            self._mapped = None
        shutil.rmtree(self.root, ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / "lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield  # closing the file releases the lock, even if the block raised

    def _path(self, name: str) -> Path:
        return self.root / "models" / f"{hashlib.sha256(name.encode()).hexdigest()[:40]}.json"

    def _write(self, record: ModelRecord) -> None:
        write_atomically(self._path(record.name), json.dumps(asdict(record)).encode())

    def _bump(self) -> None:
        _COUNTER.pack_into(self._counter(), 0, self.generation() + 1)  # under the lock: one writer

    def _counter(self) -> mmap.mmap:
        if self._mapped is None:
            with open(self.root / "generation", "r+b") as file:
                self._mapped = mmap.mmap(file.fileno(), _COUNTER.size)
        return self._mapped

    def generation(self) -> int:
        value: int = _COUNTER.unpack_from(self._counter())[0]
        return value

    def record(self, name: str) -> ModelRecord | None:
        """The model's record; None when there is none or its loading process died."""
        try:
            record = ModelRecord(**json.loads(self._path(name).read_text()))
        except FileNotFoundError:
            return None
        return record if record.state == "ready" or _alive(record.pid) else None

    def listed(self) -> list[ModelRecord]:
        """The loaded ("ready") models, by name."""
        records = []
        for path in (self.root / "models").glob("*.json"):
            if is_partial(path):
                continue
            with contextlib.suppress(FileNotFoundError):  # removed while we looked
                records.append(ModelRecord(**json.loads(path.read_text())))
        return sorted((r for r in records if r.state == "ready"), key=lambda r: r.name)

    def committed_bytes(self) -> int:
        """What the listed models take across the workers, plus what the server's processes held at start."""
        return self.baseline_bytes + sum(r.memory_bytes for r in self.listed()) * self.workers

    def claim(self, name: str, url: str) -> ModelRecord:
        """Hold `name` for a load by this process; Conflict (409) when it is loaded or being loaded."""
        with self._locked():
            if self.record(name) is not None:
                raise Conflict(f"Model {name} is already loaded")
            claim = ModelRecord(name, url, "loading", os.getpid(), uuid.uuid4().hex)
            self._write(claim)
        return claim

    def publish(self, claim: ModelRecord, memory_bytes: int, fits: ModelCheck) -> ModelRecord:
        """List the claimed model with its measured cost, once `fits(committed_bytes)` accepts it."""
        with self._locked():
            fits(self.committed_bytes())
            record = replace(claim, state="ready", loaded_at=time.time(), memory_bytes=memory_bytes)
            self._write(record)
            self._bump()
        return record

    def abandon(self, claim: ModelRecord) -> None:
        """Drop a claim whose load failed."""
        with self._locked():
            current = self.record(claim.name)
            if current is not None and current.load_id == claim.load_id:
                self._path(claim.name).unlink()

    def remove(self, name: str) -> ModelRecord:
        """Unlist `name` for every worker; NotFound (404) when it is not loaded."""
        with self._locked():
            record = self.record(name)
            if record is None or record.state != "ready":
                raise not_loaded(name)
            self._path(name).unlink()
            self._bump()
        return record
