"""smtoolkit.log_metric: the platform's metrics file format, and the refusals for values it would not take."""

from __future__ import annotations

import datetime
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pytest

from smtoolkit import log_metric
from smtoolkit.metricsfile import DIRECTORY_VARIABLE, read_metric_files


@pytest.fixture
def metrics_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "metrics"
    monkeypatch.setenv(DIRECTORY_VARIABLE, str(folder))
    return folder


def test_lines_in_the_platforms_format(metrics_dir: Path) -> None:
    before = time.time() * 1000
    assert log_metric("train:loss", 0.5, step=3)
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert log_metric("validation:acc", 1, timestamp=time.time() - 60)
    lines = [json.loads(line) for line in (metrics_dir / f"{os.getpid()}.json").read_text().splitlines()]
    assert set(lines[0]) == {"MetricName", "Value", "Timestamp", "Step"}
    assert lines[0]["MetricName"] == "train:loss" and lines[0]["Value"] == 0.5 and lines[0]["Step"] == 3
    assert before <= lines[0]["Timestamp"] <= time.time() * 1000
    assert "Step" not in lines[1] and lines[1]["Value"] == 1.0
    points = read_metric_files(metrics_dir)
    assert [(p.name, p.value, p.step) for p in points] == [("train:loss", 0.5, 3), ("validation:acc", 1.0, None)]
    assert abs(points[0].timestamp * 1000 - lines[0]["Timestamp"]) < 1 and when.year == 2026


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (("", 1.0), "expected a non-empty string"),
        (("x" * 256, 1.0), "at most 255"),
        (("loss\n", 1.0), "control characters"),
        (("loss", math.nan), "finite number"),
        (("loss", math.inf), "finite number"),
        (("loss", "0.5"), "is not a number"),
        (("loss", True), "is not a number"),
        (("loss", 1.0, -1), "step -1: expected a whole number >= 0"),
        (("loss", 1.0, 1.5), "step 1.5"),
        (("loss", 1.0, None, time.time() - 15 * 24 * 3600), "between two weeks ago and two hours from now"),
    ],
)
def test_bad_calls_are_refused_before_writing(metrics_dir: Path, call: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        log_metric(*call)
    assert not metrics_dir.exists()


def test_without_the_variable_nothing_is_written(tmp_path: Path) -> None:
    assert log_metric("loss", 1.0) is False
    with pytest.raises(ValueError, match="finite"):
        log_metric("loss", math.nan)  # still checked, so that a bad call fails in a laptop run too


def test_reading_skips_lines_that_are_not_records(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "1.json").write_text('{"MetricName": "a", "Value": 2, "Timestamp": 1000}\nnot json\n{"Value": 1}\n')
    assert [(p.name, p.value, p.timestamp) for p in read_metric_files(tmp_path)] == [("a", 2.0, 1.0)]
    assert "1.json:2: not a metric record" in caplog.text and "1.json:3" in caplog.text
