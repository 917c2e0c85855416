"""TFRecord framing: CRC-32C check value, masking, framing, and every kind of damage detected."""

from __future__ import annotations

import io
import struct

import pytest

from smtoolkit.formats.tfrecord import (
    TFRecordError,
    crc32c,
    frame,
    frame_all,
    iter_records,
    masked_crc32c,
    read_framed,
    write_record,
)


def test_crc32c_check_value():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue's check value


def test_masking_follows_tensorflow():
    crc = crc32c(b"abc")
    assert masked_crc32c(b"abc") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_frame_layout():
    framed = frame(b"hello")
    assert framed[:8] == struct.pack("<Q", 5)
    assert framed[8:12] == struct.pack("<I", masked_crc32c(struct.pack("<Q", 5)))
    assert framed[12:17] == b"hello"
    assert framed[17:] == struct.pack("<I", masked_crc32c(b"hello"))


def test_round_trip_and_framed_bytes():
    records = [b"", b"a", b"\x00" * 1000, bytes(range(256))]
    buffer = frame_all(records)
    assert list(iter_records(buffer)) == records
    framed = list(read_framed(io.BytesIO(buffer)))
    assert b"".join(record.framed for record in framed) == buffer
    out = io.BytesIO()
    assert write_record(out, b"x") == len(frame(b"x"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:5], "truncated header at offset 0"),
        (lambda b: b[:-1], "truncated record data"),
        (lambda b: b[:8] + b"\0\0\0\0" + b[12:], "length checksum mismatch at offset 0"),
        (lambda b: b[:12] + b"j" + b[13:], "data checksum mismatch"),
    ],
)
def test_damage_is_named(damage, message):
    with pytest.raises(TFRecordError, match=message):
        list(iter_records(damage(frame(b"hello"))))


def test_unchecked_reading_skips_crc():
    damaged = frame(b"hello")[:-4] + b"\0\0\0\0"
    assert list(iter_records(damaged, check_crc=False)) == [b"hello"]
