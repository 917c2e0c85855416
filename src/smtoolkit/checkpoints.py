"""The job's checkpoints: find the latest one to resume from, and save new ones atomically.

With a CheckpointConfig, the platform copies `S3Uri` into `LocalPath` (default /opt/ml/checkpoints) before the
code starts and uploads what the code writes there while it runs, so a job interrupted (managed spot training,
a stop) resumes from the files it finds. A checkpoint written in place and cut short by SIGTERM would be
uploaded, restored and loaded half-written: `save` writes under a temporary name and renames, so the folder
only ever holds whole files.

    from smtoolkit import checkpoints
    start = 0
    if (latest := checkpoints.latest("step-*.pt")) is not None:
        state = torch.load(latest); start = state["step"] + 1
    ...
    with checkpoints.save(f"step-{step}.pt") as path:
        torch.save(state, path)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from smtoolkit.atomicfile import atomic_path, is_partial, write_atomically

_NUMBER = re.compile(r"(\d+)")


def directory() -> Path:
    """CheckpointConfig.LocalPath of the running job (checkpointconfig.json); /opt/ml/checkpoints (or
    `<SAGEMAKER_BASE_DIR>/checkpoints`) when the job has none, where files are kept but nothing syncs them."""
    from smtoolkit.config.training import current_env

    env = current_env()
    if env.checkpoint_config is not None:
        return env.checkpoint_config.local_path
    return env.paths.checkpoints_dir


def configured() -> bool:
    """Whether the job has a CheckpointConfig (so that saved files outlive this run)."""
    from smtoolkit.config.training import current_env

    return current_env().checkpoint_config is not None


def _target(name: str, folder: Path | None) -> Path:
    root = directory() if folder is None else folder
    target = root / name
    if Path(name).is_absolute() or ".." in Path(name).parts or not Path(name).name:
        raise ValueError(f"checkpoint name {name!r}: expected a relative file name inside {root}, such as step-100.pt")
    return target


def _order(path: Path) -> tuple[tuple[int, ...], int, str]:
    # The numbers in the name (step, epoch) first: a restore copies files in name order, so their modification
    # times say nothing about which one is newer. The modification time only breaks ties.
    numbers = tuple(int(part) for part in _NUMBER.findall(path.name))
    return (numbers, path.stat().st_mtime_ns, path.name)


def latest(pattern: str = "*", folder: Path | None = None) -> Path | None:
    """The latest finished checkpoint matching `pattern` (a glob, `**/` for sub-folders), or None: the one
    with the highest numbers in its name (step-100.pt after step-99.pt), then the most recently written."""
    root = directory() if folder is None else folder
    if not root.is_dir():
        return None
    files = [path for path in root.glob(pattern) if path.is_file() and not is_partial(path)]
    return max(files, key=_order, default=None)


@contextlib.contextmanager
def save(name: str, folder: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path to write the checkpoint `name` to; it appears under its name, whole, on exit."""
    with atomic_path(_target(name, folder)) as partial:
        yield partial


def save_bytes(name: str, data: bytes, folder: Path | None = None) -> Path:
    """Write `data` as the checkpoint `name`, atomically; returns its path."""
    return write_atomically(_target(name, folder), data)
