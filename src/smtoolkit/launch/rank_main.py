"""What each rank of a distributed job runs: the user's entry point, with the rank's outcome written down.

`python /path/to/rank_main.py KIND NAME ARGS...` (under torchrun, or `python -m mpi4py /path/...`); also
`python -m smtoolkit.launch.rank_main`. Run by path, it needs only the standard library, so the rank's
interpreter pays for no package import, and the launch/ folder is taken off sys.path at once.
- applies this host's job variables and code dir when SMTOOLKIT_HOST_ENV names them (MPI ranks started
  through a worker's sshd carry the master's values otherwise);
- runs a Python entry point in this process (script, module, module:function) as `python` would; when it
  raises, writes the rank's error to `$SMTOOLKIT_RANK_DIR/rank-N.json` (rank, host, time, error) and to
  torchrun's `$TORCHELASTIC_ERROR_FILE`, then re-raises (mpi4py then aborts every rank);
- once the user's code has ended, either way, writes `$SMTOOLKIT_RANK_DIR/finished-N.json` (rank, pid, exit
  code), so the launcher knows the rank's real outcome even if its process or torchrun then fails to exit;
- execs shell and executable entry points (no markers: nothing of this process is left to write them).
A rank's own process; the launcher's os.environ is never touched.
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]  # run by path: launch/'s modules must not shadow the user's (report, plan, source...)

import contextlib  # noqa: E402 - after the sys.path fix
import json  # noqa: E402
import runpy  # noqa: E402
import time  # noqa: E402

TYPE_CHECKING = False  # typing itself is not imported: a rank's start-up pays for every module
if TYPE_CHECKING:
    from typing import Any

RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK")
RANK_DIR_VARIABLE = "SMTOOLKIT_RANK_DIR"
FINISHED_PREFIX = "finished-"


def interpreter_of(path: str) -> list[str]:
    """How to run a script that is not executable, as the kernel would run it if it were: its shebang's
    interpreter and optional argument (nothing for an executable file: it runs itself). The user's folder is
    never chmod-ed."""
    if os.access(path, os.X_OK):
        return []
    with open(path, "rb") as handle:
        first = handle.readline(4096)
    if not first.startswith(b"#!"):
        return []
    interpreter, _, argument = os.fsdecode(first[2:]).strip().partition(" ")  # one argument, as Linux does
    return [interpreter, argument.strip()] if argument.strip() else [interpreter]


def _apply_host_env() -> None:
    path = os.environ.get("SMTOOLKIT_HOST_ENV")
    if not path or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as stream:
        spec = json.load(stream)
    os.environ.update(spec["env"])
    os.chdir(spec["cwd"])


def _rank() -> int:
    for name in RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def _write_json(directory: str, name: str, record: dict[str, Any]) -> None:
    """Atomically: a reader never sees half a file."""
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, name)
    with open(target + ".tmp", "w", encoding="utf-8") as stream:
        json.dump(record, stream)
    os.replace(target + ".tmp", target)


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
    import traceback

    rank, now = _rank(), time.time()
    _user_frames(error)
    text = "".join(traceback.format_exception(error)).rstrip()
    summary = "".join(traceback.format_exception_only(error)).strip()
    record = {"rank": rank, "host": os.environ.get("SM_CURRENT_HOST", ""), "time": now, "error": text}
    directory = os.environ.get(RANK_DIR_VARIABLE)
    if directory:
        _write_json(directory, f"rank-{rank}.json", record)
    elastic = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if elastic:
        extra = {"py_callstack": text, "timestamp": str(int(now))}
        with open(elastic, "w", encoding="utf-8") as stream:
            json.dump({"message": {"message": summary, "extraInfo": extra}}, stream)


def _start_ticks() -> int:
    """This process's start time in clock ticks (/proc), so a reader can tell it from a later one with its pid."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stream:
            return int(stream.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _write_finished(exit_code: int) -> None:
    directory = os.environ.get(RANK_DIR_VARIABLE)
    if not directory:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    rank = _rank()
    record = {"rank": rank, "pid": os.getpid(), "ppid": os.getppid(), "start": _start_ticks(), "exit_code": exit_code}
    try:
        _write_json(directory, f"{FINISHED_PREFIX}{rank}.json", record)
    except OSError as exc:
        print(f"smtoolkit: cannot write the finished marker of rank {rank}: {exc}", file=sys.stderr)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


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
    import importlib

    module, function = name.split(":")
    sys.argv = [name, *args]
    return getattr(importlib.import_module(module), function)()


def main(argv: list[str] | None = None) -> Any:
    kind, name, *args = sys.argv[1:] if argv is None else argv
    _apply_host_env()
    if kind in ("shell", "executable"):
        command = ["/bin/sh", name, *args] if kind == "shell" else [*interpreter_of(name), f"./{name}", *args]
        os.execv(command[0], command)
    try:
        result = _run_python(kind, name, args)
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
        if code != 0:
            _write_error(exit_)
        _write_finished(code)
        raise
    except BaseException as error:
        _write_error(error)
        _write_finished(1)
        raise
    code = result if isinstance(result, int) else 0
    if code != 0:
        _write_error(SystemExit(code))
    _write_finished(code)
    if code != 0:
        raise SystemExit(code)
    return result


if __name__ == "__main__":
    main()
