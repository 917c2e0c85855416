"""smtoolkit's start-up hook for the user's Python processes, on PYTHONPATH only while a warm pool env is used.

It makes each dir of SMTOOLKIT_SITE_DIRS a site dir (smtoolkit/usercode/sitedirs.py, loaded by its path), leaves
sys.path without this folder, then runs the sitecustomize module this one shadows (the code dir's, the image's),
if any, as Python would have: a user's own sitecustomize keeps working.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys


def _load(name: str, spec: importlib.machinery.ModuleSpec | None) -> None:
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def _start() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry) != here]
    sitedirs = os.path.join(os.path.dirname(here), "sitedirs.py")
    _load("_smtoolkit_sitedirs", importlib.util.spec_from_file_location("_smtoolkit_sitedirs", sitedirs))
    sys.modules.pop("_smtoolkit_sitedirs").add_site_dirs_from(os.environ)
    _load("sitecustomize", importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path))


_start()
