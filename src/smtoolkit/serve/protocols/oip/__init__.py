"""The Open Inference Protocol (KServe v2, Triton, MLServer REST): typed tensors, JSON and binary tensor data,
server and model metadata. Transport-free: bytes and header values in, bytes and headers out."""

from smtoolkit.serve.protocols.errorbody import error_body
from smtoolkit.serve.protocols.oip.metadata import TensorMetadata, model_metadata, server_metadata
from smtoolkit.serve.protocols.oip.request import HEADER_LENGTH, InferenceRequest, RequestedOutput, parse_request
from smtoolkit.serve.protocols.oip.response import EncodedResponse, InferenceResponse, encode_response
from smtoolkit.serve.protocols.oip.tensor import Tensor

__all__ = [
    "HEADER_LENGTH",
    "EncodedResponse",
    "InferenceRequest",
    "InferenceResponse",
    "RequestedOutput",
    "Tensor",
    "TensorMetadata",
    "encode_response",
    "error_body",
    "model_metadata",
    "parse_request",
    "server_metadata",
]
