"""The OIP codec in an image without numpy: tensors are nested lists, JSON and binary alike."""

import subprocess
import sys

PROBE = r"""
import json, struct, sys
sys.modules["numpy"] = None  # makes `import numpy` raise ImportError, as in an image without it
from smtoolkit.serve.protocols.oip import HEADER_LENGTH, InferenceResponse, Tensor, encode_response, parse_request

header = json.dumps({"id": "1", "inputs": [
    {"name": "x", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
    {"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 11}},
    {"name": "i", "shape": [1, 2], "datatype": "INT64", "data": [[1, 2]]},
], "outputs": [{"name": "y", "parameters": {"binary_data": True}}, {"name": "i"}]}).encode()
binary = struct.pack("<4f", 1, 2, 3, 4) + struct.pack("<I", 2) + b"ab" + struct.pack("<I", 1) + b"c"
request = parse_request(header + binary, str(len(header)))
assert request.input("x").data == [[1.0, 2.0], [3.0, 4.0]], request.input("x").data
assert request.input("s").data == [b"ab", b"c"]
assert request.input("i").data == [[1, 2]]
doubled = [[v * 2 for v in row] for row in request.input("x").data]
outputs = [Tensor("y", (2, 2), "FP32", doubled), Tensor("i", (1, 2), "INT64", request.input("i").data)]
encoded = encode_response(InferenceResponse("m", outputs), request)
split = int(encoded.headers[HEADER_LENGTH])
document = json.loads(encoded.body[:split])
assert document["id"] == "1" and document["outputs"][1]["data"] == [1, 2], document
assert struct.unpack("<4f", encoded.body[split:]) == (2.0, 4.0, 6.0, 8.0)
"""


def test_codec_works_without_numpy() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
