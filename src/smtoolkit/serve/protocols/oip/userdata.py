"""What the user's predict_fn sees of an OIP request, and how what it returns becomes output tensors.

In: the single input's data when the request has one input (an ndarray with numpy, else nested lists), else a
dict name -> data in the request's order. Out: a Tensor or a list of them as they are; a dict name -> array (or
list) as one output each; any other array or list as one output, named by the model's first declared output
(else "output0"). An output's datatype is its declared one (when both are numbers, or both BYTES), else its
numpy dtype's, else guessed from the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from smtoolkit.errors import ServeError
from smtoolkit.serve.protocols.oip.metadata import TensorMetadata
from smtoolkit.serve.protocols.oip.request import InferenceRequest
from smtoolkit.serve.protocols.oip.tensor import Tensor, flatten

DEFAULT_OUTPUT = "output0"


def user_data(request: InferenceRequest) -> Any:
    if len(request.inputs) == 1:
        return request.inputs[0].data
    return {tensor.name: tensor.data for tensor in request.inputs}


def output_tensors(prediction: Any, declared: Sequence[TensorMetadata], np: ModuleType | None) -> list[Tensor]:
    """The predict_fn's result as output tensors; ServeError (500) saying what could not be made a tensor."""
    if isinstance(prediction, Tensor):
        return [prediction]
    if isinstance(prediction, list | tuple) and prediction and all(isinstance(t, Tensor) for t in prediction):
        return list(prediction)
    types = {tensor.name: tensor.datatype for tensor in declared}
    if isinstance(prediction, Mapping):
        return [_tensor(str(name), value, types.get(str(name)), np) for name, value in prediction.items()]
    name = declared[0].name if declared else DEFAULT_OUTPUT
    return [_tensor(name, prediction, types.get(name), np)]


def _tensor(name: str, value: Any, datatype: str | None, np: ModuleType | None) -> Tensor:
    if np is not None:
        array = value if isinstance(value, np.ndarray) else _as_array(name, value, np)
        if datatype is None or (datatype == "BYTES") != (array.dtype.kind in "OSU"):  # the data's kind wins
            try:
                return Tensor.from_array(name, array)
            except ValueError as exc:
                raise ServeError(f"output {name!r}: {exc}") from None
        return Tensor(name, tuple(array.shape), datatype, array)
    if not isinstance(value, list | tuple):
        value = [value]
    return Tensor(name, _shape(value), datatype or _guess_datatype(name, flatten(value)), value)


def _as_array(name: str, value: Any, np: ModuleType) -> Any:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ServeError(f"output {name!r}: predict_fn returned what is not a tensor: {exc}") from None
    if array.dtype.kind == "U":
        array = array.astype(object)
    return array


def _shape(value: Any) -> tuple[int, ...]:
    shape = []
    while isinstance(value, list | tuple):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def _guess_datatype(name: str, flat: list[Any]) -> str:
    kinds = {type(v) for v in flat}
    if kinds <= {bool} and kinds:
        return "BOOL"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    if kinds <= {str, bytes}:
        return "BYTES"
    raise ServeError(f"output {name!r}: elements of {sorted(k.__name__ for k in kinds)} make no tensor datatype")
