"""Adaptive batching, transport-free: 64 request threads against a model costing 10 ms per call plus
0.05 ms per row, one call at a time (as a model on one device runs), with and without the Batcher.

Goals from issue #13: batched throughput >= 5x unbatched; batched p99 <= max wait + 2 x one call.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from smtoolkit.serve.batching.batcher import Batcher

CALL_S, ROW_S = 0.010, 0.00005
CONNECTIONS = 64
MAX_BATCH, MAX_WAIT_S = 64, 0.010


class Model:
    """One call at a time, 10 ms + 0.05 ms per row: the cost shape of a model on an accelerator."""

    def __init__(self) -> None:
        self._device = threading.Lock()

    def predict(self, rows: list[Any]) -> list[Any]:
        with self._device:
            time.sleep(CALL_S + ROW_S * len(rows))
        return rows


def run(predict_one: Callable[[int], Any], requests_each: int) -> tuple[float, list[float]]:
    """Requests per second and every request's latency, CONNECTIONS threads each sending `requests_each`."""

    def client(index: int) -> list[float]:
        latencies = []
        for i in range(requests_each):
            started = time.perf_counter()
            assert predict_one(index * requests_each + i) == index * requests_each + i
            latencies.append(time.perf_counter() - started)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        latencies = [t for each in pool.map(client, range(CONNECTIONS)) for t in each]
    return len(latencies) / (time.perf_counter() - started), latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main(requests_each: int = 40) -> dict[str, float]:
    model = Model()
    unbatched, plain = run(lambda item: model.predict([item])[0], max(2, requests_each // 8))
    batcher = Batcher(model.predict, "batch_predict_fn", MAX_BATCH, MAX_WAIT_S)
    batched, latencies = run(batcher.submit, requests_each)
    batcher.close()
    bound = MAX_WAIT_S + 2 * (CALL_S + ROW_S * MAX_BATCH)
    print(f"unbatched: {unbatched:,.0f} req/s, p99 {p99(plain) * 1000:.1f} ms")
    limits = f"max {MAX_BATCH}, wait {MAX_WAIT_S * 1000:.0f} ms"
    print(f"batched ({limits}): {batched:,.0f} req/s, p99 {p99(latencies) * 1000:.1f} ms")
    print(f"ratio batched / unbatched: {batched / unbatched:.1f}x   (goal >= 5x)")
    print(f"batched p99 / (max wait + 2 calls = {bound * 1000:.1f} ms): {p99(latencies) / bound:.2f}   (goal <= 1)")
    return {"ratio": batched / unbatched, "p99_over_bound": p99(latencies) / bound}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
