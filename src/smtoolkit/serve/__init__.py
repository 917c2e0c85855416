"""The inference server of SageMaker's serving contract: /ping, /invocations, /execution-parameters.

`run_server(settings, script, model_dir)` serves an inference script with gunicorn; `create_app` builds
the transport-free app alone; `Context` is what handler functions taking a `context` argument receive;
`sse` and `json_lines` frame a streamed answer (serve.streaming).
Imported lazily, so that `import smtoolkit.serve` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smtoolkit.serve.app import create_app
    from smtoolkit.serve.context import Context
    from smtoolkit.serve.execute import main
    from smtoolkit.serve.hosting.server import run_server
    from smtoolkit.serve.streaming import json_lines, sse

__all__ = ["Context", "create_app", "json_lines", "main", "run_server", "sse"]

_WHERE = {
    "Context": "smtoolkit.serve.context",
    "create_app": "smtoolkit.serve.app",
    "main": "smtoolkit.serve.execute",
    "run_server": "smtoolkit.serve.hosting.server",
    "sse": "smtoolkit.serve.streaming",
    "json_lines": "smtoolkit.serve.streaming",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'smtoolkit.serve' has no attribute {name!r}")
