"""One model folder to a loaded InferenceHandler: its own code/inference.py (the layout the SDK repacks)
or the endpoint's script, its code/requirements.txt installed first (once per distinct file), then model_fn.

A model_fn that raises fails the load with its message; a MemoryError is the platform's 507 so it can
unload another model and retry. Nothing is kept of a failed load.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from smtoolkit.config.batching import BatchingSettings
from smtoolkit.errors import BadRequest, EntryPointError, InsufficientStorage, NotFound, ServeError, UserScriptError
from smtoolkit.serve.codecs.registry import CodecRegistry
from smtoolkit.serve.handlers import UserHandlers, handlers_from
from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.protocols.multimodel.isolation import ModelCode
from smtoolkit.serve.protocols.multimodel.requirements import RequirementsInstaller

MODEL_SCRIPT = Path("code") / "inference.py"


def model_folder(url: str) -> Path:
    """The folder `url` names: NotFound (404) when it isn't there, BadRequest (400) when it isn't a model."""
    folder = Path(url.removeprefix("file://"))
    if not folder.is_absolute():
        raise BadRequest(f"url {url!r} must be an absolute path to the model's folder")
    if not folder.exists():
        raise NotFound(f"url {url}: no such folder")
    if not folder.is_dir():
        raise BadRequest(f"url {url} is a file; expected the folder the model was unpacked into")
    if not any(folder.iterdir()):
        raise BadRequest(f"url {url} is an empty folder, not a model")
    return folder


def import_model_script(script: Path) -> tuple[ModuleType, ModelCode]:
    """Import a model's own script under a name of its own, with its neighbours kept apart from every other
    model's (isolation.py); BadRequest when it fails."""
    name = f"smtoolkit_model_{hashlib.sha256(str(script.resolve()).encode()).hexdigest()[:16]}"
    code = ModelCode(script.parent)
    try:
        return code.import_script(script, name), code
    except Exception as exc:
        raise BadRequest(f"importing {script} failed: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class ModelLoader:
    """What every model of the endpoint shares: its script (None: each model must bring its own), the codecs."""

    endpoint_handlers: UserHandlers | None
    codecs: CodecRegistry
    default_accept: str
    installer: RequirementsInstaller
    batching: BatchingSettings | None = None  # for the models whose script defines batch_predict_fn

    def handlers_for(self, folder: Path) -> tuple[UserHandlers, ModelCode | None]:
        """The model's handlers, and its own code when it brings some (None: the endpoint's script)."""
        script = folder / MODEL_SCRIPT
        if script.is_file():
            self.installer.ensure(script.parent)
            module, code = import_model_script(script)
            try:
                return handlers_from(module, str(script)), code
            except EntryPointError as exc:
                raise BadRequest(str(exc)) from None
        if self.endpoint_handlers is None:
            raise BadRequest(f"{folder} has no {MODEL_SCRIPT} and the endpoint has no inference script")
        return self.endpoint_handlers, None

    def load(self, url: str) -> InferenceHandler:
        """The model at `url`, loaded; a ServeError saying why not."""
        folder = model_folder(url)
        try:
            handlers, code = self.handlers_for(folder)
            handler = InferenceHandler(handlers, folder, self.codecs, self.default_accept, self.batching)
            with code.installed() if code else contextlib.nullcontext():  # unpickling its neighbours' classes
                handler.load_model()
        except MemoryError:
            raise InsufficientStorage(f"loading {url} ran out of memory") from None
        except (UserScriptError, EntryPointError) as exc:
            if isinstance(exc.__cause__, MemoryError):
                raise InsufficientStorage(f"loading {url} ran out of memory: {exc}") from None
            raise ServeError(f"loading {url} failed: {exc}") from exc
        return handler
