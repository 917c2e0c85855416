"""What to run: the user's entry point, validated, and the argv that runs it with its arguments."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from smtoolkit.errors import EntryPointError, did_you_mean
from smtoolkit.launch.rank_main import interpreter_of
from smtoolkit.usercode.deps import PACKAGE_FILES

ENTRY_VARIABLES = ("SAGEMAKER_PROGRAM", "SAGEMAKER_TRAINING_MODULE")
EntryKind = Literal["script", "module", "function", "shell", "executable"]

_PATH_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*(/[A-Za-z0-9_][A-Za-z0-9._+-]*)*$")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_FUNCTION = re.compile(r"^(?P<module>[A-Za-z_]\w*(\.[A-Za-z_]\w*)*):(?P<function>[A-Za-z_]\w*)$")

# Runs `module:function` with the user's arguments in sys.argv, as `python -m` would.
_CALL_FUNCTION = (
    "import importlib, sys\n"
    "module, function = sys.argv[1].split(':')\n"
    "sys.argv = [sys.argv[1]] + sys.argv[2:]\n"
    "result = getattr(importlib.import_module(module), function)()\n"
    "sys.exit(result if isinstance(result, int) else 0)\n"
)


@dataclass(frozen=True)
class EntryPoint:
    kind: EntryKind
    name: str
    python: str = sys.executable
    interpreter: tuple[str, ...] = ()  # a script without its executable bit: its shebang

    def argv(self, args: list[str]) -> tuple[str, ...]:
        """The command with the user's arguments; never re-parsed by a shell."""
        if self.kind == "script":
            return (self.python, "--", self.name, *args)
        if self.kind == "module":
            return (self.python, "-m", self.name, *args)
        if self.kind == "function":
            return (self.python, "-c", _CALL_FUNCTION, self.name, *args)
        if self.kind == "shell":
            return ("/bin/sh", self.name, *args)
        return (*self.interpreter, f"./{self.name}", *args)


def module_name(path_name: str) -> str:
    """`dir/train.py` -> `dir.train`, for `python -m` in an installed package."""
    return path_name.removesuffix(".py").replace("/", ".")


def misspelt_variables(environ: Iterable[str]) -> str:
    """'; X is set (did you mean SAGEMAKER_PROGRAM?)' for each variable that looks like a typo of an entry point's."""
    prefix = "SAGEMAKER_"  # compared without it, so that SAGEMAKER_REGION is no near miss of SAGEMAKER_PROGRAM
    suffixes = [name.removeprefix(prefix) for name in ENTRY_VARIABLES]
    found = [
        (name, did_you_mean(name.removeprefix(prefix), suffixes).replace("mean ", f"mean {prefix}"))
        for name in environ
        if name.startswith(prefix) and name not in ENTRY_VARIABLES
    ]
    return "".join(f"; {name} is set{hint}" for name, hint in sorted(found) if hint)


def resolve(
    program: str | None, framework_module: str | None, code_dir: Path, check: bool = True, hint: str = ""
) -> EntryPoint:
    """The entry point named by SAGEMAKER_TRAINING_MODULE, else SAGEMAKER_PROGRAM / sagemaker_program.

    With `check=False` (a dry run before the code is fetched) kinds are inferred from names alone; `hint` ends
    the error for no entry point at all (`misspelt_variables`).
    """
    if framework_module:
        if not _FUNCTION.match(framework_module):
            raise EntryPointError(
                f"SAGEMAKER_TRAINING_MODULE {framework_module!r} is not of the form package.module:function"
            )
        return EntryPoint("function", framework_module)
    if not program:
        raise EntryPointError(
            "no entry point: set SAGEMAKER_PROGRAM or the sagemaker_program hyperparameter (e.g. train.py)" + hint
        )
    if _FUNCTION.match(program):
        return EntryPoint("function", program)
    if not _PATH_NAME.match(program) or any(part in (".", "..") for part in program.split("/")):
        raise EntryPointError(
            f"entry point {program!r} is not a valid name: expected a path inside the code dir "
            "(train.py, dir/train.py, train.sh), a module (pkg.module) or pkg.module:function"
        )
    path = code_dir / program
    if check and not path.is_file():
        if _DOTTED.match(program) and not program.endswith((".py", ".sh")):
            return EntryPoint("module", program)
        raise EntryPointError(f"entry point {program!r} not found in {code_dir}{_listing(code_dir)}")
    if program.endswith(".py"):
        if check and any((code_dir / name).exists() for name in PACKAGE_FILES):
            return EntryPoint("module", module_name(program))
        return EntryPoint("script", program)
    if program.endswith(".sh"):
        return _executable(path, program) if check and _has_shebang(path) else EntryPoint("shell", program)
    if not check:
        return EntryPoint("module" if _DOTTED.match(program) else "executable", program)
    return _executable(path, program) if _has_shebang(path) or _is_binary(path) else EntryPoint("shell", program)


def _executable(path: Path, program: str) -> EntryPoint:
    """A file with a shebang or an ELF binary; one without its executable bit runs through its shebang."""
    interpreter = tuple(interpreter_of(str(path)))
    if not interpreter and not path.stat().st_mode & 0o100 and _is_binary(path):
        raise EntryPointError(f"entry point {program!r} is a binary without its executable bit: chmod +x it")
    return EntryPoint("executable", program, interpreter=interpreter)


def _has_shebang(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"#!"


def _is_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _listing(code_dir: Path, limit: int = 10) -> str:
    if not code_dir.is_dir():
        return " (the code dir does not exist)"
    names = sorted(p.name for p in code_dir.iterdir())
    if not names:
        return " (the code dir is empty)"
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    return f" (it holds: {shown})"
