"""`python -m smtoolkit.serve` for real: gunicorn on a free loopback port, an inference script in tmp_path.

Routes, statuses, payload limits, concurrency, a worker killed mid-request, SIGTERM with requests in flight.
"""

from __future__ import annotations

import http.client
import io
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.integration.serving import Reply, Server, ping, start, stop, wait_for, wait_ready, worker_class

__all__ = ["worker_class"]  # the fixture that runs this module once per worker class

pytestmark = pytest.mark.integration

SCRIPT = """
import os
import threading
import time
from pathlib import Path

from smtoolkit.errors import ServeError


class Identity:
    def predict(self, data):
        return data


def model_fn(model_dir):
    release, deadline = Path(model_dir) / "release", time.monotonic() + 20
    while not release.exists():  # the test decides when loading ends
        if time.monotonic() > deadline:
            raise TimeoutError("no release file")
        time.sleep(0.02)
    (Path(model_dir) / f"loaded-{os.getpid()}").touch()  # which processes have loaded it (per worker: no preload)
    return Identity()


def predict_fn(data, model, context):
    if isinstance(data, dict):
        if "whoami" in data:
            return {"pid": os.getpid()}
        if "sleep" in data:  # busy-<worker pid> tells the test which worker holds the request
            busy = f"busy-{os.getpid()}-{threading.get_ident()}"
            (Path(context.system_properties["model_dir"]) / busy).touch()
            time.sleep(data["sleep"])
        if "status" in data:
            raise ServeError(data["message"], status=data["status"])
        if "crash" in data:
            raise RuntimeError("secret-token-123")
    if context.custom_attributes:
        context.set_custom_attributes("echo:" + context.custom_attributes)
    return model.predict(data)
"""


@pytest.fixture(scope="module")
def loading_pings(tmp_path_factory: pytest.TempPathFactory, worker_class: str) -> Iterator[tuple[Server, Reply, Reply]]:
    """A server, the first /ping answer while model_fn waits, and the first after it returned."""
    server = start(tmp_path_factory.mktemp("serve") / "opt" / "ml", SCRIPT, worker_class)
    try:
        first = wait_for(lambda: ping(server), 20, "a /ping answer")
        (server.base / "model" / "release").touch()
        ready = wait_for(lambda: (r := ping(server)) is not None and r.status == 200 and r, 20, "/ping 200")
        yield server, first, ready
    finally:
        stop(server)


@pytest.fixture
def server(loading_pings: tuple[Server, Reply, Reply]) -> Server:
    return loading_pings[0]


def test_ping_is_503_while_the_model_loads_then_200_with_an_empty_body(loading_pings):
    _, first, ready = loading_pings
    assert first.status == 503 and first.headers["content-type"] == "application/json"
    assert first.json()["type"] == "ModelNotReady"
    assert (ready.status, ready.body) == (200, b"")
    assert ready.headers["content-type"].startswith("text/plain")


def test_csv_json_and_npy(server: Server):
    reply = server.invoke(b"1,2,3\n4,5,6\n", "text/csv; charset=utf-8", Accept="text/csv")
    assert (reply.status, reply.headers["content-type"], reply.body) == (200, "text/csv", b"1.0,2.0,3.0\n4.0,5.0,6.0\n")
    reply = server.invoke(b"[[1, 2], [3, 4]]", "application/json")
    assert reply.headers["content-type"] == "application/json" and reply.json() == [[1, 2], [3, 4]]
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4, dtype=np.float32))
    reply = server.invoke(buffer.getvalue(), "application/x-npy", Accept="application/x-npy;q=0.9, text/html;q=0.1")
    assert reply.headers["content-type"] == "application/x-npy"
    assert np.load(io.BytesIO(reply.body)).tolist() == [0.0, 1.0, 2.0, 3.0]


def _assert_json_error(reply: Reply, status: int, text: str) -> None:
    assert reply.status == status and reply.headers["content-type"] == "application/json"
    assert text in reply.json()["message"]
    assert b"Traceback" not in reply.body and b'File "' not in reply.body


