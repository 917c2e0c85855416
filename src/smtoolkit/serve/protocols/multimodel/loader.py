"""One model folder to a loaded InferenceHandler: its own code/inference.py (the layout the SDK repacks)
or the endpoint's script, its code/requirements.txt installed first (once per distinct file), then model_fn.

A model_fn that raises fails the load with its message; a MemoryError is the platform's 507 so it can
unload another model and retry. Nothing is kept of a failed load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from smtoolkit.config.batching import BatchingSettings
from smtoolkit.errors import BadRequest, EntryPointError, InsufficientStorage, NotFound, ServeError, UserScriptError
from smtoolkit.serve.codecs import CodecRegistry
from smtoolkit.serve.handlers import UserHandlers, handlers_from
from smtoolkit.serve.pipeline import InferenceHandler
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


def import_model_script(script: Path) -> ModuleType:
    """Import a model's own script under a name of its own, so two models' inference.py never collide."""
    name = f"smtoolkit_model_{hashlib.sha256(str(script.resolve()).encode()).hexdigest()[:16]}"
    folder = str(script.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)  # its neighbours must import
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise BadRequest(f"{script} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise BadRequest(f"importing {script} failed: {type(exc).__name__}: {exc}") from exc
    return module


@dataclass(frozen=True)
class ModelLoader:
    """What every model of the endpoint shares: its script (None: each model must bring its own), the codecs."""

    endpoint_handlers: UserHandlers | None
    codecs: CodecRegistry
    default_accept: str
    installer: RequirementsInstaller
    batching: BatchingSettings | None = None  # for the models whose script defines batch_predict_fn

    def handlers_for(self, folder: Path) -> UserHandlers:
        script = folder / MODEL_SCRIPT
        if script.is_file():
            self.installer.ensure(script.parent)
            try:
                return handlers_from(import_model_script(script), str(script))
            except EntryPointError as exc:
                raise BadRequest(str(exc)) from None
        if self.endpoint_handlers is None:
            raise BadRequest(f"{folder} has no {MODEL_SCRIPT} and the endpoint has no inference script")
        return self.endpoint_handlers

    def load(self, url: str) -> InferenceHandler:
        """The model at `url`, loaded; a ServeError saying why not."""
        folder = model_folder(url)
        try:
            handlers = self.handlers_for(folder)
            handler = InferenceHandler(handlers, folder, self.codecs, self.default_accept, self.batching)
            handler.load_model()
        except MemoryError:
            raise InsufficientStorage(f"loading {url} ran out of memory") from None
        except (UserScriptError, EntryPointError) as exc:
            if isinstance(exc.__cause__, MemoryError):
                raise InsufficientStorage(f"loading {url} ran out of memory: {exc}") from None
            raise ServeError(f"loading {url} failed: {exc}") from exc
        return handler
