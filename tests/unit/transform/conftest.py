"""Helpers for the transform unit tests: settings from a few fields, and every batch of a buffer."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from smtoolkit.transform.batch import Batch, Batcher
from smtoolkit.transform.filters import DataProcessor
from smtoolkit.transform.request import load_request
from smtoolkit.transform.settings import JobSettings, LocalOptions, resolve


def job_settings(
    split: str = "Line",
    strategy: str = "MultiRecord",
    payload: int = 6,
    local: LocalOptions | None = None,
    **extra: Any,
) -> JobSettings:
    flags: dict[str, Any] = {
        "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "in"}}, "SplitType": split},
        "TransformOutput": {"S3OutputPath": "out"},
        "BatchStrategy": strategy,
        "MaxPayloadInMB": payload,
    }
    for key, value in extra.items():
        flags[key] = {**flags.get(key, {}), **value} if isinstance(value, dict) else value
    return resolve(load_request(None, "test", flags), None, local)


def batches(data: bytes, settings: JobSettings, limit: int | None = None) -> list[Batch]:
    """Every batch of `data`; `limit` overrides the payload limit in bytes (to test small limits)."""
    processor = DataProcessor(settings.data_processing, settings.content_type, settings.accept)
    batcher = Batcher(settings, processor)
    if limit is not None:
        batcher.limit = limit

    @contextlib.contextmanager
    def opener() -> Any:
        with io.BytesIO(data) as stream:
            yield stream

    with opener() as stream:
        return list(batcher.batches(stream, opener))


def bodies(found: list[Batch]) -> list[bytes]:
    return [b"".join(batch.body()) if callable(batch.body) else bytes(batch.body) for batch in found]
