"""Built-in binary codecs: application/x-npy, application/x-npz, application/x-recordio-protobuf.

Arrays are never loaded with pickle. numpy is imported inside the functions, never at module import.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from array import array
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smtoolkit.formats.recordio import frame_all, iter_records
from smtoolkit.formats.recordproto import BytesValue, Record, Tensor, decode_record, encode_record

if TYPE_CHECKING:
    import numpy as np

# The most an .npz body may expand to, as a multiple of its own size (a bound on zip bombs), and at least:
NPZ_EXPANSION = 32
NPZ_MIN_LIMIT = 64 * 1024 * 1024


def _checked_npy(body: bytes, label: str) -> Any:
    """One .npy array from untrusted bytes: the header is read first and the data it promises must be in the
    body (nothing is allocated beyond what was sent); object arrays (pickle) are refused."""
    import numpy as np
    from numpy.lib import format as npy_format

    stream = io.BytesIO(body)
    try:
        version = npy_format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"{label}: .npy format version {version[0]}.{version[1]} is not read (1.0 and 2.0 are)")
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
        if dtype.hasobject:
            raise ValueError(f"{label}: object arrays need pickle, which is refused (allow_pickle=False)")
        expected, available = int(np.prod(shape, dtype=object)) * dtype.itemsize, len(body) - stream.tell()
        if expected > available:
            raise ValueError(f"{label}: the header promises {expected} bytes of data; the body has {available}")
        stream.seek(0)
        return np.load(stream, allow_pickle=False)
    except ValueError:
        raise
    except Exception as exc:  # numpy's parser raises many kinds (tokenize, syntax, EOF...) for bad bytes
        raise ValueError(f"{label}: {exc or type(exc).__name__}") from None


def decode_npy(body: bytes, params: Mapping[str, str]) -> Any:
    if body[:2] == b"PK":
        raise ValueError("expected one .npy array, got an .npz archive")
    return _checked_npy(body, "the .npy body")


def encode_npy(data: Any) -> bytes:
    import numpy as np

    out = io.BytesIO()
    np.save(out, np.asarray(data), allow_pickle=False)
    return out.getvalue()


def decode_npz(body: bytes, params: Mapping[str, str]) -> dict[str, Any]:
    """The archive's arrays by name (members `<name>.npy`), expanding to at most NPZ_EXPANSION x the body."""
    if body[:6] == b"\x93NUMPY":
        raise ValueError("expected an .npz archive, got one .npy array")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = archive.infolist()
            limit = max(NPZ_MIN_LIMIT, NPZ_EXPANSION * len(body))
            if sum(member.file_size for member in members) > limit:
                raise ValueError(f"the archive expands to over {limit} bytes")
            return {
                member.filename.removesuffix(".npy"): _checked_npy(archive.read(member), member.filename)
                for member in members
                if not member.is_dir()
            }
    except ValueError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, zlib.error) as exc:
        raise ValueError(f"not a readable .npz archive: {exc}") from None


def encode_npz(data: Any) -> bytes:
    """A mapping of arrays by name; anything else as one array named arr_0."""
    import numpy as np

    arrays = dict(data) if isinstance(data, Mapping) else {"arr_0": data}
    out = io.BytesIO()
    np.savez(out, **{name: np.asarray(value) for name, value in arrays.items()}, allow_pickle=False)
    return out.getvalue()


_NUMPY_TYPES = {"float32": "float32", "float64": "float64", "int32": "int32"}


def _feature_row(record: Record, index: int) -> np.ndarray:
    import numpy as np

    value = record.features.get("values")
    if value is None:
        raise ValueError(f"record {index} has no features['values']")
    if isinstance(value, BytesValue):
        raise ValueError(f"record {index} holds bytes; write an input_fn to read them")
    row = np.asarray(value.values, dtype=_NUMPY_TYPES[value.dtype])
    if value.keys:  # sparse: keys index the flattened shape
        if not value.shape:
            raise ValueError(f"record {index} is sparse but has no shape")
        dense = np.zeros(int(np.prod(value.shape)), dtype=row.dtype)
        keys = np.asarray(value.keys, dtype=np.int64)
        if len(keys) != len(row) or (keys.size and keys.max() >= dense.size):
            raise ValueError(f"record {index}: keys do not match its values or shape")
        dense[keys] = row
        row = dense
    return row.reshape(value.shape) if len(value.shape) > 1 else row


def decode_recordio_protobuf(body: bytes, params: Mapping[str, str]) -> Any:
    """features['values'] of each Record, one row per record (sparse ones made dense)."""
    import numpy as np

    rows = [_feature_row(decode_record(data), index) for index, data in enumerate(iter_records(body))]
    if not rows:
        raise ValueError("no records")
    if any(row.shape != rows[0].shape or row.dtype != rows[0].dtype for row in rows):
        raise ValueError("the records' feature tensors differ in shape or type")
    return np.stack(rows)


def _tensor(value: Any) -> Tensor:
    import numpy as np

    values = np.asarray(value)
    kind, flat = values.dtype.kind, values.ravel()
    if kind == "f" and values.dtype.itemsize <= 4:
        return Tensor("float32", array("f", flat.astype(np.float32).tobytes()))
    if kind == "f":
        return Tensor("float64", array("d", flat.astype(np.float64).tobytes()))
    if kind in "biu" and (flat.size == 0 or (flat.min() >= -(2**31) and flat.max() < 2**31)):
        return Tensor("int32", array("q", flat.astype(np.int64).tobytes()))
    raise ValueError(f"no Record tensor for {values.dtype} values")


def encode_recordio_protobuf(data: Any) -> bytes:
    """Records as given; a mapping of arrays as one Record per row with label[name] = that row;
    an array as one Record per row (element of a 1-D array) with label['values'] = that row."""
    import numpy as np

    if isinstance(data, Record):
        data = [data]
    if isinstance(data, list) and data and all(isinstance(item, Record) for item in data):
        return frame_all(encode_record(record) for record in data)
    columns = {name: np.asarray(value) for name, value in data.items()} if isinstance(data, Mapping) else None
    if columns is None:
        columns = {"values": np.asarray(data)}
    lengths = {len(np.atleast_1d(value)) for value in columns.values()}
    if not columns or len(lengths) != 1:
        raise ValueError("expected arrays of one length")
    rows = range(lengths.pop())
    return frame_all(
        encode_record(Record(label={name: _tensor(np.atleast_1d(v)[i]) for name, v in columns.items()})) for i in rows
    )
