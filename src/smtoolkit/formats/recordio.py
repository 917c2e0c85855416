"""RecordIO framing (MXNet/dmlc), as SageMaker's RecordIO and RecordIO-protobuf payloads use it.

Each part is `magic | lrecord | data | padding to 4 bytes`, little-endian uint32s, where
`lrecord = cflag << 29 | length`. cflag 0 is a whole record; 1, 2 and 3 start, continue and end one
that the writer split where the magic number appeared at a 4-byte-aligned offset of the data (the magic
itself is dropped there and put back by the reader).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
MAX_LENGTH = (1 << 29) - 1
_HEADER = struct.Struct("<II")
WHOLE, START, MIDDLE, END = 0, 1, 2, 3


def _padding(length: int) -> int:
    return -length % 4


def _part(cflag: int, data: bytes) -> bytes:
    return _HEADER.pack(MAGIC, cflag << 29 | len(data)) + data + b"\0" * _padding(len(data))


def _aligned_magic_offsets(payload: bytes) -> list[int]:
    offsets = []
    found = payload.find(MAGIC_BYTES)
    while found != -1:
        if found % 4 == 0:
            offsets.append(found)
        found = payload.find(MAGIC_BYTES, found + 1)
    return offsets


def frame(payload: bytes) -> bytes:
    """One record, framed; split into parts where the magic number sits at an aligned offset."""
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"a RecordIO record holds at most {MAX_LENGTH} bytes, got {len(payload)}")
    offsets = _aligned_magic_offsets(payload)
    if not offsets:
        return _part(WHOLE, payload)
    starts = [0, *(offset + 4 for offset in offsets)]
    ends = [*offsets, len(payload)]
    flags = [START] + [MIDDLE] * (len(offsets) - 1) + [END]
    return b"".join(_part(flag, payload[start:end]) for flag, start, end in zip(flags, starts, ends, strict=True))


def frame_all(payloads: Iterable[bytes]) -> bytes:
    return b"".join(frame(payload) for payload in payloads)


def iter_records(buffer: bytes) -> Iterator[bytes]:
    """The records of a framed buffer, multi-part records joined; ValueError naming the bad offset."""
    view = memoryview(buffer)
    position, parts = 0, list[bytes]()
    while position < len(view):
        offset = position
        if len(view) - position < _HEADER.size:
            raise ValueError(f"RecordIO: truncated header at offset {position}")
        magic, lrecord = _HEADER.unpack_from(view, position)
        if magic != MAGIC:
            raise ValueError(f"RecordIO: bad magic number {magic:#010x} at offset {position}")
        cflag, length = lrecord >> 29, lrecord & MAX_LENGTH
        start = position + _HEADER.size
        if start + length > len(view):
            raise ValueError(f"RecordIO: record at offset {position} needs {length} bytes, buffer ends first")
        data = bytes(view[start : start + length])
        position = start + length + _padding(length)
        if cflag == WHOLE and not parts:
            yield data
        elif cflag == START and not parts:
            parts.append(data)
        elif cflag in (MIDDLE, END) and parts:
            parts.append(data)
            if cflag == END:
                yield MAGIC_BYTES.join(parts)
                parts = []
        else:
            raise ValueError(f"RecordIO: unexpected continuation flag {cflag} at offset {offset}")
    if parts:
        raise ValueError("RecordIO: the buffer ends inside a multi-part record")


class FramedRecord(NamedTuple):
    """One record read from a stream: `framed` exactly as it is there (every part, headers and padding), its
    `data` (multi-part records joined), and `padding`, the zero bytes that end `framed`."""

    framed: bytes
    data: bytes
    padding: int

    @property
    def unpadded(self) -> bytes:
        """`framed` without its trailing padding."""
        return self.framed[: len(self.framed) - self.padding]


def _read_exactly(stream: BinaryIO, size: int, offset: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError(f"RecordIO: truncated {what} at offset {offset} (needs {size} bytes, got {len(data)})")
    return data


def read_framed(stream: BinaryIO) -> Iterator[FramedRecord]:
    """The records of a stream, read one part at a time (memory: one record); ValueError naming the offset.

    The last record may lack its trailing padding (as a SingleRecord payload does)."""
    position, framed, parts = 0, list[bytes](), list[bytes]()
    while True:
        header = stream.read(_HEADER.size)
        if not header:
            break
        if len(header) != _HEADER.size:
            raise ValueError(f"RecordIO: truncated header at offset {position}")
        magic, lrecord = _HEADER.unpack(header)
        if magic != MAGIC:
            raise ValueError(f"RecordIO: bad magic number {magic:#010x} at offset {position}")
        cflag, length = lrecord >> 29, lrecord & MAX_LENGTH
        data = _read_exactly(stream, length, position + _HEADER.size, "record data")
        padding = stream.read(_padding(length))
        if padding.strip(b"\0"):
            raise ValueError(f"RecordIO: non-zero padding after the record at offset {position}")
        if cflag > END or (cflag in (WHOLE, START)) == bool(parts):
            raise ValueError(f"RecordIO: unexpected continuation flag {cflag} at offset {position}")
        framed += (header, data, padding)
        position += _HEADER.size + length + len(padding)
        if cflag == WHOLE:
            yield FramedRecord(b"".join(framed), data, len(padding))
            framed = []
        elif cflag in (START, MIDDLE):
            parts.append(data)
        else:
            parts.append(data)
            yield FramedRecord(b"".join(framed), MAGIC_BYTES.join(parts), len(padding))
            framed, parts = [], []
    if parts:
        raise ValueError("RecordIO: the stream ends inside a multi-part record")
