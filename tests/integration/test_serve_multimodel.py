"""Multi-model endpoints through real gunicorn over HTTP (SAGEMAKER_MULTI_MODEL=true): the /models routes, the
memory budget's 507, every worker answering for a model loaded through one, unloading under load, per-model code
and requirements, concurrent loads."""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.serving import Reply, Server, free_port, start, stop, wait_for, wait_ready
from tests.integration.test_train import _wheel

ENDPOINT_SCRIPT = """
import os
from pathlib import Path

def model_fn(model_dir):
    folder = Path(model_dir)
    if (folder / "fail").exists():
        raise ValueError((folder / "fail").read_text())
    size = int((folder / "alloc_mb").read_text())
    ballast = bytearray(size * 1024 * 1024)
    ballast[::4096] = b"\\x01" * len(range(0, len(ballast), 4096))  # touch every page: real resident memory
    return {"name": (folder / "name.txt").read_text(), "ballast": ballast}

def predict_fn(data, model, context):
    return {"model": model["name"], "target": context.target_model, "pid": os.getpid(), "echo": data}
"""
MakeModel = Callable[..., str]
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module", params=("async", "sync", "gthread"))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("mme")
    site = base / "site"  # PIP_TARGET keeps the test venv clean: per-model requirements install there
    threads = {"SAGEMAKER_MODEL_SERVER_THREADS": "8"} if request.param == "async" else {}
    started = start(
        base,
        ENDPOINT_SCRIPT,
        request.param,
        SAGEMAKER_MULTI_MODEL="true",
        SAGEMAKER_MME_MEMORY_BUDGET_MB="900",
        SAGEMAKER_MAX_BATCH_SIZE="4",
        SAGEMAKER_MAX_BATCH_WAIT_MS="20",
        **threads,
        PIP_TARGET=str(site),
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    )
    try:
        wait_ready(started)
        yield started
    finally:
        stop(started)


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    def make(name: str, alloc_mb: int = 0, fail: str | None = None, code: dict[str, str] | None = None) -> str:
        folder = tmp_path / "models" / name
        folder.mkdir(parents=True)
        (folder / "name.txt").write_text(name)
        (folder / "alloc_mb").write_text(str(alloc_mb))
        if fail is not None:
            (folder / "fail").write_text(fail)
        for path, text in (code or {}).items():
            (folder / "code" / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / "code" / path).write_text(text)
        return str(folder)

    return make


def load(server: Server, name: str, url: str) -> Reply:
    return server.request("POST", "/models", json.dumps({"model_name": name, "url": url}).encode(), **JSON)


def invoke(server: Server, name: str, payload: object = 1, **headers: str) -> Reply:
    path = f"/models/{urllib.parse.quote(name)}/invoke"
    return server.request("POST", path, json.dumps(payload).encode(), **JSON, **headers)


def test_the_model_routes(server: Server, make_model: MakeModel) -> None:
    url = make_model("routes-a")
    assert (load(server, "routes-a", url).status, load(server, "routes-b", make_model("routes-b")).status) == (200, 200)
    again = load(server, "routes-a", url)
    assert (again.status, again.json()["message"]) == (409, "Model routes-a is already loaded")
    assert server.request("GET", "/models/routes-a").json() == {"modelName": "routes-a", "modelUrl": url}
    listed = server.request("GET", "/models?limit=1").json()
    assert [m["modelName"] for m in listed["models"]] == ["routes-a"]
    rest = server.request("GET", f"/models?limit=100&nextPageToken={listed['nextPageToken']}").json()
    assert "routes-b" in [m["modelName"] for m in rest["models"]] and "routes-a" not in str(rest)
    reply = invoke(server, "routes-a", [1, 2])
    assert reply.status == 200 and reply.json()["echo"] == [1, 2]
    assert reply.json()["target"] == "routes-a"  # X-Amzn-SageMaker-Target-Model reaches the context
    old = server.invoke(b"3", "application/json", **{"X-Amzn-Target-Model": "routes-b"}).json()
    assert (old["model"], old["target"]) == ("routes-b", "routes-b")  # /invocations by the older header
    assert invoke(server, "routes-a", Accept="text/nope").status == 406  # the codecs' negotiation, as /invocations
    assert server.request("GET", "/ping").status == 200
    assert server.request("DELETE", "/models/routes-a").status == 200
    for reply in (server.request("GET", "/models/routes-a"), invoke(server, "routes-a")):
        assert (reply.status, reply.json()["message"]) == (404, "Model not found: routes-a")
    assert server.request("DELETE", "/models/routes-a").status == 404
    assert server.request("DELETE", "/models/routes-b").status == 200


