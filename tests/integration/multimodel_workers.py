"""Worker processes for the multi-model tests: each builds a ModelRegistry on one shared store, the way a
gunicorn worker will, and runs the commands the test sends it, each in its own thread (so a slow load and an
invocation can overlap), replying with the result or the ServeError's status and message."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import ServeError
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.handlers import load_script_handlers
from smtoolkit.serve.pipeline import Invocation
from smtoolkit.serve.protocols.multimodel.loader import ModelLoader
from smtoolkit.serve.protocols.multimodel.memory import process_rss
from smtoolkit.serve.protocols.multimodel.registry import ModelRegistry
from smtoolkit.serve.protocols.multimodel.requirements import RequirementsInstaller
from smtoolkit.serve.protocols.multimodel.store import SharedStore

REPLY_TIMEOUT_S = 60.0


def _invoke(registry: ModelRegistry, name: str, payload: Any) -> Any:
    body = json.dumps(payload).encode()
    reply = registry.handler(name).invoke(Invocation(body, "application/json", "application/json"))
    return json.loads(reply.body)


COMMANDS: dict[str, Callable[..., Any]] = {
    "load": lambda registry, name, url: registry.load(name, url).name,
    "unload": lambda registry, name: registry.unload(name).name,
    "describe": lambda registry, name: [registry.describe(name).name, registry.describe(name).url],
    "list": lambda registry: [record.name for record in registry.listed()],
    "invoke": _invoke,
    "sync": lambda registry: registry.sync(),
    "loaded_here": lambda registry: registry.loaded_here(),
    "rss": lambda registry: process_rss(),
}


def _serve(root: str, script: str | None, budget: int, conn: Connection) -> None:
    store = SharedStore(Path(root))
    handlers = load_script_handlers(Path(script)) if script else None
    installer = RequirementsInstaller(store.root / "installs", LauncherSettings(), dict(os.environ))
    registry = ModelRegistry(store, ModelLoader(handlers, default_codecs(), "application/json", installer), budget)
    send_lock = threading.Lock()

    def run(call_id: int, command: str, args: list[Any]) -> None:
        try:
            reply: tuple[Any, ...] = ("ok", COMMANDS[command](registry, *args))
        except ServeError as error:
            reply = ("error", error.status, str(error))
        with send_lock:
            conn.send((call_id, reply))

    conn.send((0, ("ok", os.getpid())))
    while (message := conn.recv()) is not None:
        threading.Thread(target=run, args=message, daemon=True).start()


class Worker:
    """One worker process; `call` sends a command and waits (bounded) for its reply; `start` returns at once."""

    def __init__(self, root: Path, script: Path | None, budget: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(str(root), str(script) if script else None, budget, child))
        self.process.start()
        self._replies: dict[int, tuple[Any, ...]] = {}
        self._next = 1
        self.pid = self._wait(0)[1]

    def start(self, command: str, *args: Any) -> int:
        call_id, self._next = self._next, self._next + 1
        self._conn.send((call_id, command, list(args)))
        return call_id

    def _wait(self, call_id: int) -> tuple[Any, ...]:
        while call_id not in self._replies:
            if not self._conn.poll(REPLY_TIMEOUT_S):
                raise TimeoutError(f"worker {self.process.pid}: no reply to call {call_id} in {REPLY_TIMEOUT_S} s")
            got_id, reply = self._conn.recv()
            self._replies[got_id] = reply
        return self._replies.pop(call_id)

    def result(self, call_id: int) -> Any:
        """The command's result; raises AssertionError with the status and message when it failed."""
        reply = self._wait(call_id)
        if reply[0] != "ok":
            raise AssertionError(f"{reply[1]}: {reply[2]}")
        return reply[1]

    def outcome(self, call_id: int) -> tuple[Any, ...]:
        return self._wait(call_id)

    def call(self, command: str, *args: Any) -> Any:
        return self.result(self.start(command, *args))

    def status(self, command: str, *args: Any) -> tuple[Any, ...]:
        return self.outcome(self.start(command, *args))

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(REPLY_TIMEOUT_S)
