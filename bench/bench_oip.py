"""POST /v2/models/echo/infer (Open Inference Protocol) under wrk on loopback: the baseline, MLServer.

- MLServer 1.7.1 (its own venv under bench/.venvs, made on first use): a custom MLModel runtime that decodes a
  1x4 FP32 tensor to numpy and returns it, with `parallel_workers` = --workers inference processes (plus its one
  HTTP process).

smtoolkit joins this run when its /v2 routes land, with the same process count, so that the two rates come
from one run (goal: at least 1.0x MLServer's requests/s). Rounds, wrk and the figures are bench_serve's.

    .venv/bin/python -m bench.bench_oip [--seconds 8] [--rounds 3] [--connections 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.bench_serve import WRK_SCRIPT, parse_args, run_wrk, summary, wait_ready
from bench.oip_targets import INFER_BODY, INFER_PATH, READY_PATH, start_mlserver, stop
from bench.serve_targets import free_port


def wrk_script() -> str:
    """bench_serve's Lua (one RESULT line), POSTing the FP32 infer body as JSON to the infer route."""
    lua = WRK_SCRIPT.format(body=INFER_BODY.replace('"', '\\"')).replace('"text/csv"', '"application/json"')
    return f'wrk.path = "{INFER_PATH}"\n{lua}'


def measure(name: str, start: Callable[[int], subprocess.Popen[bytes]], args: argparse.Namespace, script: Path) -> None:
    port = free_port()
    process = start(port)
    try:
        wait_ready(port, process, timeout=180, path=READY_PATH)
        load = (args.connections, args.threads, script, (), READY_PATH)
        run_wrk(port, process.pid, 1.0, *load)  # warm-up
        rounds = [run_wrk(port, process.pid, args.seconds, *load) for _ in range(args.rounds)]
        summary(name, rounds)
    finally:
        stop(process)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args([] if argv is None else argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk); skipping")
        return 0
    print(
        f"wrk -t{args.threads} -c{args.connections}, POST {INFER_PATH} with a 1x4 FP32 JSON tensor, "
        f"{args.workers} inference processes, {args.rounds} x {args.seconds:g} s per server"
    )
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "infer.lua"
        script.write_text(wrk_script())
        measure(
            f"mlserver ({args.workers} parallel_workers)",
            lambda port: start_mlserver(Path(tmp) / "mlserver", port, args.workers),
            args,
            script,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
