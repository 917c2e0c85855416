"""A model's own code folder, imported apart from every other model's and from the endpoint's script.

Python has one sys.modules and one sys.path per process, so two models' `utils` cannot both be importable
by that name. A model's code is imported only inside its *window*: under one process-wide lock, the folder goes
first on sys.path, the entries other code holds under the model's module names step aside, and the model's
own modules (from earlier windows) come back; on leaving, every module named like one of the folder's
files, or loaded from under it, is moved into the model's own table and the rest is put back. Outside its
windows nothing of the model is in sys.path or sys.modules: the modules live on through the references its
script holds, and an unloaded model leaves nothing behind.

An `import` statement run later (inside a function, at request time) in the model's own files goes through
an `__import__` of the model's: it is served from the model's table, or opens a window to import it.
`importlib.import_module` and imports made by other code cannot be seen: import neighbours at the top.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

_LOCK = threading.RLock()  # re-entered when a window's code imports lazily (the same thread)
_OPEN: list[ModelCode] = []  # the windows open now, innermost last (under _LOCK)
_IMPORT = builtins.__import__
_PROTECTED = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


class _ModelSourceLoader(importlib.machinery.SourceFileLoader):
    """Gives each module the model's `__import__`, and compiles from source: no __pycache__ is written into
    the model's folder, and a file replaced within the same second (a reload) is never run from a stale one."""

    def exec_module(self, module: ModuleType) -> None:
        if _OPEN:
            module.__dict__["__builtins__"] = _OPEN[-1].builtins
        super().exec_module(module)

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


def neighbour_names(folder: Path) -> frozenset[str]:
    """The top-level module names the folder's files and packages (with __init__.py) would import as, bar the
    standard library's (whichever is imported already wins for those, as Python's own import would have it)."""
    names = set()
    for entry in folder.iterdir():
        if entry.is_dir():
            if (entry / "__init__.py").is_file():
                names.add(entry.name)
        elif entry.name.endswith((".py", *importlib.machinery.EXTENSION_SUFFIXES)):
            names.add(entry.name.partition(".")[0])
    return frozenset(name for name in names if name.isidentifier() and name not in _PROTECTED)


class ModelCode:
    """The code folder of one model (its code/), within the model's folder (`root`: anything under it is the
    model's, say a lib/ its script puts on sys.path)."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder.resolve())
        self.root = os.path.join(os.path.dirname(self.folder), "")  # with its trailing separator, even for /
        self.names = neighbour_names(Path(self.folder))
        self.modules: dict[str, ModuleType] = {}  # the model's own, kept out of sys.modules between windows
        self.builtins: dict[str, Any] = {**vars(builtins), "__import__": self._import}

    def import_script(self, script: Path, module_name: str) -> ModuleType:
        """Import `script` (a file of the folder) under `module_name`, importable by its neighbours by its stem."""
        path = str(script.resolve())
        spec = importlib.util.spec_from_file_location(module_name, path, loader=_ModelSourceLoader(module_name, path))
        if spec is None or spec.loader is None:
            raise ImportError(f"{script} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        with self.installed():
            sys.modules[module_name] = sys.modules[script.stem] = module  # circular and dataclass imports
            spec.loader.exec_module(module)
        return module

    def _owns(self, name: str, module: object, added: bool) -> bool:
        top = name.partition(".")[0]
        if top in self.names or name in self.modules or top in self.modules:
            return True
        return added and self._inside(module)

    def _under_root(self, path: object) -> bool:
        return isinstance(path, str) and bool(path) and os.path.abspath(path).startswith(self.root)

    def _inside(self, module: object) -> bool:
        places = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or ())]
        return any(self._under_root(place) for place in places)

    def _path_hook(self, path: str) -> importlib.machinery.FileFinder:
        if not self._under_root(path):
            raise ImportError(path)  # not ours: the next hook's
        extensions = (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES)
        return importlib.machinery.FileFinder(
            path, (_ModelSourceLoader, importlib.machinery.SOURCE_SUFFIXES), extensions
        )

    def _forget_finders(self) -> None:
        for path in [p for p in sys.path_importer_cache if self._under_root(p)]:
            sys.path_importer_cache.pop(path, None)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The model's window: its code imports as if it were alone in the process (see the module's doc)."""
        with _LOCK:
            if self in _OPEN:  # an import inside the window: already installed
                yield
                return
            before, path_before = set(sys.modules), set(sys.path)
            stepped_aside = {name: sys.modules.pop(name) for name in before if self._owns(name, None, False)}
            sys.modules.update(self.modules)
            sys.path.insert(0, self.folder)
            sys.path_hooks.insert(0, self._path_hook)
            self._forget_finders()
            _OPEN.append(self)
            try:
                yield
            finally:
                _OPEN.remove(self)
                self._take_back(before)
                sys.path[:] = [p for p in sys.path if p in path_before or not self._under_root(p)]
                sys.path_hooks.remove(self._path_hook)
                self._forget_finders()
                sys.modules.update(stepped_aside)

    def _take_back(self, before: set[str]) -> None:
        for name, module in list(sys.modules.items()):
            if self._owns(name, module, name not in before):
                self.modules[name] = sys.modules.pop(name)

    def _import(
        self,
        name: str,
        importer: Mapping[str, object] | None = None,  # the importing module's globals
        local_names: Mapping[str, object] | None = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> ModuleType:
        """The `__import__` of the model's modules: their own neighbours from the model's table, or a window."""
        absolute = _absolute(name, importer, level)
        top = absolute.partition(".")[0]
        if top not in self.names and top not in self.modules:
            return _IMPORT(name, importer, local_names, fromlist, level)
        if self in _OPEN:  # its window is open: this thread's, or its model_fn's that waits on this thread
            return _IMPORT(name, importer, local_names, fromlist, level)
        found = self.modules.get(absolute)
        if found is not None:
            if fromlist and all(hasattr(found, item) for item in fromlist):
                return found
            if not fromlist and level == 0:
                return self.modules[top]
        with self.installed():
            return _IMPORT(name, importer, local_names, fromlist, level)


def _absolute(name: str, importer: Mapping[str, object] | None, level: int) -> str:
    """The module a relative import names, from the importing module's globals."""
    if level == 0 or importer is None:
        return name
    package = importer.get("__package__")
    if not package:
        module = str(importer.get("__name__", ""))
        package = module if "__path__" in importer else module.rpartition(".")[0]
    return importlib.util.resolve_name("." * level + name, str(package))
