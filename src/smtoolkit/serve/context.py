"""Context: the optional last argument of a handler function (request headers in, response headers out;
`parameters`, the request's "parameters" on the Vertex AI and Open Inference Protocol routes).

It also answers the calls scripts make on sagemaker-inference's (MMS) context, such as
`context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")` and
`context.set_response_header(0, name, value)`, so those scripts run unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
# The model a multi-model invocation is for (InvokeEndpoint's TargetModel); the second is the older name.
TARGET_MODEL_HEADERS = ("X-Amzn-SageMaker-Target-Model", "X-Amzn-Target-Model")
MAX_CUSTOM_ATTRIBUTES = 1024
# Headers the server owns: a handler may not set them.
_RESERVED = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"})
_VISIBLE_ASCII = re.compile(r"[\x20-\x7e]*")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check_header(name: str, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"header {name} must be a str, got {type(value).__name__}")
    if name.lower() in _RESERVED:
        raise ValueError(f"header {name} is set by the server")
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"{name!r} is not a header name")
    if not _VISIBLE_ASCII.fullmatch(value):
        raise ValueError(f"header {name} must be printable US-ASCII (no line breaks)")
    if name.lower() == CUSTOM_ATTRIBUTES.lower() and len(value) > MAX_CUSTOM_ATTRIBUTES:
        raise ValueError(f"{CUSTOM_ATTRIBUTES} holds at most {MAX_CUSTOM_ATTRIBUTES} characters")


def _check_index(index: int) -> None:
    if index != 0:
        raise IndexError(f"a request holds one item (index 0), not {index}")


class Context:
    """Request headers (case-insensitive), response headers to add, and system properties (model_dir)."""

    def __init__(
        self,
        request_headers: Iterable[tuple[str, str]] = (),
        system_properties: Mapping[str, Any] | None = None,
        parameters: Any = None,
    ) -> None:
        self._source = request_headers
        self._request: dict[str, str] | None = None  # built from _source on first use: most requests never ask
        self.response_headers: dict[str, str] = {}
        self.response_content_type: str | None = None
        if not isinstance(system_properties, MappingProxyType):
            system_properties = MappingProxyType(dict(system_properties or {}))
        self.system_properties: Mapping[str, Any] = system_properties
        # The request's "parameters" on the Vertex AI and Open Inference Protocol routes; None elsewhere.
        self.parameters: Any = parameters

    @property
    def _headers(self) -> dict[str, str]:
        if self._request is None:
            self._request = {name.lower(): value for name, value in self._source}
        return self._request

    # The request.
    def header(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name.lower(), default)

    @property
    def request_headers(self) -> Mapping[str, str]:
        """Every request header, names in lower case."""
        return MappingProxyType(self._headers)

    @property
    def custom_attributes(self) -> str | None:
        """The request's X-Amzn-SageMaker-Custom-Attributes (InvokeEndpoint's CustomAttributes)."""
        return self.header(CUSTOM_ATTRIBUTES)

    @property
    def inference_id(self) -> str | None:
        return self.header(INFERENCE_ID)

    @property
    def target_model(self) -> str | None:
        """The model a multi-model endpoint invokes (X-Amzn-SageMaker-Target-Model or X-Amzn-Target-Model)."""
        return next((value for name in TARGET_MODEL_HEADERS if (value := self.header(name))), None)

    # The response.
    def set_header(self, name: str, value: str) -> None:
        """Add a response header (a Content-Type here sets the response's type)."""
        _check_header(name, value)
        if name.lower() == "content-type":
            self.response_content_type = value
        else:
            self.response_headers[name] = value

    def set_custom_attributes(self, value: str) -> None:
        """CustomAttributes returned to the caller: at most 1024 visible US-ASCII characters."""
        self.set_header(CUSTOM_ATTRIBUTES, value)

    # sagemaker-inference (MMS) context API; index is the item in a batch, always 0 here.
    def get_request_header(self, index: int, name: str) -> str | None:
        _check_index(index)
        return self.header(name)

    def get_all_request_header(self, index: int) -> dict[str, str]:
        _check_index(index)
        return dict(self._headers)

    def set_response_header(self, index: int, name: str, value: str) -> None:
        _check_index(index)
        self.set_header(name, value)

    def set_response_content_type(self, index: int, value: str) -> None:
        _check_index(index)
        self.set_header("Content-Type", value)

    def get_response_content_type(self, index: int) -> str | None:
        _check_index(index)
        return self.response_content_type
