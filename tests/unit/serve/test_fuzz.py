"""Fuzzed request bodies for every decoder, through the WSGI app: the answer is never a 5xx.

Bodies start valid (built from generated values) and are then possibly cut, bit-flipped or spliced with random
bytes; raw random bytes and random Content-Type / Accept headers are sent too. The model is the identity and the
Accept is the body's own type, so whatever a decoder lets through must also encode: only 2xx and 4xx are allowed.
SMTOOLKIT_FUZZ_EXAMPLES raises the number of examples per decoder (default 60) for a longer local run.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from werkzeug.test import Client

from smtoolkit.config.serving import ServingSettings
from smtoolkit.serve.adapters.wsgi import wsgi_app
from smtoolkit.serve.app import create_app
from smtoolkit.serve.codecs.arrays import encode_recordio_protobuf
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.handlers import handlers_from
from smtoolkit.serve.pipeline import InferenceHandler

# The strategies here use no `random`; Hypothesis still warns when another thread of the test process (left by an
# earlier test: a server, a client's retries) moves the global random state during a draw, and as an error that
# warning made a replay flaky (seen once in a clean-clone run).
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
EXAMPLES = int(os.environ.get("SMTOOLKIT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


class Identity:
    def predict(self, data: Any) -> Any:
        return data


def _client() -> Client:
    user = handlers_from(SimpleNamespace(model_fn=lambda model_dir: Identity()), "inference.py")
    handler = InferenceHandler(user, "/opt/ml/model", default_codecs(), "application/json")  # type: ignore[arg-type]
    handler.load_model()
    return Client(wsgi_app(create_app(handler, ServingSettings(model_server_workers=1, max_payload_in_mb=1))))


CLIENT = _client()
CHARSETS = st.sampled_from(["", "; charset=utf-8", "; charset=UTF-16", "; charset=latin-1", "; charset=x-bogus", ";"])


def _post(body: bytes, content_type: str, accept: str | None) -> int:
    headers = {"Content-Type": content_type} | ({"Accept": accept} if accept is not None else {})
    response = CLIENT.post("/invocations", data=body, headers=headers)
    assert response.content_type, "every response has a Content-Type"
    return response.status_code


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid body, or one cut short, with a byte flipped, or with random bytes spliced in."""
    body = draw(valid)
    how = draw(st.sampled_from(["keep", "cut", "flip", "splice"]))
    if how == "keep" or not body:
        return body
    at = draw(st.integers(0, len(body) - 1))
    if how == "cut":
        return body[:at]
    if how == "flip":
        return body[:at] + bytes([body[at] ^ (1 << draw(st.integers(0, 7)))]) + body[at + 1 :]
    return body[:at] + draw(st.binary(min_size=1, max_size=16)) + body[at:]


def _saved(save: Callable[[io.BytesIO, Any], None]) -> Callable[[Any], bytes]:
    def write(value: Any) -> bytes:
        out = io.BytesIO()
        save(out, value)
        return out.getvalue()

    return write


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)
CELLS = st.one_of(st.floats().map(repr), st.integers().map(str), st.text(max_size=6), st.just(""))
CSV_TEXT = st.lists(st.lists(CELLS, min_size=1, max_size=5), min_size=1, max_size=6).map(
    lambda rows: "\n".join(",".join(row) for row in rows)
)
ARRAYS = hnp.arrays(
    st.one_of(hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes(), hnp.complex_number_dtypes()),
    hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
)
NUMERIC_ROWS = hnp.arrays(
    st.sampled_from([np.float32, np.float64, np.int32]), hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)
)

VALID_BODIES: dict[str, st.SearchStrategy[bytes]] = {
    "application/json": JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    "text/csv": CSV_TEXT.map(str.encode),
    "application/jsonlines": st.lists(JSON_VALUES, max_size=5).map(
        lambda values: "".join(json.dumps(v) + "\n" for v in values).encode()
    ),
    "text/plain": st.text(max_size=64).map(str.encode),
    "application/x-npy": ARRAYS.map(_saved(lambda out, a: np.save(out, a, allow_pickle=False))),
    "application/x-npz": st.dictionaries(st.sampled_from(["a", "b", "x_1"]), ARRAYS, max_size=3).map(
        _saved(lambda out, arrays: np.savez(out, **arrays))
    ),
    "application/x-recordio-protobuf": NUMERIC_ROWS.map(encode_recordio_protobuf),
}


def _fuzz(media_type: str) -> Callable[[], None]:
    @FUZZ
    @given(body=mutated(VALID_BODIES[media_type]) | st.binary(max_size=256), params=CHARSETS)
    def check(body: bytes, params: str) -> None:
        status = _post(body, media_type + params, media_type)
        assert status < 500, (status, body[:200])

    return check


test_json_never_5xx = _fuzz("application/json")
test_csv_never_5xx = _fuzz("text/csv")
test_jsonlines_never_5xx = _fuzz("application/jsonlines")
test_text_never_5xx = _fuzz("text/plain")
test_npy_never_5xx = _fuzz("application/x-npy")
test_npz_never_5xx = _fuzz("application/x-npz")
test_recordio_protobuf_never_5xx = _fuzz("application/x-recordio-protobuf")

HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@FUZZ
@given(content_type=HEADER_TEXT, accept=st.none() | HEADER_TEXT, body=st.binary(max_size=64))
def test_random_content_type_and_accept_headers_never_5xx(content_type: str, accept: str | None, body: bytes):
    assert _post(body, content_type, accept) < 500
