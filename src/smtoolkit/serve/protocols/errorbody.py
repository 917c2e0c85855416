"""The error body of the Open Inference Protocol and of Vertex AI alike: {"error": "<message>"}."""

from __future__ import annotations

import json


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
