"""MetricDefinitions applied to the job's log, as the platform applies them to the CloudWatch stream.

Each line of every host's output is searched with each regex (Python `re`); the value is the first capture group
(the whole match when the regex has none) read as a float; a match that is not a number is skipped. The final
value of a metric is its last one, as in FinalMetricDataList.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MetricSeries:
    name: str
    values: list[float] = field(default_factory=list)
    last_time: float = 0.0

    @property
    def last(self) -> float:
        return self.values[-1]


class MetricCollector:
    """Thread-safe: the host relays feed it lines as they come."""

    def __init__(self, definitions: Sequence[tuple[str, str]]) -> None:
        self._patterns = [(name, re.compile(regex)) for name, regex in definitions]
        self._series = {name: MetricSeries(name) for name, _ in definitions}
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if match is None:
                continue
            text = match.group(1) if pattern.groups else match.group(0)
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                with self._lock:
                    series = self._series[name]
                    series.values.append(value)
                    series.last_time = time.time()

    def add(self, name: str, value: float, timestamp: float) -> None:
        """A value from the job's metric files (SAGEMAKER_METRICS_DIRECTORY), after those from the log."""
        with self._lock:
            series = self._series.setdefault(name, MetricSeries(name))
            series.values.append(value)
            series.last_time = max(series.last_time, timestamp)

    @property
    def series(self) -> list[MetricSeries]:
        with self._lock:
            return [series for series in self._series.values() if series.values]

    @property
    def defined(self) -> bool:
        return bool(self._series)

    def final_metric_data(self) -> list[dict[str, Any]]:
        """DescribeTrainingJob's FinalMetricDataList."""
        return [
            {"MetricName": item.name, "Value": item.last, "Timestamp": _iso(item.last_time)} for item in self.series
        ]

    def table(self) -> str:
        """One row per defined metric: last, min, max and how many values were seen."""
        header = ("metric", "last", "min", "max", "count")
        rows = []
        for name in self._series:
            item = self._series[name]
            if item.values:
                numbers = (item.last, min(item.values), max(item.values))
                rows.append((name, *(f"{value:.6g}" for value in numbers), str(len(item.values))))
            else:
                rows.append((name, "-", "-", "-", "0"))
        widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in (header, *rows)
        ]
        return "\n".join(line.rstrip() for line in lines)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
