"""The bodies of GET /v2 (server metadata) and GET /v2/models/{name}[/versions/{v}] (model metadata)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from smtoolkit.serve.protocols.oip.datatypes import DATATYPES
from smtoolkit.serve.protocols.oip.tensor import Tensor

SERVER_NAME = "smtoolkit"
EXTENSIONS = ("binary_tensor_data",)
VARIABLE = -1  # a dimension of any size in model metadata


@dataclass(frozen=True)
class TensorMetadata:
    """A model input or output as metadata describes it: -1 marks a dimension of any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.datatype not in DATATYPES:
            raise ValueError(f"tensor {self.name!r}: datatype {self.datatype!r} is not one of {', '.join(DATATYPES)}")
        if not all(type(d) is int and d >= VARIABLE for d in self.shape):
            raise ValueError(f"tensor {self.name!r}: shape {list(self.shape)} must hold sizes >= 0 or -1")

    @classmethod
    def like(cls, tensor: Tensor, variable_batch: bool = True) -> TensorMetadata:
        """Metadata describing `tensor`, its first dimension variable (a batch) unless told otherwise."""
        shape = tensor.shape
        if variable_batch and shape:
            shape = (VARIABLE, *shape[1:])
        return cls(tensor.name, tensor.datatype, shape)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def server_metadata(version: str, extensions: Iterable[str] = EXTENSIONS, name: str = SERVER_NAME) -> dict[str, Any]:
    return {"name": name, "version": version, "extensions": list(extensions)}


def model_metadata(
    name: str,
    inputs: Sequence[TensorMetadata] = (),
    outputs: Sequence[TensorMetadata] = (),
    versions: Sequence[str] = (),
    platform: str = "",
) -> dict[str, Any]:
    """Model metadata; `versions` is left out when there are none, as the protocol makes it optional."""
    body: dict[str, Any] = {"name": name}
    if versions:
        body["versions"] = list(versions)
    body["platform"] = platform
    body["inputs"] = [tensor.to_json() for tensor in inputs]
    body["outputs"] = [tensor.to_json() for tensor in outputs]
    return body
