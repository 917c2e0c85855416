"""TFRecord framing: `uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)`.

Integers are little-endian; the CRC is CRC-32C (Castagnoli), masked as TensorFlow does:
`((crc >> 15) | (crc << 17)) + 0xa282ead8` modulo 2**32. CRC-32C comes from `google-crc32c` (C, with its own
pure-Python fallback).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple

import google_crc32c

_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
HEADER_SIZE = _LENGTH.size + _CRC.size
FOOTER_SIZE = _CRC.size
_MASK_DELTA = 0xA282EAD8


class TFRecordError(ValueError):
    """A TFRecord stream is truncated or a checksum does not match; the message names the offset."""


class FramedRecord(NamedTuple):
    """One record: `framed` as it is in the stream (header, data, footer), and its `data`."""

    framed: bytes
    data: bytes


def crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record, framed."""
    length = _LENGTH.pack(len(data))
    return length + _CRC.pack(masked_crc32c(length)) + data + _CRC.pack(masked_crc32c(data))


def frame_all(records: Iterable[bytes]) -> bytes:
    return b"".join(frame(record) for record in records)


def write_record(stream: BinaryIO, data: bytes) -> int:
    """Write one framed record; returns the bytes written."""
    return stream.write(frame(data))


def _read_exactly(stream: BinaryIO, size: int, offset: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise TFRecordError(f"TFRecord: truncated {what} at offset {offset} (needs {size} bytes, got {len(data)})")
    return data


def read_framed(stream: BinaryIO, check_crc: bool = True) -> Iterator[FramedRecord]:
    """The records of a stream, read one at a time (memory: one record); TFRecordError names the offset."""
    offset = 0
    while True:
        header = stream.read(HEADER_SIZE)
        if not header:
            return
        if len(header) != HEADER_SIZE:
            raise TFRecordError(f"TFRecord: truncated header at offset {offset}")
        length_bytes, (length_crc,) = header[: _LENGTH.size], _CRC.unpack_from(header, _LENGTH.size)
        if check_crc and masked_crc32c(length_bytes) != length_crc:
            raise TFRecordError(f"TFRecord: length checksum mismatch at offset {offset}")
        (length,) = _LENGTH.unpack(length_bytes)
        body = _read_exactly(stream, length + FOOTER_SIZE, offset + HEADER_SIZE, "record data")
        data = body[:length]
        if check_crc and masked_crc32c(data) != _CRC.unpack_from(body, length)[0]:
            raise TFRecordError(f"TFRecord: data checksum mismatch in the record at offset {offset}")
        yield FramedRecord(header + body, data)
        offset += HEADER_SIZE + len(body)


def read_records(stream: BinaryIO, check_crc: bool = True) -> Iterator[bytes]:
    """The data of each record of a stream."""
    return (record.data for record in read_framed(stream, check_crc))


def iter_records(buffer: bytes, check_crc: bool = True) -> Iterator[bytes]:
    """The data of each record of an in-memory buffer."""
    import io

    with io.BytesIO(buffer) as stream:
        yield from read_records(stream, check_crc)
