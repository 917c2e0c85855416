"""Files that appear whole or not at all: written under a temporary name in the target's folder, flushed to
disk, then renamed over the target (a rename within one file system is atomic), so a reader, a restart or an
uploader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def partial_name(target: Path) -> Path:
    """A hidden sibling of `target`, unique to this write."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def is_partial(path: Path) -> bool:
    """A write still in progress (or one a crash left behind): never a finished file."""
    return path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write `target`'s content to; on a clean exit it becomes `target`, on an
    exception it is removed and `target` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_name(target)
    try:
        yield partial
        if not partial.is_file():
            raise FileNotFoundError(f"nothing was written to {partial} (the temporary name of {target})")
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)  # the rename itself survives a power loss only once the folder is synced
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def write_atomically(target: Path, data: bytes) -> Path:
    with atomic_path(target) as partial:
        partial.write_bytes(data)
    return target
