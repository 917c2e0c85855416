"""The job's outcome for the platform: exit code, output/success, output/failure (first 1024 chars count)."""

from __future__ import annotations

import shlex
import signal
from collections.abc import Sequence
from pathlib import Path

from smtoolkit.logs import mask_argv
from smtoolkit.proc.supervise import Outcome

FAILURE_REASON_CHARS = 1024
COMMAND_CHARS = 200


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def outcome_message(outcome: Outcome, argv: Sequence[str]) -> str:
    """What happened to one process, most useful first: kind, exit code, why, command, then stderr's end."""
    if outcome.oom_killed:
        extra: str | None = "OutOfMemory: killed by SIGKILL and the container's cgroup recorded an OOM kill"
    elif outcome.escalated:
        extra = "did not stop within the grace period after SIGTERM and was killed"
    else:
        extra = None if outcome.signal is None else f"killed by {_signal_name(outcome.signal)}"
    tail = outcome.stderr_tail.decode("utf-8", "replace").rstrip()
    kind = "OutOfMemoryError" if outcome.oom_killed else "UserScriptError"
    return failure_reason(kind, outcome.exit_code, argv, tail, extra, f"the last {len(tail)} characters of stderr")


def failure_reason(
    kind: str, exit_code: int, argv: Sequence[str], error: str, extra: str | None, whole_title: str
) -> str:
    """The one layout of a failure file: `Kind:`, `ExitCode N`, `ExtraInfo "..."`, `Command "..."` (secrets
    masked, cut to COMMAND_CHARS), `ErrorMessage "..."` (the end of `error`, so that the whole fits in the
    FAILURE_REASON_CHARS the platform shows), then, when cut, the whole error under `--- whole_title ---`."""
    command = shlex.join(mask_argv(list(argv)))
    if len(command) > COMMAND_CHARS:
        command = command[: COMMAND_CHARS - 3] + "..."
    lines = [f"{kind}:", f"ExitCode {exit_code}"]
    if extra:
        lines.append(f'ExtraInfo "{extra}"')
    lines.append(f'Command "{command}"')
    head = "\n".join(lines)
    room = FAILURE_REASON_CHARS - len(head) - len('\nErrorMessage ""')
    summary = error[-room:] if room > 0 else ""
    message = f'{head}\nErrorMessage "{summary}"'
    if len(error) > len(summary):
        message += f"\n\n--- {whole_title} ---\n{error}"
    return message


def write_success(success_file: Path) -> None:
    success_file.parent.mkdir(parents=True, exist_ok=True)
    success_file.touch()