def test_error_statuses_have_json_bodies_and_no_tracebacks(server: Server):
    _assert_json_error(server.invoke(b"x", "application/x-unknown"), 415, "application/x-unknown")
    _assert_json_error(server.invoke(b"1", "text/csv", Accept="image/png"), 406, "image/png")
    _assert_json_error(server.invoke(b"1", "text/cvs"), 415, "'text/cvs' (did you mean text/csv?); supported: ")
    _assert_json_error(
        server.invoke(b"1", "text/csv", Accept="application/jsno"), 406, "(did you mean application/json?)"
    )
    _assert_json_error(server.invoke(b"1,2\n3\n", "text/csv"), 400, "line 2 has 1 fields")
    _assert_json_error(server.invoke(b'{"status": 422, "message": "bad feature"}', "application/json"), 422, "bad")
    crash = server.invoke(b'{"crash": 1}', "application/json")
    _assert_json_error(crash, 500, "predict_fn failed with RuntimeError")
    assert b"secret-token-123" not in crash.body
    wait_for(lambda: "secret-token-123" in server.output(), 5, "the traceback in the server log")
    # The user's traceback alone, once: not chained through our pipeline's and router's frames.
    output = server.output()
    assert 'inference.py", line' in output and "RuntimeError: secret-token-123" in output
    assert "direct cause" not in output and "pipeline.py" not in output and "router.py" not in output


def test_a_malformed_content_length_is_a_transport_400_and_the_worker_keeps_serving(server: Server):
    # Rejected by the HTTP parser (httptools, gunicorn's) before any route: not the JSON body (README "Bodies").
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n")
        raw.sendall(b"Content-Length: abc\r\n\r\n[1]")
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Traceback" not in answer
    assert server.invoke(b"[1]", "application/json").json() == [1]


def test_payload_over_the_limit_is_413_before_the_body_is_read(server: Server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("POST", "/invocations")
        connection.putheader("Content-Type", "text/csv")
        connection.putheader("Content-Length", str(2 * 1024 * 1024))
        connection.endheaders()  # no body is sent: the server must answer from the header alone
        response = connection.getresponse()
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()
    _assert_json_error(reply, 413, "the limit is 1048576")


def test_chunked_body_is_read_whole(server: Server):  # its limit: tests/unit/serve/test_app.py
    def send(chunks: list[bytes]) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            headers = {"Content-Type": "text/csv", "Accept": "text/csv", "Transfer-Encoding": "chunked"}
            connection.request("POST", "/invocations", body=iter(chunks), headers=headers, encode_chunked=True)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    reply = send([b"1,2\n", b"3,4\n"])
    assert (reply.status, reply.body) == (200, b"1.0,2.0\n3.0,4.0\n")


def test_custom_attributes_round_trip(server: Server):
    reply = server.invoke(b"1", "text/csv", **{"X-Amzn-SageMaker-Custom-Attributes": "trace-id=42"})
    assert reply.status == 200
    assert reply.headers["x-amzn-sagemaker-custom-attributes"] == "echo:trace-id=42"


def test_execution_parameters(server: Server, worker_class: str):
    reply = server.request("GET", "/execution-parameters")
    assert reply.headers["content-type"] == "application/json"
    concurrency = 4 if worker_class == "gthread" else 2  # workers x threads
    assert reply.json() == {
        "MaxConcurrentTransforms": concurrency,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 1,
    }


def test_concurrent_requests_each_get_their_own_answer(server: Server):
    def call(number: int) -> tuple[int, Reply]:
        return number, server.invoke(f"{number},{number + 0.5}\n".encode(), "text/csv", Accept="text/csv")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(200)))
    for number, reply in results:
        assert (reply.status, reply.body) == (200, f"{float(number)},{number + 0.5}\n".encode())


def _busy_workers(base: Path) -> set[int]:
    return {int(path.name.split("-")[1]) for path in (base / "model").glob("busy-*")}


def test_a_worker_killed_mid_request_is_replaced_and_the_server_keeps_answering(server: Server):
    for stale in (server.base / "model").glob("busy-*"):
        stale.unlink()
    workers = wait_for(lambda: len(pids := server.worker_pids()) == 2 and pids, 10, "two workers")
    errors: list[BaseException] = []

    def doomed() -> None:
        try:
            server.invoke(b'{"sleep": 30}', "application/json")
        except (ConnectionError, http.client.HTTPException) as exc:  # the worker dies with the connection
            errors.append(exc)

    thread = threading.Thread(target=doomed)
    thread.start()
    [victim] = wait_for(lambda: _busy_workers(server.base), 10, "the slow request to reach predict_fn")
    assert victim in workers
    os.kill(victim, signal.SIGKILL)
    thread.join(10)
    assert errors and not thread.is_alive()
    for _ in range(20):  # answered throughout: by the survivor, then by the replacement too
        assert server.invoke(b'{"whoami": 1}', "application/json").status == 200
        assert server.request("GET", "/ping").status == 200
    replaced = wait_for(lambda: len(pids := server.worker_pids()) == 2 and victim not in pids and pids, 10, "a new one")
    assert len(replaced & workers) == 1
    answering = {server.invoke(b'{"whoami": 1}', "application/json").json()["pid"] for _ in range(40)}
    assert victim not in answering


