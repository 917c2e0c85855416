"""One hierarchy of errors. Each names what was wrong and where; the CLI and the HTTP app translate them.

How every command ends on an error, the one table (README "How commands end"):

| what went wrong | exit code | failure file / `error:` lines |
|---|---|---|
| configuration error (ConfigError, EntryPointError: a file, variable, flag or entry point) | 2 | `ConfigError: ...` |
| preparing the job failed (LaunchError: code fetch, install, engine) | 1 | `InstallError: ...` |
| the user's code failed (UserScriptError) | the code's own | the code's report |
| `process`: the command cannot be started | 127 (a shell's "command not found") | `LaunchError: ...` |
| the user's code was killed by signal N (or stopped: SIGTERM forwarded) | 128+N | `ExtraInfo "killed by SIGTERM"` |
| Ctrl-C in a command that runs no user code | 130 | - |
| internal error (any other exception: a defect of smtoolkit) | 70 | `InternalError (TypeError): ...` |
"""

from __future__ import annotations

import difflib
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

CONFIG_EXIT_CODE = 2
LAUNCH_EXIT_CODE = 1
INTERNAL_EXIT_CODE = 70  # sysexits' EX_SOFTWARE: tells a defect of ours from a user's code exiting 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration: where it is, which field, and what was expected."""

    source: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{where}: {self.message}"


class SmtoolkitError(Exception):
    """Base of every error smtoolkit raises on purpose. `kind` is the first word of a failure report."""

    kind = "SmtoolkitError"


class ConfigError(SmtoolkitError):
    """The job's configuration (files, variables, settings) is missing, malformed or of the wrong type."""

    kind = "ConfigError"

    def __init__(self, problems: Problem | Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = (problems,) if isinstance(problems, Problem) else tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, source: str, message: str, field: str | None = None) -> ConfigError:
        return cls(Problem(source=source, message=message, field=field))


class EntryPointError(SmtoolkitError):
    """The user's entry point is invalid or cannot be found."""

    kind = "EntryPointError"


class LaunchError(SmtoolkitError):
    """Preparing or starting the user's code failed (download, extraction, installation, engine setup)."""

    kind = "LaunchError"


class CodeFetchError(LaunchError):
    """The user's code could not be fetched or unpacked safely."""

    kind = "CodeFetchError"


class InstallError(LaunchError):
    """Installing the user's requirements or package failed."""

    kind = "InstallError"


class StorageError(SmtoolkitError):
    """Listing, reading or writing a local path or an s3:// object failed (the message names the URI)."""

    kind = "StorageError"


class UserScriptError(SmtoolkitError):
    """The user's code ran and failed; `exit_code` is its own (128+N when killed by signal N)."""

    kind = "UserScriptError"

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ServeError(SmtoolkitError):
    """An error answered to an HTTP client with `status` and a JSON body holding the message."""

    kind = "ServeError"
    status = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class BadRequest(ServeError):
    kind = "BadRequest"
    status = 400


class NotFound(ServeError):
    kind = "NotFound"
    status = 404


class NotAcceptable(ServeError):
    kind = "NotAcceptable"
    status = 406


class PayloadTooLarge(ServeError):
    kind = "PayloadTooLarge"
    status = 413


class UnsupportedMediaType(ServeError):
    kind = "UnsupportedMediaType"
    status = 415


class Conflict(ServeError):
    kind = "Conflict"
    status = 409


class InsufficientStorage(ServeError):
    """The container has no room for what was asked (a multi-model load past the memory budget)."""

    kind = "InsufficientStorage"
    status = 507


class ModelNotReady(ServeError):
    kind = "ModelNotReady"
    status = 503


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' naming the valid choice closest to a misspelt `name`, or '' when none is close.

    The one place every command, spec reader and settings check phrases its suggestion for a typo."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def users_part(error: BaseException) -> BaseException:
    """`error` (raised by the user's code) with the leading frames of smtoolkit's own, which called that code,
    cut from its traceback: what is logged for the user starts in their code. Changes `error` in place."""
    ours = str(Path(__file__).parent)
    frames = error.__traceback__
    while frames is not None and frames.tb_next is not None and frames.tb_frame.f_code.co_filename.startswith(ours):
        frames = frames.tb_next
    return error.with_traceback(frames)


def exit_code_of(error: BaseException) -> int:
    """The exit code a command ends with on `error` (the table in the module docstring)."""
    if isinstance(error, ConfigError | EntryPointError):
        return CONFIG_EXIT_CODE
    if isinstance(error, UserScriptError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 128 + signal.SIGINT
    if isinstance(error, SmtoolkitError):
        return LAUNCH_EXIT_CODE
    return INTERNAL_EXIT_CODE


def failure_text(error: BaseException) -> str:
    """`Kind: message`, the first line of a failure file; an internal error names its Python type."""
    kind = error.kind if isinstance(error, SmtoolkitError) else f"InternalError ({type(error).__name__})"
    return f"{kind}: {error}"


def write_failure_file(path: Path, text: str, max_bytes: int | None = None) -> None:
    """Write `text` (secrets masked, cut to `max_bytes` of valid UTF-8) unless the user's code already wrote its
    own reason there during this run (a launcher clears the previous run's file before it starts)."""
    from smtoolkit.logs import mask_text

    if path.exists():
        return
    data = mask_text(text).encode("utf-8")
    if max_bytes is not None:
        data = data[:max_bytes].decode("utf-8", "ignore").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def exit_on(error: BaseException, failure_file: Path | None = None, max_bytes: int | None = None) -> NoReturn:
    """How every command ends on an error: each problem as an `error: ...` line on stderr, the failure file
    when the command has one, then the exit code of the table above."""
    if isinstance(error, ConfigError):
        problems: Iterable[object] = error.problems
    else:
        problems = (error if isinstance(error, SmtoolkitError) else failure_text(error),)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr, flush=True)
    if failure_file is not None:
        try:
            write_failure_file(failure_file, failure_text(error), max_bytes)
        except OSError as exc:
            print(f"error: cannot write {failure_file}: {exc.strerror or exc}", file=sys.stderr, flush=True)
    sys.exit(exit_code_of(error))
