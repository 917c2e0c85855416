"""The inference server of SageMaker's serving contract: /ping, /invocations, /execution-parameters.

`run_server(settings, script, model_dir)` serves an inference script with gunicorn; `create_app` builds
the Flask app alone; `Context` is what handler functions taking a `context` argument receive.
Imported lazily, so that `import smtoolkit.serve` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smtoolkit.serve.app import create_app
    from smtoolkit.serve.context import Context
    from smtoolkit.serve.server import main, run_server

__all__ = ["Context", "create_app", "main", "run_server"]

_WHERE = {
    "Context": "smtoolkit.serve.context",
    "create_app": "smtoolkit.serve.app",
    "main": "smtoolkit.serve.server",
    "run_server": "smtoolkit.serve.server",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'smtoolkit.serve' has no attribute {name!r}")