def test_a_worker_killed_under_load_costs_only_the_requests_it_held(server: Server):
    stop_load = threading.Event()
    statuses: list[int] = []
    errors: list[BaseException] = []

    def load() -> None:
        while not stop_load.is_set():
            try:
                statuses.append(server.invoke(b"1,2\n", "text/csv").status)
            except (ConnectionError, http.client.HTTPException) as exc:  # held by the killed worker
                errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(statuses) > 50, 20, "the load to run")
        workers = wait_for(lambda: len(pids := server.worker_pids()) == 2 and pids, 10, "two workers")
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(pids := server.worker_pids()) == 2 and victim not in pids, 20, "a replacement")
        answered = len(statuses)
        wait_for(lambda: len(statuses) > answered + 50, 20, "answers after the replacement")
    finally:
        stop_load.set()
        for thread in threads:
            thread.join(10)
    assert set(statuses) == {200}
    assert len(errors) <= len(threads)  # at most the requests in flight on the victim


def test_no_access_log_by_default(server: Server):
    for _ in range(3):
        assert server.request("GET", "/ping").status == 200
        assert server.invoke(b"1", "text/csv").status == 200
    output = server.output()
    assert "Booting worker" in output  # gunicorn's own log is there
    assert '"GET /ping HTTP' not in output and '"POST /invocations HTTP' not in output


def _released(tmp_path: Path) -> Path:
    """A job tree whose model SCRIPT's model_fn loads at once (its release file is there)."""
    base = tmp_path / "opt" / "ml"
    (base / "model").mkdir(parents=True)
    (base / "model" / "release").touch()
    return base


def test_sigterm_lets_every_request_in_flight_finish_then_exits_0(tmp_path: Path, worker_class: str):
    base = _released(tmp_path)
    pool = {"SAGEMAKER_MODEL_SERVER_THREADS": "2"} if worker_class == "async" else {}  # one worker may take both
    server = start(base, SCRIPT, worker_class, SAGEMAKER_PRELOAD_MODEL="false", **pool)
    try:
        wait_ready(server, 20)
        # /ping answers once one worker has loaded the model; a request sent while the other still loads would
        # queue behind the first one's, and one worker would hold both in turn.
        wait_for(lambda: len(list((base / "model").glob("loaded-*"))) == 2, 20, "both workers to load the model")
        replies: list[Reply] = []

        def slow() -> None:
            replies.append(server.invoke(b'{"sleep": 1}', "application/json"))

        threads = [threading.Thread(target=slow) for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(list((base / "model").glob("busy-*"))) == 2, 10, "both requests to reach predict_fn")
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
        for thread in threads:
            thread.join(10)
        assert time.monotonic() - started < 9  # well under the 25 s graceful timeout, even on a loaded machine
        assert [(r.status, r.json()) for r in replies] == [(200, {"sleep": 1})] * 2
        assert "Error while closing socket" not in server.output()  # uvicorn-worker closed a closed socket
    finally:
        stop(server)


def test_sigint_to_the_master_alone_ends_serve_within_seconds(tmp_path: Path, worker_class: str):
    base = _released(tmp_path)
    server = start(base, SCRIPT, worker_class, SAGEMAKER_MODEL_SERVER_GRACEFUL_TIMEOUT="25")
    try:
        wait_ready(server, 20)
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: no waiting out the 25 s
        assert server.process.wait(15) == 0
        assert time.monotonic() - started < 5
        assert "was sent SIG" not in server.output()  # neither SIGKILLed after 25 s nor killed while booting
    finally:
        stop(server)


def test_sigterm_while_the_model_loads_exits_0(tmp_path: Path, worker_class: str):
    server = start(tmp_path / "opt" / "ml", SCRIPT, worker_class)  # no release file: model_fn waits
    try:
        first = wait_for(lambda: ping(server), 20, "a /ping answer")
        assert first.status == 503
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(5) == 0
    finally:
        stop(server)


@pytest.mark.parametrize(("preload", "status"), [("true", 1), ("false", 3)])
def test_a_failing_model_fn_stops_the_server_with_its_error(tmp_path: Path, preload: str, status: int, worker_class):
    script = "def model_fn(model_dir):\n    raise OSError('no weights here')\n"
    server = start(tmp_path / "opt" / "ml", script, worker_class, SAGEMAKER_PRELOAD_MODEL=preload)
    try:
        assert server.process.wait(20) == status
        output = server.output()
        assert "model_fn failed: OSError: no weights here" in output
        # The user's traceback once (per worker that loads it), not chained through gunicorn's internals.
        assert 1 <= output.count("Traceback") <= (1 if preload == "true" else 2) and "inference.py" in output
        assert "direct cause" not in output and "gunicorn/arbiter.py" not in output and "pipeline.py" not in output
    finally:
        stop(server)


