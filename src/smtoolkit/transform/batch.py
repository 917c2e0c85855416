"""BatchStrategy: records into request bodies. Files are never mixed in one body.

MultiRecord packs whole records, in order, while the body stays within MaxPayloadInMB (MiB, byte-exact, so a
body may be exactly the limit); SingleRecord sends one record per request. A record over the limit fails its
file. MaxPayloadInMB=0 has no limit: a body streams (HTTP chunked) from the file, reopened for each try, so a
MultiRecord (or SplitType=None) file is one request however large it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from smtoolkit.transform.filters import DataProcessor, strip_terminator
from smtoolkit.transform.settings import JobSettings
from smtoolkit.transform.split import read_whole, split_records, too_large

Opener = Callable[[], contextlib.AbstractContextManager[BinaryIO]]
STREAM_CHUNK = 1024 * 1024
READ_STEP = 1024 * 1024
Body = bytes | bytearray | Callable[[], Iterator[bytes]]


@dataclass
class Batch:
    """One request: `body` bytes, or a function giving the body's chunks (streamed, chunked encoding)."""

    seq: int
    body: Body
    records: int
    size: int
    sources: list[Any] | None = field(default=None, repr=False)  # decoded inputs, for DataProcessing

    def discard(self) -> None:
        """Drop the body and the decoded inputs once answered, before the batch's window slot can be reused."""
        self.body, self.sources = b"", None


def _fill(stream: BinaryIO, view: memoryview) -> int:
    """Read into `view` until it is full or the stream ends; the number of bytes read. Each read asks for at
    most READ_STEP bytes: a stream without its own readinto (GzipFile) reads that much, then copies it."""
    readinto = getattr(stream, "readinto", None)
    filled = 0
    while filled < len(view):
        part = view[filled : filled + READ_STEP]
        if readinto is not None:
            got = readinto(part) or 0
        else:
            data = stream.read(len(part))
            got = len(data)
            part[:got] = data
        if not got:
            break
        filled += got
    return filled


def _chunked(body: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: iter((body,))


def pack_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[bytearray, int]]:
    """MultiRecord for Line without DataProcessing, in big reads: (body, records) cut at the last newline
    that keeps the body within `limit`; the same bodies as packing line by line, much faster.

    Each body is its own buffer, read into in place and never copied: a batch costs `limit` bytes (plus the
    start of its last line, carried to the next body), whatever the stream."""
    carry = b""  # the start of a line, shorter than the limit, with no newline
    while True:
        body = bytearray(limit + 1)  # the byte past the limit says whether the stream goes on
        body[: len(carry)] = carry
        with memoryview(body) as view:
            filled = len(carry) + _fill(stream, view[len(carry) :])
        if filled <= limit:  # the end of the stream: what is left fits
            if filled:
                del body[filled:]
                yield body, body.count(b"\n") + (not body.endswith(b"\n"))
            return
        cut = body.rfind(b"\n", 0, limit)
        if cut == -1:
            raise too_large(limit + 1, limit)
        with memoryview(body) as view:
            carry = bytes(view[cut + 1 :])
        del body[cut + 1 :]
        yield body, body.count(b"\n")
        del body  # the batch's now: not kept while the next one is read


def pack(records: Iterable[tuple[bytes, Any]], limit: int) -> Iterator[tuple[list[bytes], list[Any]]]:
    """Greedy MultiRecord packing of (bytes, source) pairs: whole records while the total is <= limit."""
    parts: list[bytes] = []
    sources: list[Any] = []
    size = 0
    for raw, source in records:
        if len(raw) > limit:
            raise too_large(len(raw), limit)
        if size + len(raw) > limit and parts:
            yield parts, sources
            parts, sources, size = [], [], 0
        parts.append(raw)
        sources.append(source)
        size += len(raw)
    if parts:
        yield parts, sources


class Batcher:
    """The batches of one file, from the job's SplitType, BatchStrategy, MaxPayloadInMB and DataProcessing."""

    def __init__(self, settings: JobSettings, processor: DataProcessor) -> None:
        self.settings, self.processor = settings, processor
        self.limit = settings.max_payload_bytes

    def _records(self, stream: BinaryIO, single: bool) -> Iterator[tuple[bytes, Any]]:
        """(bytes to send, decoded input or None) per record; DataProcessing's InputFilter applied."""
        settings = self.settings
        split = split_records(stream, settings.split_type, settings.local.single_record_framing, self.limit)
        for record in split:
            body = record.single if single else record.raw
            if not self.processor.active:
                yield body, None
                continue
            line = settings.split_type == "Line"
            sent, source = self.processor.filter_input(strip_terminator(record.raw) if line else record.raw)
            yield (sent + b"\n" if line else sent), source

    def _streamed(self, opener: Opener) -> Batch:
        batch = Batch(0, b"", 0, 0)

        def chunks() -> Iterator[bytes]:
            counting = self.settings.split_type != "None"
            batch.records, batch.size = (0 if counting else 1), 0
            with opener() as stream:
                if counting:
                    pieces: Iterator[bytes] = (record.raw for record in split_records(stream, self.settings.split_type))
                else:
                    pieces = iter(lambda: stream.read(STREAM_CHUNK), b"")
                pending: list[bytes] = []
                pending_size = 0
                for piece in pieces:
                    batch.records += counting
                    batch.size += len(piece)
                    pending.append(piece)
                    pending_size += len(piece)
                    if pending_size >= STREAM_CHUNK:
                        yield b"".join(pending)
                        pending, pending_size = [], 0
                if pending:
                    yield b"".join(pending)

        batch.body = chunks
        return batch

    def batches(self, stream: BinaryIO, opener: Opener) -> Iterator[Batch]:
        """The file's batches in order; with MaxPayloadInMB=0 every body is sent chunked."""
        for batch in self._batches(stream, opener):
            if self.limit is None and isinstance(batch.body, bytes):
                batch.body = _chunked(batch.body)
            yield batch

    def _batches(self, stream: BinaryIO, opener: Opener) -> Iterator[Batch]:
        settings, processor, limit = self.settings, self.processor, self.limit
        single = settings.batch_strategy == "SingleRecord"
        if settings.split_type == "None":
            if limit is None and not processor.active:
                yield self._streamed(opener)
                return
            body = read_whole(stream, limit) if limit else stream.read()
            sources = None
            if processor.active:
                body, source = processor.filter_input(body)
                sources = [source]
            yield Batch(0, body, 1, len(body), sources)
        elif single:
            for seq, (body, source) in enumerate(self._records(stream, single=True)):
                if limit and len(body) > limit:
                    raise too_large(len(body), limit)
                yield Batch(seq, body, 1, len(body), None if source is None else [source])
        elif limit is None and not processor.active:
            yield self._streamed(opener)
        elif settings.split_type == "Line" and not processor.active and limit:
            for seq, (buffer, count) in enumerate(pack_lines(stream, limit)):
                yield Batch(seq, buffer, count, len(buffer))
                del buffer  # dropped by the batch once answered; a reference here would outlive the slot
        else:
            for seq, (parts, sources) in enumerate(pack(self._records(stream, single=False), limit or 1 << 62)):
                body = b"".join(parts)
                yield Batch(seq, body, len(parts), len(body), sources if processor.active else None)
