"""DataProcessing: InputFilter -> model -> JoinSource -> OutputFilter, record by record.

CSV rows are JSON arrays of their fields (RFC 4180, read and written by the csv module); JSON and JSON
Lines records are JSON values. Joining appends the output row to a CSV input row (`1,2,3` + `1` ->
`1,2,3,1`) and puts the output under `SageMakerOutput` of a JSON object (a non-object input becomes
`{"SageMakerInput": input, "SageMakerOutput": output}`); the join always uses the unfiltered input.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from smtoolkit.errors import SmtoolkitError
from smtoolkit.transform.jsonpath import JsonPath
from smtoolkit.transform.request import DataProcessingSpec

CSV = "text/csv"


class DataProcessingError(SmtoolkitError):
    """A record or a response that DataProcessing cannot handle; the message says which and why."""


def _decode(text: bytes, media_type: str | None, what: str) -> Any:
    try:
        string = text.decode("utf-8")
        if media_type == CSV:
            rows = list(csv.reader([string], strict=True))
            return rows[0] if rows else []
        return json.loads(string)
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise DataProcessingError(f"{what} is not valid {media_type}: {exc}") from None


def _encode(value: Any, media_type: str | None) -> bytes:
    if media_type == CSV:
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(value if isinstance(value, list) else [value])
        return out.getvalue().encode("utf-8")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def strip_terminator(record: bytes) -> bytes:
    """A Line record without its line ending (`\\n` or `\\r\\n`)."""
    if record.endswith(b"\n"):
        record = record[:-2] if record.endswith(b"\r\n") else record[:-1]
    return record


def split_response(body: bytes, count: int, accept: str | None) -> list[bytes]:
    """The response to a batch of `count` records, one item per record: its lines (CSV, JSON Lines), or for
    JSON one document per record: the whole body for one record, else lines or the items of an array."""
    if accept == "application/json" and count == 1:
        return [body]
    lines = [strip_terminator(line + b"\n") for line in strip_terminator(body).split(b"\n")] if body else []
    if len(lines) == count:
        return lines
    if accept == "application/json":
        value = _decode(body, accept, "the response")
        if isinstance(value, list) and len(value) == count:
            return [_encode(item, accept) for item in value]
    raise DataProcessingError(f"the response holds {len(lines)} lines for {count} records; expected one per record")


class DataProcessor:
    """One job's DataProcessing; `active` is False for the defaults (then bytes pass through untouched)."""

    def __init__(
        self, spec: DataProcessingSpec, content_type: str | None, accept: str | None, inclusive_end: bool = True
    ) -> None:
        self.content_type, self.accept = content_type, accept
        self.input_filter = JsonPath.compile(spec.InputFilter, inclusive_end)
        self.output_filter = JsonPath.compile(spec.OutputFilter, inclusive_end)
        self.join = spec.JoinSource == "Input"
        self.active = spec.active

    @property
    def splits_responses(self) -> bool:
        """Whether responses are taken apart record by record (a join or an OutputFilter needs it)."""
        return self.join or not self.output_filter.is_root

    def filter_input(self, record: bytes) -> tuple[bytes, Any]:
        """(what is sent for the record, the record decoded for the join)."""
        value = _decode(record, self.content_type, "an input record")
        if self.input_filter.is_root:
            return record, value
        return _encode(self.input_filter.select(value), self.content_type), value

    def process_output(self, source: Any, output: bytes) -> bytes:
        """One record's output, joined with its input when asked, then filtered."""
        result = _decode(output, self.accept, "a record of the response")
        if self.join:
            if self.content_type == CSV:
                result = list(source) + (result if isinstance(result, list) else [result])
            elif isinstance(source, dict):
                result = {**source, "SageMakerOutput": result}
            else:
                result = {"SageMakerInput": source, "SageMakerOutput": result}
        return _encode(self.output_filter.select(result), self.accept)

    def process_response(self, sources: list[Any], body: bytes) -> list[bytes]:
        outputs = split_response(body, len(sources), self.accept)
        return [self.process_output(source, output) for source, output in zip(sources, outputs, strict=True)]
