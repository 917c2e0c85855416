"""Metrics as the platform's metrics file: `log_metric("train:loss", 0.25, step=10)` appends one JSON line
`{"MetricName", "Value", "Timestamp", "Step"}` to `<SAGEMAKER_METRICS_DIRECTORY>/<pid>.json`.

This is the format and file naming of the SageMaker Python SDK's metrics file writer: Timestamp in milliseconds
since the epoch, Step only when given, one file per process. When the variable is not set (a job started outside
the platform and outside `smtoolkit local`) nothing is written, and the first call says so in the log. Values are
checked before anything is written, so a bad call fails where it is made, not later in the platform.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import SupportsFloat

log = logging.getLogger(__name__)

DIRECTORY_VARIABLE = "SAGEMAKER_METRICS_DIRECTORY"
MAX_NAME_LENGTH = 255
# The platform's window for a metric's time: two weeks back to two hours ahead.
PAST_LIMIT_S = 14 * 24 * 3600
FUTURE_LIMIT_S = 2 * 3600
_warned_unset = False


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    timestamp: float  # seconds since the epoch
    step: int | None = None


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"metric name {name!r}: expected a non-empty string such as 'train:loss'")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"metric name {name[:40]!r}...: {len(name)} characters, at most {MAX_NAME_LENGTH} allowed")
    if not name.isprintable():
        raise ValueError(f"metric name {name!r}: control characters (newline, tab...) are not allowed")
    return name


def _check_value(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, SupportsFloat):  # numpy and torch scalars have __float__
        raise ValueError(f"metric {name!r}: value {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric {name!r}: value {number} is not allowed; expected a finite number (no NaN or inf)")
    return number


def _check_step(name: str, step: object) -> int | None:
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"metric {name!r}: step {step!r}: expected a whole number >= 0, or None")
    return step


def _check_timestamp(name: str, timestamp: float | datetime.datetime | None, now: float) -> float:
    if timestamp is None:
        return now
    seconds = timestamp.timestamp() if isinstance(timestamp, datetime.datetime) else float(timestamp)
    if not math.isfinite(seconds) or not now - PAST_LIMIT_S <= seconds <= now + FUTURE_LIMIT_S:
        raise ValueError(
            f"metric {name!r}: timestamp {timestamp!r}: expected seconds since the epoch (or a datetime) between "
            "two weeks ago and two hours from now"
        )
    return seconds


def metric_point(
    name: str, value: float, step: int | None = None, timestamp: float | datetime.datetime | None = None
) -> MetricPoint:
    """A checked metric point; ValueError naming what is wrong and what is allowed."""
    checked = _check_name(name)
    seconds = _check_timestamp(checked, timestamp, time.time())
    return MetricPoint(checked, _check_value(checked, value), seconds, _check_step(checked, step))


def record(point: MetricPoint) -> dict[str, object]:
    line: dict[str, object] = {"MetricName": point.name, "Value": point.value, "Timestamp": point.timestamp * 1000}
    if point.step is not None:
        line["Step"] = point.step
    return line


def log_metric(
    name: str, value: float, step: int | None = None, timestamp: float | datetime.datetime | None = None
) -> bool:
    """Record one value of a metric for the platform; returns whether it was written (see the module doc)."""
    global _warned_unset
    point = metric_point(name, value, step, timestamp)
    directory = os.environ.get(DIRECTORY_VARIABLE)
    if not directory:
        if not _warned_unset:
            _warned_unset = True
            log.info("%s is not set: metrics from log_metric are not recorded outside a job", DIRECTORY_VARIABLE)
        return False
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    # One short write to a file opened for appending: lines from threads of this process never interleave.
    with (folder / f"{os.getpid()}.json").open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(record(point)) + "\n")
    return True


def read_metric_files(folder: Path) -> list[MetricPoint]:
    """Every well-formed line of every `*.json` file in `folder`, in file then line order; others are logged."""
    points: list[MetricPoint] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                seconds = float(item["Timestamp"]) / 1000
                points.append(MetricPoint(item["MetricName"], float(item["Value"]), seconds, item.get("Step")))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("%s:%d: not a metric record (%s): %.80s", path, number, exc, line)
    return points
