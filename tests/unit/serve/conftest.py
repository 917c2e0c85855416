"""Fixtures for the serve tests: inference scripts written under tmp_path, imported without leaking."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

WriteScript = Callable[..., Path]


@pytest.fixture(autouse=True)
def _restore_import_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Importing a script puts its folder on sys.path and the module in sys.modules: undo both
    (only for modules loaded from the test's temporary folders, so libraries stay imported once)."""
    path, modules = list(sys.path), set(sys.modules)
    temporary = str(tmp_path_factory.getbasetemp())
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(temporary):
            del sys.modules[name]


@pytest.fixture
def write_script(tmp_path: Path) -> WriteScript:
    """Write `source` (dedented) as code/<name> under tmp_path and return its path."""

    def write(source: str, name: str = "inference.py") -> Path:
        script = tmp_path / "code" / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(textwrap.dedent(source))
        return script

    return write
