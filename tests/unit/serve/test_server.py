"""The server's plan (gunicorn options, code dir), `main`'s exits, and loading while answering 503."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError, LaunchError, SmtoolkitError
from smtoolkit.serve import execute
from smtoolkit.serve.execute import main
from smtoolkit.serve.hosting import startup
from smtoolkit.serve.hosting.server import gunicorn_options


def test_gunicorn_options_follow_the_settings():
    settings = ServingSettings(
        bind_to_port=9000,
        model_server_workers=3,
        model_server_timeout=90,
        model_server_worker_class="gthread",
        model_server_threads=4,
        container_log_level=30,
    )
    options = gunicorn_options(settings)
    assert options["bind"] == ["0.0.0.0:9000"]
    assert (options["workers"], options["worker_class"], options["threads"]) == (3, "gthread", 4)
    assert (options["timeout"], options["graceful_timeout"], options["loglevel"]) == (90, 25, "warning")
    assert options["preload_app"] is False and options["accesslog"] is None
    assert gunicorn_options(ServingSettings(bind_to_address="::1"))["bind"] == ["[::1]:8080"]


@pytest.fixture(autouse=True)
def _no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() sets the root logger's level; tests keep pytest's own."""
    monkeypatch.setattr(execute, "set_level", lambda level: None)


def test_main_refuses_arguments_and_bad_settings(monkeypatch: pytest.MonkeyPatch):
    """Errors propagate to the CLI, which ends every command by one table (exit 2 for these)."""
    with pytest.raises(ConfigError, match=r"takes no arguments but --dry-run, got --port 1"):
        main(["serve", "--port", "1"])
    with pytest.raises(ConfigError, match=r"got --dry-rn \(did you mean --dry-run\?\)"):
        main(["--dry-rn"])
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "x")
    with pytest.raises(ConfigError, match="SAGEMAKER_BIND_TO_PORT: got 'x'"):
        main([])


def test_main_fails_before_serving_without_a_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    with pytest.raises(SmtoolkitError, match="inference.py not found"):
        main(["serve"])
    # A multi-model endpoint may do without a script (each model brings its own), but not without one it names.
    monkeypatch.setenv("SAGEMAKER_MULTI_MODEL", "true")
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "missing.py")
    with pytest.raises(SmtoolkitError, match="missing.py not found"):
        main([])


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def _get(port: int, path: str = "/ping") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_load_while_answering_answers_503_until_the_load_is_done(listener: socket.socket):
    release, answers = threading.Event(), []
    port = listener.getsockname()[1]

    def client() -> None:
        answers.append(_get(port))
        release.set()

    thread = threading.Thread(target=client)
    thread.start()
    assert startup.load_while_answering(lambda: release.wait(5), [listener], timeout=10)
    thread.join(5)
    assert answers[0][0] == 503 and b'"ModelNotReady"' in answers[0][1]


def test_load_while_answering_raises_what_the_load_raised(listener: socket.socket):
    def load() -> None:
        raise OSError("no weights")

    with pytest.raises(OSError, match="no weights"):
        startup.load_while_answering(load, [listener], timeout=10)


def test_load_while_answering_gives_up_after_the_startup_timeout(listener: socket.socket):
    stop = threading.Event()
    with pytest.raises(LaunchError, match="over 0.2 s"):
        startup.load_while_answering(lambda: stop.wait(5), [listener], timeout=0.2)
    stop.set()


def test_sigterm_while_loading_returns_false_and_restores_the_handler(listener: socket.socket):
    previous = signal.getsignal(signal.SIGTERM)
    stop = threading.Event()

    def load() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        stop.wait(5)

    assert startup.load_while_answering(load, [listener], timeout=10) is False
    stop.set()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_load_in_background_exits_the_worker_on_failure_or_timeout(monkeypatch: pytest.MonkeyPatch):
    exits: list[str] = []
    monkeypatch.setattr(startup, "_exit_worker", lambda message, error=None: exits.append(message))

    def failing() -> None:
        raise OSError("no weights")

    startup.load_in_background(failing, lambda: False, timeout=30)
    stop = threading.Event()
    startup.load_in_background(lambda: stop.wait(5), lambda: False, timeout=0.1)
    deadline = time.monotonic() + 5
    while len(exits) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    assert any("loading the model failed: no weights" in m for m in exits)
    assert any("took over 0.1 s" in m for m in exits)
    # the failed load's watchdog was cancelled: it must not exit the process later (os._exit in real life)
    time.sleep(0.3)
    assert len(exits) == 2


def test_a_failed_load_cancels_its_watchdog(monkeypatch: pytest.MonkeyPatch):
    exits: list[str] = []
    monkeypatch.setattr(startup, "_exit_worker", lambda message, error=None: exits.append(message))

    def failing() -> None:
        raise OSError("no weights")

    startup.load_in_background(failing, lambda: False, timeout=0.2)
    time.sleep(0.6)
    assert len(exits) == 1 and "loading the model failed" in exits[0]


def test_load_in_background_runs_the_load():
    done = threading.Event()
    startup.load_in_background(done.set, done.is_set, timeout=30)
    assert done.wait(5)
