"""The built-in codecs: what each decoder returns, how it fails, and what each encoder writes."""

from __future__ import annotations

import io
import math
from array import array

import numpy as np
import pytest

from smtoolkit.errors import BadRequest, NotAcceptable, ServeError, UnsupportedMediaType
from smtoolkit.formats.recordio import frame_all, iter_records
from smtoolkit.formats.recordproto import Record, Tensor, decode_record, encode_record
from smtoolkit.serve.codecs.registry import Codec, CodecRegistry, MediaType, default_codecs

CODECS = default_codecs()


def decode(body: bytes, content_type: str):
    return CODECS.decode(body, MediaType.parse(content_type))


def test_json_numbers_become_an_array_and_other_json_stays_python():
    assert decode(b"[[1, 2], [3, 4]]", "application/json").tolist() == [[1, 2], [3, 4]]
    assert decode(b'{"instances": [1]}', "application/json") == {"instances": [1]}
    assert decode(b'["a", "b"]', "application/json") == ["a", "b"]
    assert decode(b"[[1, 2], [3]]", "application/json") == [[1, 2], [3]]


def test_json_encodes_numpy_values():
    assert CODECS.encode({"p": np.array([1.5, 2]), "n": np.int64(3)}, "application/json") == (
        b'{"p": [1.5, 2.0], "n": 3}'
    )


def test_csv_is_a_float_matrix_with_charset_bom_quotes_and_blank_lines():
    body = '\ufeff1,2.5,"3"\n\n4,5,6\n'.encode("utf-8")
    array_ = decode(body, "text/csv; charset=UTF-8")
    assert array_.dtype == np.float64 and array_.shape == (2, 3)
    assert array_.tolist() == [[1.0, 2.5, 3.0], [4.0, 5.0, 6.0]]
    assert decode(b"7,8", "text/csv").shape == (1, 2)


def test_csv_empty_field_is_nan():
    assert math.isnan(decode(b"1,,3", "text/csv")[0, 1])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"1,2,3\n4,5\n", "line 2 has 2 fields, line 1 has 3"),
        (b"1,2\n3,abc\n", "line 2, column 2: 'abc' is not a number"),
        (b"\n\n", "no rows"),
        (b"\xff\xfe", "not valid utf-8"),
    ],
)
def test_bad_csv_is_a_400_that_says_where(body, message):
    with pytest.raises(BadRequest, match=message):
        decode(body, "text/csv")


def test_csv_in_latin_1():
    assert decode("1,2\n".encode("latin-1"), "text/csv; charset=latin-1").tolist() == [[1.0, 2.0]]
    with pytest.raises(BadRequest, match="unknown charset 'nope'"):
        decode(b"1", "text/csv; charset=nope")


def test_csv_encoder_writes_one_line_per_row_or_element():
    assert CODECS.encode(np.array([[1, 2], [3, 4]]), "text/csv") == b"1,2\n3,4\n"
    assert CODECS.encode([0.5, 1.5], "text/csv") == b"0.5\n1.5\n"
    assert CODECS.encode(np.float32(2.0), "text/csv") == b"2.0\n"
    assert CODECS.encode(["a,b", 1], "text/csv") == b'"a,b"\n1\n'


@pytest.mark.parametrize("value", [{"a": 1}, np.zeros((2, 2, 2))])
def test_csv_encoder_refuses_what_has_no_csv_form(value):
    with pytest.raises(ServeError, match="cannot be encoded as text/csv") as caught:
        CODECS.encode(value, "text/csv")
    assert caught.value.status == 500


def test_jsonlines_both_ways():
    rows = decode(b"[1, 2]\n\n[3, 4]\n", "application/jsonlines")
    assert rows.tolist() == [[1, 2], [3, 4]]
    assert decode(b'{"a": 1}\n{"a": 2}', "application/jsonlines") == [{"a": 1}, {"a": 2}]
    with pytest.raises(BadRequest, match="line 2"):
        decode(b"1\n{", "application/jsonlines")
    assert CODECS.encode(np.array([[1, 2], [3, 4]]), "application/jsonlines") == b"[1, 2]\n[3, 4]\n"
    assert CODECS.encode({"a": 1}, "application/jsonlines") == b'{"a": 1}\n'


def test_text_both_ways():
    assert decode("é".encode(), "text/plain") == "é"
    assert CODECS.encode("é", "text/plain") == "é".encode()
    assert CODECS.encode(np.array([1, 2]), "text/plain") == b"1\n2\n"
    assert CODECS.encode(3, "text/plain") == b"3"


def test_npy_round_trip_and_no_pickle():
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    body = CODECS.encode(data, "application/x-npy")
    decoded = decode(body, "application/x-npy")
    assert decoded.dtype == np.float32 and (decoded == data).all()
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BadRequest, match="allow_pickle"):
        decode(pickled.getvalue(), "application/x-npy")
    with pytest.raises(BadRequest):
        decode(b"not npy", "application/x-npy")


def test_npz_round_trip_and_errors():
    body = CODECS.encode({"x": np.arange(3), "y": np.ones((2, 2))}, "application/x-npz")
    decoded = decode(body, "application/x-npz")
    assert sorted(decoded) == ["x", "y"] and decoded["x"].tolist() == [0, 1, 2]
    assert sorted(decode(CODECS.encode([1, 2], "application/x-npz"), "application/x-npz")) == ["arr_0"]
    with pytest.raises(BadRequest, match="got one .npy array"):
        decode(CODECS.encode([1], "application/x-npy"), "application/x-npz")
    with pytest.raises(BadRequest):
        decode(b"PK\x03\x04broken", "application/x-npz")


