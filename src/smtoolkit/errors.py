"""One hierarchy of errors. Each names what was wrong and where; the CLI and the HTTP app translate them."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn


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
    exit_code = 1


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


def exit_on(error: SmtoolkitError) -> NoReturn:
    """How every command ends on one of our errors: each problem as an `error: ...` line on stderr, then exit 2
    for a configuration error (the invocation is wrong, as click's usage errors) and 1 for anything else."""
    problems = error.problems if isinstance(error, ConfigError) else (error,)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr, flush=True)
    sys.exit(2 if isinstance(error, ConfigError) else 1)
