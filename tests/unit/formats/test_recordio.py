"""RecordIO framing and the hand-written Record protobuf, checked against bytes from the platform docs."""

from __future__ import annotations

from array import array

import pytest

from smtoolkit.formats.recordio import MAGIC_BYTES, frame, frame_all, iter_records
from smtoolkit.formats.recordproto import BytesValue, Record, Tensor, decode_record, encode_record

# platform_contracts.md §5.2: features["values"]=float32[1.0, 2.0], label["values"]=float32[0.0]
DOC_RECORD = bytes.fromhex("0a160a0676616c756573120c120a0a080000803f0000004012120a0676616c756573120812060a0400000000")
DOC_SPARSE = bytes.fromhex("0a180a0676616c756573120e120c0a04000060401201071a010a")


def test_frame_pads_to_four_bytes():
    assert frame(b"abcde").hex() == "0a23d7ce05000000" + "6162636465" + "000000"


def test_frame_of_the_doc_record_has_no_padding():
    framed = frame(DOC_RECORD)
    assert framed[:8].hex() == "0a23d7ce2c000000"
    assert len(framed) == 8 + 44


def test_records_round_trip_in_order():
    payloads = [b"", b"a", b"abcd", b"x" * 1001]
    assert list(iter_records(frame_all(payloads))) == payloads


def test_aligned_magic_splits_the_record_and_the_reader_joins_it():
    payload = b"abcd" + MAGIC_BYTES + b"ef" + MAGIC_BYTES + b"gh" + MAGIC_BYTES
    framed = frame(payload)
    flags = [framed[4 + 3] >> 5]  # cflag of the first part is in the top 3 bits of lrecord
    assert flags == [1]
    assert list(iter_records(framed + frame(b"next"))) == [payload, b"next"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00" * 8, "bad magic number"),
        (MAGIC_BYTES + b"\x05", "truncated header"),
        (MAGIC_BYTES + b"\x10\x00\x00\x00abc", "needs 16 bytes"),
        (MAGIC_BYTES + (2 << 29).to_bytes(4, "little"), "unexpected continuation flag 2 at offset 0"),
        (MAGIC_BYTES + (1 << 29).to_bytes(4, "little"), "ends inside a multi-part record"),
    ],
)
def test_bad_framing_names_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        list(iter_records(data))


def test_record_matches_the_documented_bytes():
    record = Record(
        features={"values": Tensor("float32", array("f", [1.0, 2.0]))},
        label={"values": Tensor("float32", array("f", [0.0]))},
    )
    assert encode_record(record) == DOC_RECORD
    decoded = decode_record(DOC_RECORD)
    features = decoded.features["values"]
    assert isinstance(features, Tensor)
    assert (features.dtype, list(features.values)) == ("float32", [1.0, 2.0])


def test_sparse_tensor_matches_the_documented_bytes():
    record = Record(features={"values": Tensor("float32", array("f", [3.5]), keys=(7,), shape=(10,))})
    assert encode_record(record) == DOC_SPARSE
    tensor = decode_record(DOC_SPARSE).features["values"]
    assert isinstance(tensor, Tensor)
    assert (list(tensor.values), tensor.keys, tensor.shape) == ([3.5], (7,), (10,))


def test_every_field_round_trips():
    record = Record(
        features={
            "values": Tensor("float64", array("d", [1.5, -2.25])),
            "ints": Tensor("int32", array("q", [-1, 0, 2**31 - 1]), shape=(3,)),
            "raw": BytesValue((b"\x00\x01", b"png"), content_type="image/png"),
        },
        label={"score": Tensor("float32", array("f", [0.5]))},
        uid="id-1",
        metadata="m",
        configuration='{"a": 1}',
    )
    assert decode_record(encode_record(record)) == record


def test_unknown_fields_and_unpacked_values_are_read():
    # Float32Tensor with one unpacked fixed32 value (field 1, wire type 5) and an unknown varint field 9.
    tensor = bytes.fromhex("0d0000803f") + bytes.fromhex("4801")
    value = bytes([0x12, len(tensor)]) + tensor
    entry = b"\x0a\x06values" + bytes([0x12, len(value)]) + value
    record = decode_record(bytes([0x0A, len(entry)]) + entry + bytes.fromhex("3805"))
    features = record.features["values"]
    assert isinstance(features, Tensor)
    assert list(features.values) == [1.0]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"\x0a\x10abc", "runs past the end"), (b"\x08\xff", "truncated varint"), (b"\x0b", "wire type 3")],
)
def test_bad_protobuf_names_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        decode_record(data)


# Streaming reader (read_framed), used by batch transform's RecordIO splitter.
def test_read_framed_keeps_the_bytes_as_they_are():
    import io

    from smtoolkit.formats.recordio import read_framed

    payloads = [b"abcde", b"", b"abcd", b"x" + MAGIC_BYTES * 2 + b"yz"]
    buffer = frame_all(payloads)
    records = list(read_framed(io.BytesIO(buffer)))
    assert [record.data for record in records] == payloads
    assert b"".join(record.framed for record in records) == buffer
    assert records[0].padding == 3 and records[0].unpadded == frame(b"abcde")[:-3]
    assert list(read_framed(io.BytesIO(frame(b"abcde")[:-3]))) == [
        records[0]._replace(framed=records[0].unpadded, padding=0)
    ]


@pytest.mark.parametrize(
    ("buffer", "message"),
    [
        (b"\x0a\x23\xd7\xce\x05\x00", "truncated header at offset 0"),
        (b"\x00" * 8, "bad magic number"),
        (frame(b"abcde")[:10], "truncated record data at offset 8"),
        (MAGIC_BYTES + (2 << 29).to_bytes(4, "little"), "unexpected continuation flag 2 at offset 0"),
        (frame(b"ab")[:-2] + b"\x01\x00", "non-zero padding"),
    ],
)
def test_read_framed_names_damage(buffer, message):
    import io

    from smtoolkit.formats.recordio import read_framed

    with pytest.raises(ValueError, match=message):
        list(read_framed(io.BytesIO(buffer)))