def test_npy_data_must_be_in_the_body_and_odd_headers_are_400s():
    body = CODECS.encode(np.zeros((4, 4)), "application/x-npy")
    with pytest.raises(BadRequest, match="promises 128 bytes of data; the body has 127"):
        decode(body[:-1], "application/x-npy")
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }".ljust(117) + b"\n"
    with pytest.raises(BadRequest, match="promises 8000000000000 bytes"):
        decode(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header, "application/x-npy")
    with pytest.raises(BadRequest, match="version 3.0 is not read"):
        decode(b"\x93NUMPY\x03\x00" + body[8:], "application/x-npy")
    with pytest.raises(BadRequest, match="the .npy body"):
        decode(b"\x93NUMPY\x01\x00\x0c\x00{'descr': (\n", "application/x-npy")  # numpy: TokenError


def test_npz_expanding_far_beyond_its_size_is_refused():
    out = io.BytesIO()
    np.savez_compressed(out, big=np.zeros(9 * 1024 * 1024))  # 72 MiB of zeros, a few KiB compressed
    with pytest.raises(BadRequest, match="expands to over 67108864 bytes"):
        decode(out.getvalue(), "application/x-npz")


def _dense(values: list[float]) -> bytes:
    return encode_record(Record(features={"values": Tensor("float32", array("f", values))}))


def test_recordio_protobuf_decodes_dense_and_sparse_rows():
    sparse = encode_record(Record(features={"values": Tensor("float32", array("f", [9.0]), keys=(2,), shape=(3,))}))
    decoded = decode(frame_all([_dense([1.0, 2.0, 3.0]), sparse]), "application/x-recordio-protobuf")
    assert decoded.dtype == np.float32
    assert decoded.tolist() == [[1.0, 2.0, 3.0], [0.0, 0.0, 9.0]]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([_dense([1.0]), _dense([1.0, 2.0])], "differ in shape"),
        ([encode_record(Record())], "no features\\['values'\\]"),
        ([], "no records"),
    ],
)
def test_recordio_protobuf_bad_bodies(records, message):
    with pytest.raises(BadRequest, match=message):
        decode(frame_all(records), "application/x-recordio-protobuf")


def test_recordio_protobuf_encodes_predictions_as_labels():
    body = CODECS.encode(
        {"score": np.array([0.25, 0.75]), "label": np.array([0, 1])}, "application/x-recordio-protobuf"
    )
    records = [decode_record(data) for data in iter_records(body)]
    assert [list(r.label["score"].values) for r in records] == [[0.25], [0.75]]
    assert [r.label["label"] for r in records] == [Tensor("int32", array("q", [0])), Tensor("int32", array("q", [1]))]
    rows = [decode_record(d) for d in iter_records(CODECS.encode(np.eye(2), "application/x-recordio-protobuf"))]
    assert [list(r.label["values"].values) for r in rows] == [[1.0, 0.0], [0.0, 1.0]]
    given = Record(uid="u")
    assert decode_record(next(iter_records(CODECS.encode([given], "application/x-recordio-protobuf")))) == given


def test_registry_statuses():
    with pytest.raises(UnsupportedMediaType, match="'image/png'; supported: application/json"):
        decode(b"x", "image/png")
    with pytest.raises(UnsupportedMediaType, match="missing Content-Type"):
        CODECS.decode(b"x", None)
    with pytest.raises(BadRequest, match="not valid application/json: Expecting property name .* at line 1 column 2"):
        decode(b"{oops", "application/json")
    with pytest.raises(NotAcceptable):
        CODECS.encode(1, "image/png")


@pytest.mark.parametrize(
    ("content_type", "closest"),
    [("application/jsno", "application/json"), ("text/cvs", "text/csv"), ("aplication/x-npy", "application/x-npy")],
)
def test_a_misspelt_content_type_is_a_415_naming_the_closest_type(content_type: str, closest: str):
    with pytest.raises(UnsupportedMediaType, match=rf"\(did you mean {closest}\?\); supported: application/json"):
        decode(b"x", content_type)


@pytest.mark.parametrize("content_type", ["application/xml", "text/html", "image/png", "text/json"])
def test_a_415_suggests_nothing_for_a_type_that_is_no_typo(content_type: str):
    """Every type shares a prefix like application/: alone it must not make application/xml 'close' to x-npz."""
    with pytest.raises(UnsupportedMediaType) as raised:
        decode(b"x", content_type)
    assert "did you mean" not in str(raised.value)


def test_registry_lists_and_replaces_codecs():
    registry = CodecRegistry([Codec("a/b", decode=lambda body, params: body)])
    registry.register(Codec("A/B", encode=lambda data: b"x"))
    assert registry.decodable == () and registry.encodable == ("a/b",)


@pytest.mark.parametrize("media_type", ["application/json", "application/jsonlines"])
def test_a_body_too_deep_for_the_decoder_is_a_400(media_type: str):
    with pytest.raises(BadRequest, match="too deeply nested"):
        default_codecs().decode(b"[" * 100_000 + b"]" * 100_000, MediaType.parse(media_type))
