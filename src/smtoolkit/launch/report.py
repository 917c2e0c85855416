"""The job's outcome for the platform: exit code, output/success, output/failure (first 1024 chars count)."""

from __future__ import annotations

import logging
import shlex
import signal
from collections.abc import Sequence
from pathlib import Path

from smtoolkit.errors import SmtoolkitError
from smtoolkit.logs import mask_argv, mask_text
from smtoolkit.proc.supervise import Outcome

logger = logging.getLogger(__name__)

FAILURE_REASON_CHARS = 1024
COMMAND_CHARS = 200


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def outcome_message(outcome: Outcome, argv: Sequence[str]) -> str:
    """What happened, most useful first: kind, exit code, why, command, then the last stderr lines."""
    lines = ["UserScriptError:" if not outcome.oom_killed else "OutOfMemoryError:", f"ExitCode {outcome.exit_code}"]
    if outcome.oom_killed:
        lines.append('ExtraInfo "OutOfMemory: killed by SIGKILL and the container\'s cgroup recorded an OOM kill"')
    elif outcome.escalated:
        lines.append('ExtraInfo "did not stop within the grace period after SIGTERM and was killed"')
    elif outcome.signal is not None:
        lines.append(f'ExtraInfo "killed by {_signal_name(outcome.signal)}"')
    command = shlex.join(mask_argv(argv))
    if len(command) > COMMAND_CHARS:
        command = command[: COMMAND_CHARS - 3] + "..."
    lines.append(f'Command "{command}"')
    head = "\n".join(lines)
    tail = outcome.stderr_tail.decode("utf-8", "replace").rstrip()
    room = FAILURE_REASON_CHARS - len(head) - len('\nErrorMessage ""')
    summary = tail[-room:] if room > 0 else ""
    message = f'{head}\nErrorMessage "{summary}"'
    if len(tail) > len(summary):
        message += f"\n\n--- the last {len(tail)} characters of stderr ---\n{tail}"
    return message


def error_message(error: BaseException) -> str:
    kind = error.kind if isinstance(error, SmtoolkitError) else f"InternalError ({type(error).__name__})"
    return f"{kind}: {error}"


def write_failure(failure_file: Path, message: str) -> None:
    """Write the failure file unless the user's code already wrote its own reason."""
    if failure_file.exists():
        logger.info("keeping the failure reason the job wrote in %s", failure_file)
        return
    failure_file.parent.mkdir(parents=True, exist_ok=True)
    failure_file.write_text(mask_text(message), encoding="utf-8")


def write_success(success_file: Path) -> None:
    success_file.parent.mkdir(parents=True, exist_ok=True)
    success_file.touch()
