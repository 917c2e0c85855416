"""InferenceHandler: the model and one request's way through decode, predict and encode.

Defaults fill what the script leaves out: input_fn decodes by Content-Type with the codec registry,
predict_fn calls model.predict(data) (or model(data)), output_fn encodes by Accept.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from smtoolkit.config.batching import BatchingSettings
from smtoolkit.errors import BadRequest, EntryPointError, ModelNotReady, ServeError, UserScriptError
from smtoolkit.serve.codecs.registry import CodecRegistry, MediaType
from smtoolkit.serve.codecs.text import body_text
from smtoolkit.serve.context import Context
from smtoolkit.serve.core.messages import Pending, Stream
from smtoolkit.serve.core.streams import as_bytes, is_stream
from smtoolkit.serve.handlers import UserFunction, UserHandlers
from smtoolkit.serve.streaming import StreamingBody

if TYPE_CHECKING:
    from smtoolkit.serve.batching.batcher import Batcher

# Bodies the AWS toolkits hand to input_fn/transform_fn as str; every other type gets bytes.
TEXT_BODY_TYPES = frozenset({"application/json", "text/csv"})


@dataclass(frozen=True)
class Invocation:
    body: bytes
    content_type: str | None = None
    accept: str | None = None
    headers: Iterable[tuple[str, str]] = ()  # read only if a handler asks its context
    parameters: Any = None  # the request's "parameters" (Vertex AI), for the handler's context


@dataclass(frozen=True)
class Reply:
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: Stream | None = None  # set for a streamed answer (body is then empty)


def _call(function: UserFunction, *args: Any, context: Context) -> Any:
    """Run user code: ServeError passes as is, anything else becomes a 500 that names the function."""
    try:
        return function(*args, context=context)
    except ServeError:
        raise
    except Exception as exc:
        raise ServeError(f"{function.name} failed with {type(exc).__name__}; see the server log") from exc


def _default_predictor(model: Any) -> Callable[[Any], Any] | None:
    predict = getattr(model, "predict", None)
    if callable(predict):
        return predict  # type: ignore[no-any-return]
    return model if callable(model) else None


def _encoded_items(items: Any, codecs: CodecRegistry, accept: str) -> Stream:
    """A predict_fn's streamed items, each bytes/str as is, else encoded as `accept` (no output_fn to ask)."""

    def encode(item: Any) -> bytes:
        return as_bytes(item) if isinstance(item, bytes | bytearray | str) else codecs.encode(item, accept)

    async def encoded_async() -> AsyncIterator[bytes]:
        try:
            async for item in items:
                yield encode(item)
        finally:
            await items.aclose()

    def encoded() -> Iterator[bytes]:
        try:
            for item in items:
                yield encode(item)
        finally:
            if hasattr(items, "close"):
                items.close()  # the client went away: the user's generator's finally runs now

    return encoded_async() if isinstance(items, AsyncIterator) else encoded()


def _unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class _BatchShare:
    """A request's share of a batch_predict_fn call, waited for in a thread or on an event loop."""

    batcher: Batcher
    data: Any

    def wait(self) -> Any:
        return self.batcher.submit(self.data)

    def wait_async(self) -> asyncio.Future[Any]:
        return self.batcher.enqueue_async(self.data)


