import sys
from pathlib import Path

import pytest

from smtoolkit.errors import EntryPointError
from smtoolkit.launch.entrypoint import EntryPoint, resolve


def _code(tmp_path: Path, *files: str, content: str = "") -> Path:
    for name in files:
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return tmp_path


def test_script(tmp_path: Path) -> None:
    entry = resolve("train.py", None, _code(tmp_path, "train.py"))
    assert entry == EntryPoint("script", "train.py")
    assert entry.argv(["--a", "b c"]) == (sys.executable, "--", "train.py", "--a", "b c")


def test_script_in_a_subdirectory(tmp_path: Path) -> None:
    assert resolve("src/train.py", None, _code(tmp_path, "src/train.py")).kind == "script"


def test_package_runs_as_module_with_slashes_as_dots(tmp_path: Path) -> None:
    entry = resolve("src/train.py", None, _code(tmp_path, "src/train.py", "setup.py"))
    assert (entry.kind, entry.name) == ("module", "src.train")


def test_module_and_function(tmp_path: Path) -> None:
    assert resolve("pkg.module", None, tmp_path).argv([])[1:] == ("-m", "pkg.module")
    entry = resolve("pkg.module:main", None, tmp_path)
    assert (entry.kind, entry.name) == ("function", "pkg.module:main")


def test_training_module_wins(tmp_path: Path) -> None:
    entry = resolve("train.py", "framework.training:main", _code(tmp_path, "train.py"))
    assert (entry.kind, entry.name) == ("function", "framework.training:main")
    with pytest.raises(EntryPointError, match="package.module:function"):
        resolve(None, "framework.training", tmp_path)


def test_shell_scripts(tmp_path: Path) -> None:
    _code(tmp_path, "plain.sh", content="echo hi\n")
    _code(tmp_path, "bang.sh", content="#!/bin/bash\necho hi\n")
    assert resolve("plain.sh", None, tmp_path).argv(["a b"]) == ("/bin/sh", "plain.sh", "a b")
    # Without its executable bit, a script runs through its shebang (the user's folder is never chmod-ed).
    assert resolve("bang.sh", None, tmp_path).argv(["a b"]) == ("/bin/bash", "./bang.sh", "a b")
    (tmp_path / "bang.sh").chmod(0o755)
    assert resolve("bang.sh", None, tmp_path).argv(["a b"]) == ("./bang.sh", "a b")


def test_a_shebang_argument_and_a_binary_without_its_executable_bit(tmp_path: Path) -> None:
    _code(tmp_path, "run", content="#!/usr/bin/env  python3 -u \nprint(1)\n")
    assert resolve("run", None, tmp_path).argv([]) == ("/usr/bin/env", "python3 -u", "./run")
    (tmp_path / "tool").write_bytes(b"\x7fELF\x02\x01")
    with pytest.raises(EntryPointError, match="'tool' is a binary without its executable bit: chmod \\+x it"):
        resolve("tool", None, tmp_path)


@pytest.mark.parametrize("name", ["../train.py", "/abs/train.py", "-rf", "a/./b.py", "a//b.py", "train.py; rm", ""])
def test_invalid_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(EntryPointError):
        resolve(name, None, tmp_path)


def test_missing_entry_point_names_what_is_there(tmp_path: Path) -> None:
    _code(tmp_path, "train_v2.py", "utils.py")
    with pytest.raises(EntryPointError, match=r"'train.py' not found in .* \(it holds: train_v2.py, utils.py\)"):
        resolve("train.py", None, tmp_path)


def test_dry_run_infers_from_names(tmp_path: Path) -> None:
    assert resolve("train.py", None, tmp_path / "absent", check=False).kind == "script"
    assert resolve("run.sh", None, tmp_path / "absent", check=False).kind == "shell"
