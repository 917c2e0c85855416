"""SplitType: a file's stream as records, read one at a time (memory: one record).

Every record has `raw`, its bytes exactly as in the file (what MultiRecord concatenates), and `single`,
what SingleRecord sends: a Line record as it is (its `\\n` included); a RecordIO record without its
trailing padding (the API: "padding is removed if the value of BatchStrategy is set to SingleRecord"),
header kept; a TFRecord record framed. With framing "payload", SingleRecord sends only the data of a
RecordIO or TFRecord record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from smtoolkit.errors import SmtoolkitError
from smtoolkit.formats import recordio, tfrecord
from smtoolkit.transform.settings import MEBIBYTE, SingleRecordFraming


class SplitError(SmtoolkitError):
    """The file cannot be split as asked (bad framing, a record over the payload limit)."""


class Record(NamedTuple):
    raw: bytes
    single: bytes


def too_large(size: int, limit: int) -> SplitError:
    return SplitError(
        f"a record of {size} bytes or more is larger than MaxPayloadInMB={limit // MEBIBYTE} ({limit} bytes); "
        "raise MaxPayloadInMB (0 sends chunked requests of any size)"
    )


def split_lines(stream: BinaryIO, limit: int | None) -> Iterator[Record]:
    """Lines, each with its `\\n` (the last one may have none); a line longer than `limit` is an error."""
    if limit is None:
        for line in stream:
            yield Record(line, line)
        return
    while line := stream.readline(limit + 1):
        if len(line) > limit:
            raise too_large(len(line), limit)
        yield Record(line, line)


def split_recordio(stream: BinaryIO, framing: SingleRecordFraming) -> Iterator[Record]:
    try:
        for record in recordio.read_framed(stream):
            yield Record(record.framed, record.data if framing == "payload" else record.unpadded)
    except ValueError as exc:
        raise SplitError(str(exc)) from None


def split_tfrecord(stream: BinaryIO, framing: SingleRecordFraming) -> Iterator[Record]:
    try:
        for record in tfrecord.read_framed(stream):
            yield Record(record.framed, record.data if framing == "payload" else record.framed)
    except tfrecord.TFRecordError as exc:
        raise SplitError(str(exc)) from None


def split_records(
    stream: BinaryIO, split_type: str, framing: SingleRecordFraming = "framed", limit: int | None = None
) -> Iterator[Record]:
    """The records of a Line, RecordIO or TFRecord stream (SplitType None is handled by batch.py)."""
    if split_type == "Line":
        return split_lines(stream, limit)
    if split_type == "RecordIO":
        return split_recordio(stream, framing)
    if split_type == "TFRecord":
        return split_tfrecord(stream, framing)
    raise SplitError(f"SplitType {split_type!r} has no records; expected Line, RecordIO or TFRecord")


def read_whole(stream: BinaryIO, limit: int) -> bytes:
    """A SplitType=None file as one body; an error when it is over `limit`."""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(len(body), limit)
    return body