class InferenceHandler:
    """Holds the user's functions and, once `load_model` has run, the model."""

    def __init__(
        self,
        user: UserHandlers,
        model_dir: Path,
        codecs: CodecRegistry,
        default_accept: str,
        batching: BatchingSettings | None = None,
    ) -> None:
        self.user = user
        self.model_dir = model_dir
        self.codecs = codecs
        self.default_accept = default_accept
        self._ready = threading.Event()
        self._model: Any = None
        self._predict: Callable[[Any], Any] | None = None
        self._batching = batching or BatchingSettings()
        self._batcher: Batcher | None = None  # set by load_model for a script with batch_predict_fn
        self._system_properties = MappingProxyType({"model_dir": str(model_dir)})
        if not (user.output_fn or user.transform_fn) and default_accept not in codecs.encodable:
            raise EntryPointError(
                f"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT={default_accept} has no encoder and the script has no "
                f"output_fn; available: {', '.join(codecs.encodable)}"
            )

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def _context(self, headers: Iterable[tuple[str, str]] = (), parameters: Any = None) -> Context:
        return Context(headers, self._system_properties, parameters)

    def load_model(self) -> None:
        """pre_model_fn, model_fn, model_warmup_fn; UserScriptError when one raises."""
        user, model_dir, context = self.user, str(self.model_dir), self._context()
        stage = user.model_fn
        try:
            if user.pre_model_fn:
                stage = user.pre_model_fn
                stage(model_dir, context=context)
            stage = user.model_fn
            model = stage(model_dir, context=context)
            if user.model_warmup_fn:
                stage = user.model_warmup_fn
                stage(model_dir, model, context=context)
        except Exception as exc:
            raise UserScriptError(f"{stage.name} failed: {type(exc).__name__}: {exc}", exit_code=1) from exc
        if user.batch_predict_fn:
            from smtoolkit.serve.batching.handler import batch_predictor

            self._batcher = batch_predictor(user.batch_predict_fn, model, self.model_dir, self._batching)
        elif not (user.predict_fn or user.transform_fn):
            self._predict = _default_predictor(model)
            if self._predict is None:
                raise EntryPointError(
                    f"{user.source} has no predict_fn and model_fn returned a {type(model).__name__}, "
                    "which has no predict() and is not callable"
                )
        self._model = model
        self._ready.set()

    @property
    def model(self) -> Any:
        """The loaded model; ModelNotReady (503) before load_model has run."""
        return self._model_or_503()

    def close(self) -> None:
        """Stop batching for this model (an unloaded model must not stay referenced by a dispatcher thread)."""
        if self._batcher is not None:
            self._batcher.close()

    def _model_or_503(self) -> Any:
        if not self._ready.is_set():
            raise ModelNotReady("the model is not loaded yet")
        return self._model

    def _user_body(self, body: bytes, content_type: MediaType | None) -> bytes | str:
        if content_type is None or content_type.name not in TEXT_BODY_TYPES:
            return body
        try:
            return body_text(body, content_type.params)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid {content_type.name}: {exc}") from None

    def invoke(self, invocation: Invocation) -> Reply:
        """One request's answer, waiting here for its batch if the script batches."""
        answer = self.start_invoke(invocation)
        return answer if isinstance(answer, Reply) else answer.finish()

    def start_invoke(self, invocation: Invocation) -> Reply | Pending[Reply]:
        """One request's answer; for a script with batch_predict_fn, a Pending one that is finished (encoded)
        once the request's batch has run, so that an async adapter need not hold a thread while it waits."""
        model = self._model_or_503()
        user, context = self.user, self._context(invocation.headers, invocation.parameters)
        content_type = MediaType.parse(invocation.content_type)
        type_name = content_type.name if content_type else None
        if user.transform_fn:
            accept = self.codecs.preferred(invocation.accept, self.default_accept)
            body = self._user_body(invocation.body, content_type)
            result = _call(user.transform_fn, model, body, type_name, accept, context=context)
            return self._reply(result, accept, context)
        if user.output_fn:
            accept = self.codecs.preferred(invocation.accept, self.default_accept)
        else:
            accept = self.codecs.negotiate(invocation.accept, self.default_accept)
        if user.input_fn:
            body = self._user_body(invocation.body, content_type)
            data = _call(user.input_fn, body, type_name, context=context)
        else:
            data = self.codecs.decode(invocation.body, content_type)
        if self._batcher is not None:  # its share of one batch_predict_fn call with its neighbours
            return Pending(_BatchShare(self._batcher, data), partial(self._encode, accept=accept, context=context))
        if user.predict_fn:
            prediction = _call(user.predict_fn, data, model, context=context)
        else:
            prediction = self._default_predict(data)
        return self._encode(prediction, accept, context)

    def _encode(self, prediction: Any, accept: str, context: Context) -> Reply:
        """output_fn, else the encoder for `accept` (item by item for a streamed prediction)."""
        if not self.user.output_fn:
            if is_stream(prediction):
                return self._reply(_encoded_items(prediction, self.codecs, accept), accept, context)
            return self._reply(self.codecs.encode(prediction, accept), accept, context)
        return self._reply(_call(self.user.output_fn, prediction, accept, context=context), accept, context)

    def predict(self, data: Any, headers: Iterable[tuple[str, str]] = (), parameters: Any = None) -> Any:
        """predict_fn (else the model's predict) on data already decoded by a protocol (the Open Inference
        Protocol's tensors): input_fn and output_fn, which decode and encode bodies, are not called."""
        prediction = self.start_predict(data, headers, parameters)
        return prediction.finish() if isinstance(prediction, Pending) else prediction

    def start_predict(self, data: Any, headers: Iterable[tuple[str, str]] = (), parameters: Any = None) -> Any:
        """`predict`, or for a script with batch_predict_fn a Pending prediction (as in `start_invoke`)."""
        model = self._model_or_503()
        if self.user.transform_fn:
            raise ServeError(
                f"{self.user.source} defines transform_fn, which takes a body; this route needs predict_fn"
            )
        if self.user.predict_fn:
            return _call(self.user.predict_fn, data, model, context=self._context(headers, parameters))
        if self._batcher is not None:
            return Pending(_BatchShare(self._batcher, data), _unchanged)
        return self._default_predict(data)

    def _default_predict(self, data: Any) -> Any:
        predict = self._predict
        if predict is None:
            raise ModelNotReady("the model is not loaded yet")
        try:
            return predict(data)
        except Exception as exc:
            raise ServeError(f"model.predict failed with {type(exc).__name__}; see the server log") from exc

    def _reply(self, result: Any, accept: str, context: Context) -> Reply:
        """A Reply from what output_fn/transform_fn returned: bytes, str, (body, content_type), or data
        that a codec of the negotiated type can encode."""
        content_type = None
        if isinstance(result, StreamingBody):
            result, content_type = result.chunks, result.content_type
        elif isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
            result, content_type = result
        content_type = context.response_content_type or content_type or accept
        headers = dict(context.response_headers)
        if is_stream(result):
            return Reply(body=b"", content_type=content_type, headers=headers, stream=result)
        if isinstance(result, bytes | bytearray | memoryview):
            body = bytes(result)
        elif isinstance(result, str):
            body = result.encode("utf-8")
        elif accept in self.codecs.encodable:
            body = self.codecs.encode(result, accept)
        else:
            raise ServeError(f"the script returned a {type(result).__name__}; expected bytes, str or (body, type)")
        return Reply(body=body, content_type=content_type, headers=headers)

    def execution_parameters(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """`defaults`, updated with what the script's execution_parameters_fn returns (a mapping)."""
        function = self.user.execution_parameters_fn
        if function is None:
            return dict(defaults)
        override = _call(function, context=self._context())
        if not isinstance(override, Mapping):
            raise ServeError(f"execution_parameters_fn returned a {type(override).__name__}, not a mapping")
        return {**defaults, **override}
