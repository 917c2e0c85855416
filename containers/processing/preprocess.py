"""Split the CSV rows of a processing input into train and test outputs (deterministically, by row number).

Inputs and outputs come from /opt/ml/config/processingjobconfig.json by name, through `smtoolkit.env`:
input `raw`, outputs `train` and `test` (their LocalPath values, under /opt/ml/processing/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smtoolkit import env


def local_path(paths: dict[str, Path | None], name: str, kind: str) -> Path:
    path = paths.get(name)
    if path is None:
        sys.exit(f"processingjobconfig.json has no {kind} named {name!r} with a LocalPath (found: {sorted(paths)})")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-fraction", type=float, default=0.2)
    args = parser.parse_args()
    if not 0 < args.test_fraction < 1:
        sys.exit(f"--test-fraction must be between 0 and 1 (got {args.test_fraction})")

    config = env.processing
    if config is None:
        sys.exit("not a processing job: /opt/ml/config/processingjobconfig.json is missing")
    source = local_path({name: item.local_path for name, item in config.inputs.items()}, "raw", "input")
    outputs = {name: item.local_path for name, item in config.outputs.items()}
    train_dir, test_dir = local_path(outputs, "train", "output"), local_path(outputs, "test", "output")

    every = round(1 / args.test_fraction)
    rows = [line for path in sorted(source.glob("*.csv")) for line in path.read_text().splitlines() if line.strip()]
    test = [row for index, row in enumerate(rows) if index % every == 0]
    train = [row for index, row in enumerate(rows) if index % every != 0]
    for directory, chosen in ((train_dir, train), (test_dir, test)):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "part-0.csv").write_text("".join(f"{row}\n" for row in chosen))
    print(f"processing:rows={len(rows)}; train={len(train)}; test={len(test)};")


if __name__ == "__main__":
    main()
