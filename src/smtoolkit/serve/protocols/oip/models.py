"""Where the Open Inference Protocol's routes find the model a request names: ServedModels. `OneModel` is the
one model `serve` loads; serve.protocols.oip.repository has a multi-model endpoint's registry."""

from __future__ import annotations

from typing import Protocol

from smtoolkit.errors import EntryPointError, NotFound, did_you_mean
from smtoolkit.serve.pipeline import InferenceHandler


class ServedModels(Protocol):
    # Whether finding a model never runs user code (so its metadata and ready routes may stay on the event loop).
    instant: bool
    extensions: tuple[str, ...]  # the protocol extensions to list in server metadata besides binary tensors

    def handler(self, name: str, version: str | None) -> InferenceHandler:
        """The model `name` (at `version`, when given); NotFound (404) naming what is served otherwise."""
        ...

    def versions(self, name: str) -> list[str]: ...

    def server_ready(self) -> bool: ...


def check_predicts(handler: InferenceHandler) -> InferenceHandler:
    """`handler`, or EntryPointError when its script defines transform_fn (which takes a body, not tensors)."""
    if handler.user.transform_fn:
        raise EntryPointError(
            f"{handler.user.source} defines transform_fn, which takes a body; the Open Inference Protocol "
            "hands tensors to predict_fn, so define predict_fn (or serve without oip)"
        )
    return handler


class OneModel:
    """The one model `serve` loads, named SMTOOLKIT_OIP_MODEL_NAME (and SMTOOLKIT_OIP_MODEL_VERSION)."""

    instant = True
    extensions: tuple[str, ...] = ()

    def __init__(self, handler: InferenceHandler, name: str, version: str | None = None) -> None:
        self._handler, self.name, self.version = check_predicts(handler), name, version

    def handler(self, name: str, version: str | None) -> InferenceHandler:
        if name != self.name:
            raise NotFound(f"no model {name!r}{did_you_mean(name, [self.name])}; this server has {self.name!r}")
        if version is not None and version != self.version:
            held = f"version {self.version!r}" if self.version else "no versions"
            raise NotFound(f"model {name!r} has no version {version!r}; it has {held}")
        return self._handler

    def versions(self, name: str) -> list[str]:
        return [self.version] if self.version else []

    def server_ready(self) -> bool:
        return self._handler.ready
