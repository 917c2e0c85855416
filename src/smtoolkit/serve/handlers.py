"""The user module contract: find the inference script, import it, and check its functions at startup.

The functions of the AWS toolkits, each optionally taking a trailing `context` (see serve.context):
model_fn(model_dir) (required), input_fn(input_data, content_type), predict_fn(data, model),
output_fn(prediction, accept), or transform_fn(model, input_data, content_type, accept) instead of those
three; pre_model_fn(model_dir), model_warmup_fn(model_dir, model) and execution_parameters_fn().
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from smtoolkit.errors import EntryPointError, did_you_mean

logger = logging.getLogger(__name__)

ARGUMENTS: dict[str, tuple[str, ...]] = {
    "model_fn": ("model_dir",),
    "input_fn": ("input_data", "content_type"),
    "predict_fn": ("data", "model"),
    "output_fn": ("prediction", "accept"),
    "transform_fn": ("model", "input_data", "content_type", "accept"),
    "pre_model_fn": ("model_dir",),
    "model_warmup_fn": ("model_dir", "model"),
    "execution_parameters_fn": (),
    "batch_predict_fn": ("batch", "model"),  # the batching opt-in, in place of predict_fn (serve.batching.handler)
}
_PIPELINE = ("input_fn", "predict_fn", "output_fn")
ContextMode = Literal["none", "positional", "keyword"]
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class UserFunction:
    """A user function and how it takes the context: not at all, as a last positional, or by keyword."""

    name: str
    func: Callable[..., Any]
    context_mode: ContextMode = "none"

    def __call__(self, *args: Any, context: Any = None) -> Any:
        if self.context_mode == "positional":
            return self.func(*args, context)
        if self.context_mode == "keyword":
            return self.func(*args, context=context)
        return self.func(*args)


def _context_mode(params: Sequence[inspect.Parameter], count: int) -> ContextMode:
    positional = [p for p in params if p.kind in _POSITIONAL]
    if any(p.kind is inspect.Parameter.KEYWORD_ONLY and p.name == "context" for p in params):
        return "keyword"
    extra = positional[count] if len(positional) > count else None
    if extra is not None and (extra.default is inspect.Parameter.empty or extra.name == "context"):
        return "positional"
    return "none"


def bind(name: str, func: Any, source: str) -> UserFunction:
    """`func` checked against the contract of `name`; EntryPointError saying what was expected."""
    expected = ARGUMENTS[name]
    usage = f"{name}({', '.join([*expected, 'context'])})" if expected else f"{name}([context])"
    if not callable(func):
        raise EntryPointError(f"{source}: {name} is a {type(func).__name__}, not a function like {usage}")
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):  # no signature to read (some builtins): call it plainly
        return UserFunction(name, func)
    mode = _context_mode(params, len(expected))
    positional = [p for p in params if p.kind in _POSITIONAL]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    has_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    required_keywords = [
        p.name
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty and p.name != "context"
    ]
    slots = len(expected) + (mode == "positional")
    if required_keywords or len(required) > slots or (len(positional) < len(expected) and not has_varargs):
        signature = f"{name}{inspect.signature(func)}"
        raise EntryPointError(f"{source}: {signature} does not fit the contract {usage} (context optional)")
    return UserFunction(name, func, mode)


@dataclass(frozen=True)
class UserHandlers:
    """The validated functions of one inference script; None where the script leaves the default."""

    source: str
    model_fn: UserFunction
    input_fn: UserFunction | None = None
    predict_fn: UserFunction | None = None
    output_fn: UserFunction | None = None
    transform_fn: UserFunction | None = None
    pre_model_fn: UserFunction | None = None
    model_warmup_fn: UserFunction | None = None
    execution_parameters_fn: UserFunction | None = None
    batch_predict_fn: UserFunction | None = None


def handlers_from(namespace: Any, source: str) -> UserHandlers:
    """The handler functions found on `namespace` (a module), checked as one combination."""
    found = {name: bind(name, getattr(namespace, name), source) for name in ARGUMENTS if hasattr(namespace, name)}
    if "model_fn" not in found:
        raise EntryPointError(f"{source} defines no model_fn(model_dir): serve needs it to load the model")
    if "transform_fn" in found and (mixed := [name for name in _PIPELINE if name in found]):
        raise EntryPointError(
            f"{source} defines transform_fn and {', '.join(mixed)}: transform_fn replaces "
            "input_fn, predict_fn and output_fn, so define either it or those"
        )
    if "batch_predict_fn" in found and (rivals := [name for name in ("predict_fn", "transform_fn") if name in found]):
        raise EntryPointError(
            f"{source} defines batch_predict_fn and {', '.join(rivals)}: batch_predict_fn replaces predict_fn "
            "and works with input_fn/output_fn, so define one of them"
        )
    model_fn = found.pop("model_fn")
    return UserHandlers(source=source, model_fn=model_fn, **found)


def locate_script(program: str, search_dirs: Sequence[Path]) -> tuple[Path, Path]:
    """(the search dir holding it, the script): the first `program` (a .py file or a module name) found."""
    relative = Path(program if program.endswith(".py") else f"{program.replace('.', '/')}.py")
    if relative.is_absolute() or ".." in relative.parts:
        raise EntryPointError(f"SAGEMAKER_PROGRAM={program!r} must be a path inside the code directory")
    for directory in dict.fromkeys(search_dirs):
        candidate = directory / relative
        if candidate.is_file():
            return directory, candidate
    searched = ", ".join(str(d) for d in dict.fromkeys(search_dirs))
    scripts = [str(path.relative_to(d)) for d in dict.fromkeys(search_dirs) if d.is_dir() for path in d.glob("*.py")]
    hint = did_you_mean(str(relative), scripts) or " (set SAGEMAKER_PROGRAM)"
    raise EntryPointError(f"inference script {relative} not found in {searched}{hint}")


def find_script(program: str, search_dirs: Sequence[Path]) -> Path:
    """The first `program` (a .py file, or a module name) found in `search_dirs`."""
    return locate_script(program, search_dirs)[1]


def import_script(script: Path) -> ModuleType:
    """Import `script` as module `<stem>`, its folder first on sys.path so it can import its neighbours."""
    folder = str(script.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(script.stem, script)
    if spec is None or spec.loader is None:
        raise EntryPointError(f"{script} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[script.stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(script.stem, None)
        raise EntryPointError(f"importing {script} failed: {type(exc).__name__}: {exc}") from exc
    return module


def load_user_handlers(program: str, search_dirs: Sequence[Path]) -> UserHandlers:
    return load_script_handlers(find_script(program, search_dirs))


def load_script_handlers(script: Path) -> UserHandlers:
    """Import `script` and check its handler functions."""
    logger.info("Loading the inference script %s", script)
    return handlers_from(import_script(script), str(script))