def test_a_port_in_use_is_one_error_line_and_exit_2_before_the_model_loads(tmp_path: Path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        script = "def model_fn(model_dir):\n    print('model_fn ran', flush=True)\n    return lambda data: data\n"
        server = start(tmp_path / "opt" / "ml", script, SAGEMAKER_BIND_TO_PORT=str(port))
        try:
            started = time.monotonic()
            assert server.process.wait(20) == 2  # a configuration error
            assert time.monotonic() - started < 4  # no five binds a second apart
            output = server.output()
            errors = [line for line in output.splitlines() if "error" in line.lower()]
            assert errors == [
                f"error: environment: cannot listen on 127.0.0.1 port {port}: address already in use "
                f"(SAGEMAKER_BIND_TO_PORT={port})"
            ]
            assert "model_fn ran" not in output
        finally:
            stop(server)


def test_a_script_without_model_fn_fails_at_startup(tmp_path: Path, worker_class: str):
    script = "def predict_fn(data, model):\n    return data\n"
    server = start(tmp_path / "opt" / "ml", script, worker_class, SAGEMAKER_MODEL_SERVER_TIMOUT="5")
    try:
        assert server.process.wait(20) == 2  # the entry point is wrong: a configuration error
        assert "defines no model_fn(model_dir)" in server.output()
        assert (
            "SAGEMAKER_MODEL_SERVER_TIMOUT is not a setting smtoolkit knows, so it is ignored (did you mean "
            "SAGEMAKER_MODEL_SERVER_TIMEOUT?)" in server.output()
        )
    finally:
        stop(server)


def test_async_ping_answers_while_the_only_handler_thread_is_busy(tmp_path: Path):
    base = _released(tmp_path)
    server = start(base, SCRIPT, "async", SAGEMAKER_MODEL_SERVER_WORKERS="1", SAGEMAKER_MODEL_SERVER_THREADS="1")
    try:
        wait_ready(server, 20)
        slow = threading.Thread(target=server.invoke, args=(b'{"sleep": 5}', "application/json"))
        slow.start()
        wait_for(lambda: _busy_workers(base), 10, "the slow request to reach predict_fn")
        started = time.monotonic()
        assert server.request("GET", "/ping").status == 200
        assert time.monotonic() - started < 1  # not queued behind the 5 s predict
        slow.join(10)
    finally:
        stop(server)


def test_async_a_call_past_the_timeout_is_a_504_and_its_worker_is_replaced(tmp_path: Path):
    base = _released(tmp_path)
    server = start(base, SCRIPT, "async", SAGEMAKER_MODEL_SERVER_WORKERS="1", SAGEMAKER_MODEL_SERVER_TIMEOUT="2")
    try:
        wait_ready(server, 20)
        [worker] = wait_for(lambda: server.worker_pids(), 10, "the worker")
        reply = server.invoke(b'{"sleep": 6}', "application/json")
        assert reply.status == 504 and reply.json()["type"] == "HandlerTimeout"
        wait_for(lambda: (pids := server.worker_pids()) and worker not in pids, 20, "a new worker")
        wait_ready(server, 20)
        assert server.invoke(b'{"whoami": 1}', "application/json").status == 200
    finally:
        stop(server)


@pytest.mark.parametrize("preload", ["true", "false"])
def test_start_up_objects_are_frozen_out_of_the_collectors_sight_in_every_worker(tmp_path: Path, preload: str):
    """gc.freeze after start-up (in the master before the fork, or in a worker after its own load): full
    collections under load then walk only what serving creates, not every import and the model."""
    script = "import gc\n\ndef model_fn(model_dir):\n    return None\n\ndef predict_fn(data, model):\n"
    script += "    return gc.get_freeze_count()\n"
    server = start(tmp_path, script, "async", SAGEMAKER_PRELOAD_MODEL=preload, SAGEMAKER_MODEL_SERVER_WORKERS="1")
    try:
        wait_ready(server)
        reply = server.invoke(b"1", "application/json")
        assert reply.status == 200, reply.body
        assert reply.json() > 10_000  # the interpreter, gunicorn, uvicorn, smtoolkit: tens of thousands
    finally:
        stop(server)
