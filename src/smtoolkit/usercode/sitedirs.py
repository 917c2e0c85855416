"""A warm pool env's `site/` made a site dir, as if its packages had been installed into site-packages: first on
sys.path, and its .pth files processed the way `site` does (their directories added right after it, their import
lines run), which PYTHONPATH alone does not do (editable installs, distutils-precedence.pth, namespace packages).

In `serve` the warm env is activated in-process (add_site_dir). The user's `train` processes get it at start-up:
HOOK_DIR first on PYTHONPATH and SITE_DIRS_VARIABLE naming the dirs; HOOK_DIR's sitecustomize.py loads this file
by its path (so it imports only the standard library: the user's interpreter may not import smtoolkit) and calls
add_site_dir, then runs the sitecustomize it shadows, if there is one.
"""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Mapping

SITE_DIRS_VARIABLE = "SMTOOLKIT_SITE_DIRS"  # os.pathsep-separated; also in config.launcher.OTHER_VARIABLES
HOOK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sitehook")


def add_site_dir(directory: str) -> None:
    """`directory` first on sys.path (unless already there), then its .pth files processed by site.addsitedir,
    the directories they append moved right after it, so that they also win over the image's site-packages."""
    directory = os.path.abspath(directory)
    if directory not in (os.path.abspath(entry) for entry in sys.path):
        sys.path.insert(0, directory)
    before = list(sys.path)
    site.addsitedir(directory)
    if sys.path[: len(before)] != before:  # an import line rearranged sys.path itself: left as it made it
        return
    appended = sys.path[len(before) :]
    del sys.path[len(before) :]
    at = [os.path.abspath(entry) for entry in sys.path].index(directory) + 1
    sys.path[at:at] = appended


def add_site_dirs_from(environ: Mapping[str, str]) -> None:
    """add_site_dir for each dir SITE_DIRS_VARIABLE names, the first one ending up first."""
    for directory in reversed([d for d in environ.get(SITE_DIRS_VARIABLE, "").split(os.pathsep) if d]):
        add_site_dir(directory)