def test_bad_loads_are_answered_with_what_is_wrong_and_leave_nothing(server: Server, make_model: MakeModel) -> None:
    bad_json = server.request("POST", "/models", b"{nope", **JSON)
    assert bad_json.status == 400 and "POST /models is not valid JSON" in bad_json.json()["message"]
    no_url = server.request("POST", "/models", b'{"model_name": "x", "ulr": "/a"}', **JSON)
    assert no_url.status == 400 and "lacks url" in no_url.json()["message"]
    assert load(server, "x", "/no/such/folder").status == 404
    failing = load(server, "failing", make_model("failing", fail="the weights are corrupt"))
    assert failing.status == 500 and "the weights are corrupt" in failing.json()["message"]
    assert server.request("GET", "/models/failing").status == 404
    too_big = load(server, "too-big", make_model("too-big", alloc_mb=600))  # 600 MiB x 2 workers > 900 MiB
    assert too_big.status == 507, too_big.body
    assert server.request("GET", "/models/too-big").status == 404
    small = load(server, "small", make_model("small"))
    assert small.status == 200  # the refused load released what it took
    assert server.request("DELETE", "/models/small").status == 200


def test_a_model_loaded_through_one_worker_is_served_by_every_worker(server: Server, make_model: MakeModel) -> None:
    assert load(server, "everywhere", make_model("everywhere")).status == 200
    workers, seen = server.worker_pids(), set()

    def spread() -> bool:
        with ThreadPoolExecutor(8) as pool:
            for reply in pool.map(lambda i: invoke(server, "everywhere", i), range(16)):
                assert reply.status == 200, reply.body
                seen.add(reply.json()["pid"])
        return seen >= workers

    wait_for(spread, 30, f"every worker {workers} to answer (seen {seen})")
    assert server.request("DELETE", "/models/everywhere").status == 200


def test_unloading_under_load_gives_no_5xx_then_404(server: Server, make_model: MakeModel) -> None:
    assert load(server, "busy", make_model("busy")).status == 200
    statuses: list[int] = []
    stop_sending, first = threading.Event(), threading.Event()

    def send() -> None:
        while not stop_sending.is_set():
            statuses.append(invoke(server, "busy").status)
            first.set()

    senders = [threading.Thread(target=send) for _ in range(4)]
    for sender in senders:
        sender.start()
    assert first.wait(10)
    assert server.request("DELETE", "/models/busy").status == 200
    after = [invoke(server, "busy").status for _ in range(10)]
    stop_sending.set()
    for sender in senders:
        sender.join(10)
    assert set(statuses) <= {200, 404} and 200 in statuses
    assert after == [404] * 10


def test_per_model_code_and_requirements(server: Server, make_model: MakeModel, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _wheel(wheels, "smtk_mme_dep", "1.0", "FACTOR = 7\n")
    code = {
        "inference.py": "import smtk_mme_dep\n\ndef model_fn(model_dir):\n    return smtk_mme_dep.FACTOR\n\n"
        "def predict_fn(data, model):\n    return {'own': data * model}\n",
        "requirements.txt": f"--no-index\n--find-links {wheels}\nsmtk_mme_dep==1.0\n",
    }
    for name in ("own-1", "own-2"):
        assert load(server, name, make_model(name, code=code)).status == 200
        assert invoke(server, name, 3).json() == {"own": 21}
    assert server.output().count("Installed the requirements of") == 1  # once per distinct file
    assert invoke(server, "own-1", 2).json() == {"own": 14}
    for name in ("own-1", "own-2"):
        assert server.request("DELETE", f"/models/{name}").status == 200


OWN_UTILS = """
import os
import utils

def model_fn(model_dir):
    return None

def predict_fn(data, model):
    return {"utils": utils.VALUE, "pid": os.getpid()}
"""
LEFTOVERS = """
import os, sys

def model_fn(model_dir):
    return None

def predict_fn(root, model):
    files = [str(getattr(m, "__file__", None)) for m in list(sys.modules.values())]
    return {"pid": os.getpid(), "left": [p for p in sys.path + files if p.startswith(root) and "inspector" not in p]}
"""


def answers_by_worker(server: Server, name: str, payload: object = 1) -> dict[int, object]:
    """The model's answer from each worker (the answer holds the worker's "pid")."""
    workers, seen = server.worker_pids(), {}

    def spread() -> bool:
        with ThreadPoolExecutor(8) as pool:
            for reply in pool.map(lambda _: invoke(server, name, payload), range(16)):
                assert reply.status == 200, reply.body
                answer = reply.json()
                seen[answer.pop("pid")] = answer
        return set(seen) >= workers

    wait_for(spread, 30, f"every worker {workers} to answer for {name} (seen {set(seen)})")
    return seen


@pytest.mark.parametrize("order", ["a-then-b", "b-then-a", "together"])
def test_each_model_imports_its_own_neighbour_modules(server: Server, make_model: MakeModel, order: str) -> None:
    """Two models' code/inference.py each `import utils` from their own folder: each answers with its own, in every
    worker, whichever a worker loads first (a worker that did not take the POST loads on the first request), and
    when both loads run at once (in one worker's threads on the async and gthread workers)."""
    names = ["utils-b", "utils-a"] if order == "b-then-a" else ["utils-a", "utils-b"]
    code = {name: {"inference.py": OWN_UTILS, "utils.py": f"VALUE = {name!r}\n"} for name in names}
    urls = {name: make_model(name, code=code[name]) for name in names}
    with ThreadPoolExecutor(2 if order == "together" else 1) as pool:
        assert [r.status for r in pool.map(lambda name: load(server, name, urls[name]), names)] == [200, 200]
    for name in names:
        assert set(map(str, answers_by_worker(server, name).values())) == {str({"utils": name})}
    for name in names:
        assert server.request("DELETE", f"/models/{name}").status == 200


def test_a_model_reloaded_under_its_name_runs_its_new_code_and_leaves_nothing(
    server: Server, make_model: MakeModel, tmp_path: Path
) -> None:
    package = OWN_UTILS.replace("import utils", "import helpers as utils")  # a package neighbour
    url = make_model("changing", code={"inference.py": package, "helpers/__init__.py": "VALUE = 'old'\n"})
    assert load(server, "changing", url).status == 200
    assert set(map(str, answers_by_worker(server, "changing").values())) == {str({"utils": "old"})}
    assert server.request("DELETE", "/models/changing").status == 200
    (Path(url) / "code" / "helpers" / "__init__.py").write_text("VALUE = 'new'\n")  # same size, same second
    assert load(server, "changing", url).status == 200
    assert set(map(str, answers_by_worker(server, "changing").values())) == {str({"utils": "new"})}
    assert server.request("DELETE", "/models/changing").status == 200
    assert load(server, "inspector", make_model("inspector", code={"inference.py": LEFTOVERS})).status == 200
    left = answers_by_worker(server, "inspector", str(tmp_path / "models"))
    assert list(left.values()) == [{"left": []}] * len(left)  # nothing of "changing" in any worker
    assert server.request("DELETE", "/models/inspector").status == 200


def test_concurrent_loads(server: Server, make_model: MakeModel) -> None:
    names = [f"many-{i}" for i in range(8)]
    urls = {name: make_model(name) for name in names}
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda name: load(server, name, urls[name]), names))
        same = list(pool.map(lambda _: load(server, "many-0", urls["many-0"]).status, range(4)))
    assert [r.status for r in replies] == [200] * 8
    assert same == [409] * 4
    listed = server.request("GET", "/models").json()["models"]
    assert {m["modelName"] for m in listed} >= set(names)
    for name in names:
        assert invoke(server, name).json()["model"] == name
        assert server.request("DELETE", f"/models/{name}").status == 200


