"""POST /v2/models/echo/infer (Open Inference Protocol) under wrk on loopback: smtoolkit serve against MLServer.

- smtoolkit serve with SMTOOLKIT_SERVE_PROTOCOLS=oip and the identity script (predict_fn gets the 1x4 FP32
  tensor as an ndarray and returns it), --workers gunicorn workers on the default (async) class.
- MLServer 1.7.1 (its own venv under bench/.venvs, made on first use): a custom MLModel runtime that decodes the
  tensor to numpy and returns it, with `parallel_workers` = --workers inference processes (plus its HTTP process).

Both run in the same run, their rounds interleaved, and the ratios of req/s are printed (goal: at least 1.0x
MLServer's). Rounds, wrk and the figures are bench_serve's.

    .venv/bin/python -m bench.bench_oip [--seconds 8] [--rounds 3] [--connections 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.bench_serve import WRK_SCRIPT, parse_args, report
from bench.oip_targets import INFER_BODY, INFER_PATH, MODEL_NAME, READY_PATH, start_mlserver, stop
from bench.serve_load import Round, Starter, run_wrk, wait_ready
from bench.serve_targets import free_port, start_ours


def wrk_script() -> str:
    """bench_serve's Lua (one RESULT line), POSTing the FP32 infer body as JSON to the infer route."""
    lua = WRK_SCRIPT.format(body=INFER_BODY.replace('"', '\\"')).replace('"text/csv"', '"application/json"')
    return f'wrk.path = "{INFER_PATH}"\n{lua}'


def measure_all(starters: Mapping[str, Starter], args: argparse.Namespace, script: Path) -> dict[str, list[Round]]:
    """Every server started and warmed, then the rounds interleaved (each round shares its moment's noise)."""
    ports = {name: free_port() for name in starters}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    load = (args.connections, args.threads, script, (), READY_PATH)
    try:
        for name, starter in starters.items():
            processes[name] = starter(ports[name])
            wait_ready(ports[name], processes[name], timeout=180, path=READY_PATH)
            run_wrk(ports[name], processes[name].pid, 1.0, *load)  # warm-up
        results: dict[str, list[Round]] = {name: [] for name in starters}
        for _ in range(args.rounds):
            for name in starters:
                results[name].append(run_wrk(ports[name], processes[name].pid, args.seconds, *load))
        return results
    finally:
        for process in processes.values():
            stop(process)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args([] if argv is None else argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk); skipping")
        return 0
    print(
        f"wrk -t{args.threads} -c{args.connections}, POST {INFER_PATH} with a 1x4 FP32 JSON tensor, "
        f"{args.workers} inference processes each, {args.rounds} x {args.seconds:g} s per server, interleaved"
    )
    oip = {"SMTOOLKIT_SERVE_PROTOCOLS": "oip", "SMTOOLKIT_OIP_MODEL_NAME": MODEL_NAME}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "infer.lua"
        script.write_text(wrk_script())
        starters: dict[str, Starter] = {
            f"smtoolkit serve ({args.workers} workers)": lambda port: start_ours(
                Path(tmp) / "ours", port, args.workers, "async", 1, extra_env=oip
            ),
            f"mlserver ({args.workers} parallel_workers)": lambda port: start_mlserver(
                Path(tmp) / "mlserver", port, args.workers
            ),
        }
        report(measure_all(starters, args, script), args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
