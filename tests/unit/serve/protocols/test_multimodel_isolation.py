"""Each multi-model endpoint model imports its own neighbour modules (code/utils.py, code/helpers/), never
another model's nor the endpoint's, and leaves nothing in sys.path or sys.modules (real imports in this
process; the HTTP tests are in tests/integration/test_serve_multimodel.py)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import BadRequest
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.pipeline import Invocation
from smtoolkit.serve.protocols.multimodel.loader import ModelLoader, import_model_script
from smtoolkit.serve.protocols.multimodel.requirements import RequirementsInstaller

SCRIPT = """
import utils

def model_fn(model_dir):
    return utils.VALUE

def lazily():
    import utils
    return utils.VALUE
"""


def write_model(root: Path, name: str, files: dict[str, str]) -> Path:
    """A model folder holding `files` under code/; its code/inference.py."""
    for path, text in files.items():
        target = root / name / "code" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root / name / "code" / "inference.py"


def with_utils(root: Path, name: str) -> Path:
    return write_model(root, name, {"inference.py": SCRIPT, "utils.py": f"VALUE = {name!r}\n"})


def leftovers(root: Path) -> list[str]:
    """What of the models under `root` is in sys.path or sys.modules."""
    paths = [p for p in sys.path if p.startswith(str(root))]
    files = [name for name, m in sys.modules.items() if str(getattr(m, "__file__", None)).startswith(str(root))]
    return paths + files


def answer(root: Path, name: str) -> bytes:
    """Load the model `name` under `root` as the endpoint does (its model_fn too) and invoke it once."""
    installer = RequirementsInstaller(root / "installs", LauncherSettings(), dict(os.environ))
    handler = ModelLoader(None, default_codecs(), "application/json", installer).load(str(root / name))
    try:
        return handler.invoke(Invocation(b"1", "application/json", "application/json")).body
    finally:
        handler.close()


@pytest.fixture(autouse=True)
def clean_imports(tmp_path: Path) -> Iterator[None]:
    yield
    assert leftovers(tmp_path) == []
    assert "utils" not in sys.modules and "helpers" not in sys.modules


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_each_model_imports_its_own_neighbour_in_any_order(tmp_path: Path, order: tuple[str, str]) -> None:
    modules = {name: import_model_script(with_utils(tmp_path, name))[0] for name in order}
    assert {name: module.model_fn(None) for name, module in modules.items()} == {"a": "a", "b": "b"}
    assert {name: module.lazily() for name, module in modules.items()} == {"a": "a", "b": "b"}  # at request time


def test_a_neighbour_imported_elsewhere_is_neither_served_to_the_model_nor_disturbed(tmp_path: Path) -> None:
    endpoints = ModuleType("utils")
    endpoints.VALUE = "the endpoint's"  # type: ignore[attr-defined]
    sys.modules["utils"] = endpoints
    try:
        module, _ = import_model_script(with_utils(tmp_path, "a"))
        assert (module.model_fn(None), module.lazily()) == ("a", "a")
        assert sys.modules["utils"] is endpoints
        import utils  # type: ignore[import-not-found]

        assert utils.VALUE == "the endpoint's"  # other code still gets its own
    finally:
        del sys.modules["utils"]


def test_a_package_neighbour_with_relative_imports(tmp_path: Path) -> None:
    script = """
from helpers import answer

def model_fn(model_dir):
    return answer()

def lazily():
    from helpers.deep import DEPTH
    return DEPTH
"""
    package = "from .deep import DEPTH\n\ndef answer():\n    from . import deep\n\n    return deep.name()\n"
    files = {
        "helpers/__init__.py": package,
        "helpers/deep.py": "DEPTH = 2\n\ndef name():\n    return __name__\n",
    }
    for name in ("a", "b"):
        module, _ = import_model_script(write_model(tmp_path, name, {"inference.py": script, **files}))
        assert (module.model_fn(None), module.lazily()) == ("helpers.deep", 2)


def test_a_model_reloaded_from_the_same_folder_runs_its_new_code(tmp_path: Path) -> None:
    script = with_utils(tmp_path, "a")
    assert import_model_script(script)[0].model_fn(None) == "a"
    utils = script.parent / "utils.py"
    stat = utils.stat()
    utils.write_text("VALUE = 'z'\n")  # the same size and modification time: a stale cache would still say "a"
    os.utime(utils, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert import_model_script(script)[0].model_fn(None) == "z"
    assert not (script.parent / "__pycache__").exists()  # nothing written into the model's folder


def test_concurrent_loads_each_get_their_own(tmp_path: Path) -> None:
    names = [f"m{i}" for i in range(8)]
    scripts = {name: with_utils(tmp_path, name) for name in names}
    modules: dict[str, ModuleType] = {}
    ready = threading.Barrier(len(names))

    def load(name: str) -> None:
        ready.wait(10)
        modules[name] = import_model_script(scripts[name])[0]
        for _ in range(50):
            assert modules[name].lazily() == name

    threads = [threading.Thread(target=load, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {name: module.model_fn(None) for name, module in modules.items()} == {name: name for name in names}


def test_a_failed_import_leaves_nothing(tmp_path: Path) -> None:
    script = write_model(tmp_path, "bad", {"inference.py": "import utils\nraise ValueError('no')\n", "utils.py": ""})
    with pytest.raises(BadRequest, match=r"importing .*inference.py failed: ValueError: no"):
        import_model_script(script)


def test_paths_the_script_adds_inside_its_model_are_taken_out(tmp_path: Path) -> None:
    script = "import os, sys\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))\nimport extra\n"
    path = write_model(tmp_path, "a", {"inference.py": script, "../lib/extra.py": "X = 1\n"})
    assert import_model_script(path)[0].extra.X == 1
    assert "extra" not in sys.modules


def test_model_fn_unpickles_its_neighbours_classes(tmp_path: Path) -> None:
    script = """
import pickle
import net

def model_fn(model_dir):
    return pickle.loads(pickle.dumps(net.Net()))  # as torch.load or joblib.load of a whole model would

def predict_fn(data, model):
    return type(model).__module__
"""
    write_model(tmp_path, "a", {"inference.py": script, "net.py": "class Net:\n    pass\n"})
    assert answer(tmp_path, "a") == b'"net"'


def test_a_thread_of_model_fn_imports_lazily_without_deadlock(tmp_path: Path) -> None:
    script = """
import threading

def _lazily(box):
    import utils
    box.append(utils.VALUE)

def model_fn(model_dir):
    box = []
    thread = threading.Thread(target=_lazily, args=(box,))
    thread.start()
    thread.join(10)
    return box

def predict_fn(data, model):
    return model
"""
    write_model(tmp_path, "a", {"inference.py": script, "utils.py": "VALUE = 'a'\n"})
    assert answer(tmp_path, "a") == b'["a"]'