def test_invoke_streams_and_batches_per_model(server: Server, make_model: MakeModel) -> None:
    streaming = (
        "def model_fn(model_dir):\n    return None\n\ndef predict_fn(data, model):\n    yield b'a'\n    yield b'b'\n"
    )
    batching = (
        "import time\n\ndef model_fn(model_dir):\n    return None\n\n"
        "def batch_predict_fn(batch, model):\n    time.sleep(0.05)\n    return [[x, len(batch)] for x in batch]\n"
    )
    assert load(server, "streams", make_model("streams", code={"inference.py": streaming})).status == 200
    assert load(server, "batches", make_model("batches", code={"inference.py": batching})).status == 200
    streamed = invoke(server, "streams")
    assert (streamed.status, streamed.body, streamed.headers.get("transfer-encoding")) == (200, b"ab", "chunked")
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda i: invoke(server, "batches", i).json(), range(16)))
    assert [x for x, _ in replies] == list(range(16))  # each request its own answer
    assert max(size for _, size in replies) <= 4
    for name in ("streams", "batches"):
        assert server.request("DELETE", f"/models/{name}").status == 200


def test_the_store_lives_in_shared_memory_while_serving_and_is_removed_at_exit(tmp_path: Path) -> None:
    server = start(tmp_path, None, "sync", SAGEMAKER_MULTI_MODEL="true")  # no endpoint script: models bring theirs
    try:
        wait_ready(server)
        line = wait_for(lambda: re.search(r"store (\S+),", server.output()), 10, "the store's log line")
        store = Path(line.group(1))
        assert (store / "config.json").is_file()
        (tmp_path / "model" / "weights.bin").write_bytes(b"1")
        reply = load(server, "scriptless", str(tmp_path / "model"))
        assert (reply.status, reply.json()["message"]) == (
            400,
            f"{tmp_path / 'model'} has no code/inference.py and the endpoint has no inference script",
        )
    finally:
        stop(server)
    assert server.process.returncode == 0
    assert not store.exists()


def test_vertex_variables_never_move_a_multi_model_endpoint_off_its_port(tmp_path: Path) -> None:
    """Vertex AI is not served on a multi-model endpoint: AIP_* (as Vertex would set them) must not move the port
    to AIP_HTTP_PORT nor fetch AIP_STORAGE_URI, and the start-up says Vertex is not served."""
    server = start(
        tmp_path,
        ENDPOINT_SCRIPT,
        "sync",
        SAGEMAKER_MULTI_MODEL="true",
        AIP_MODE="PREDICTION",
        AIP_HTTP_PORT=str(free_port()),
        AIP_STORAGE_URI=str(tmp_path / "no-such-model"),
    )
    try:
        wait_ready(server)
        assert "Serving protocols" not in server.output()
    finally:
        stop(server)
    assert server.process.returncode == 0
