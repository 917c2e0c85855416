"""A multi-host job's outcome from every host's report: which rank failed first, where, and why."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smtoolkit.launch.report import failure_reason
from smtoolkit.proc.supervise import Outcome

Message = dict[str, Any]
STDERR_CHARS = 2000


def rank_errors(directory: Path) -> list[Message]:
    """The error records this host's ranks wrote (rank_main), oldest first."""
    records = []
    for path in sorted(directory.glob("rank-*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda record: float(record.get("time", 0.0)))


def host_report(host: str, outcome: Outcome | None, directory: Path) -> Message:
    """What this host tells the master once its engine has ended (MPI workers: no engine of their own)."""
    report: Message = {"host": host, "exit_code": 0 if outcome is None else outcome.exit_code}
    report["failures"] = rank_errors(directory)
    if outcome is not None and outcome.exit_code != 0:
        report["stderr"] = outcome.stderr_tail.decode("utf-8", "replace")[-STDERR_CHARS:]
        report["signal"] = outcome.signal
    if outcome is None and report["failures"]:
        report["exit_code"] = 1
    return report


def decide(reports: Mapping[str, Message], master_outcome: Outcome | None = None) -> Message:
    """ok when every host's engine succeeded; else the earliest rank error of any host, or the first host that
    failed without one (killed, lost, silent)."""
    failing = [report for report in reports.values() if report.get("exit_code") != 0]
    if master_outcome is not None and master_outcome.exit_code != 0 and not failing:
        failing = [{"host": "", "exit_code": master_outcome.exit_code, "failures": []}]
    if not failing:
        return {"ok": True, "exit_code": 0}
    records = sorted(
        (record for report in reports.values() for record in report.get("failures", [])),
        key=lambda record: float(record.get("time", 0.0)),
    )
    if records:
        first = records[0]
        origin = reports.get(first.get("host", ""), {})
        code = int(origin.get("exit_code") or 1) or 1
        return {
            "ok": False,
            "exit_code": code,
            "rank": first.get("rank"),
            "host": first.get("host"),
            "error": first["error"],
        }
    report = next((r for r in failing if not r.get("lost") and not r.get("missing")), failing[0])
    if report.get("missing"):
        error = f"host {report['host']} sent no report within {report['missing']:g} s"
    elif report.get("lost"):
        error = f"the launcher on host {report['host']} went away"
    else:
        error = report.get("stderr") or f"exit code {report['exit_code']}"
    return {"ok": False, "exit_code": int(report["exit_code"]), "rank": None, "host": report["host"], "error": error}


def failure_message(verdict: Message, argv: Sequence[str], exit_codes: Mapping[str, Any] | None = None) -> str:
    """The failure file: kind, exit code, who failed first, the command, then that rank's error."""
    if verdict.get("rank") is not None:
        where = f"rank {verdict['rank']} on host {verdict['host']}"
    else:
        where = f"host {verdict.get('host') or '(unknown)'}"
    error = str(verdict.get("error", "")).rstrip()
    code = int(verdict["exit_code"])
    message = failure_reason(
        "UserScriptError", code, argv, error, f"{where} failed first", f"the whole error of {where}"
    )
    if exit_codes:
        codes = ", ".join(f"{host}: {code}" for host, code in sorted(exit_codes.items()))
        message += f"\n\nexit codes by host: {codes}"
    return message + "\n"
