"""What each rank of a distributed job runs: the user's entry point, with the rank's error written down.

`python -m smtoolkit.launch.rank_main KIND NAME ARGS...` (under torchrun, or `python -m mpi4py -m ...`):
- applies this host's job variables and code dir when SMTOOLKIT_HOST_ENV names them (MPI ranks started
  through a worker's sshd carry the master's values otherwise);
- runs a Python entry point in this process (script, module, module:function) as `python` would, and when it
  raises, writes the rank's error to `$SMTOOLKIT_RANK_DIR/rank-N.json` (rank, host, time, error) and to
  torchrun's `$TORCHELASTIC_ERROR_FILE`, then re-raises (mpi4py then aborts every rank);
- execs shell and executable entry points.
A rank's own process; the launcher's os.environ is never touched.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path
from typing import Any

RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK")


def _apply_host_env() -> None:
    path = os.environ.get("SMTOOLKIT_HOST_ENV")
    if not path or not Path(path).is_file():
        return
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    os.environ.update(spec["env"])
    os.chdir(spec["cwd"])


def _rank() -> int:
    for name in RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def _user_frames(error: BaseException) -> None:
    """Drop this wrapper's and runpy's frames from the traceback, so it starts at the user's code."""
    tb = error.__traceback__
    while tb is not None and (
        tb.tb_frame.f_code.co_filename in (__file__, runpy.__file__) or "runpy" in tb.tb_frame.f_code.co_filename
    ):
        tb = tb.tb_next
    if tb is not None:
        error.__traceback__ = tb


def _write_error(error: BaseException) -> None:
    rank, now = _rank(), time.time()
    _user_frames(error)
    text = "".join(traceback.format_exception(error)).rstrip()
    summary = "".join(traceback.format_exception_only(error)).strip()
    record = {"rank": rank, "host": os.environ.get("SM_CURRENT_HOST", ""), "time": now, "error": text}
    directory = os.environ.get("SMTOOLKIT_RANK_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        target = Path(directory) / f"rank-{rank}.json"
        target.with_suffix(".tmp").write_text(json.dumps(record), encoding="utf-8")
        target.with_suffix(".tmp").replace(target)
    elastic = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if elastic:
        extra = {"py_callstack": text, "timestamp": str(int(now))}
        Path(elastic).write_text(json.dumps({"message": {"message": summary, "extraInfo": extra}}), encoding="utf-8")


def _run_python(kind: str, name: str, args: list[str]) -> Any:
    code_dir = os.getcwd()
    if kind == "script":
        path = os.path.abspath(name)
        sys.argv = [path, *args]
        sys.path.insert(0, os.path.dirname(path))
        runpy.run_path(path, run_name="__main__")
        return None
    sys.path.insert(0, code_dir)
    if kind == "module":
        sys.argv = [name, *args]
        runpy.run_module(name, run_name="__main__", alter_sys=True)
        return None
    module, function = name.split(":")
    sys.argv = [name, *args]
    return getattr(importlib.import_module(module), function)()


def main(argv: list[str] | None = None) -> Any:
    kind, name, *args = sys.argv[1:] if argv is None else argv
    _apply_host_env()
    if kind in ("shell", "executable"):
        command = ["/bin/sh", name, *args] if kind == "shell" else [f"./{name}", *args]
        os.execv(command[0], command)
    try:
        result = _run_python(kind, name, args)
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            _write_error(exit_)
        raise
    except BaseException as error:
        _write_error(error)
        raise
    if isinstance(result, int) and result != 0:
        _write_error(SystemExit(result))
        raise SystemExit(result)
    return result


if __name__ == "__main__":
    main()
