"""A small, real training script: least-squares linear regression by gradient descent, plain Python.

It reads its hyperparameters from argv (as the platform passes them) and everything else from `smtoolkit.env`.
"""

import argparse
import csv
import json
import math

from smtoolkit import env


def load_rows(path):
    rows = []
    for file in sorted(path.glob("*.csv")):
        with file.open(newline="") as handle:
            rows += [[float(value) for value in row] for row in csv.reader(handle) if row]
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    args = parser.parse_args()

    rows = load_rows(env.channels["train"].path)
    features = len(rows[0]) - 1
    weights, bias = [0.0] * features, 0.0
    for epoch in range(args.epochs):
        grad_w, grad_b, loss = [0.0] * features, 0.0, 0.0
        for *x, y in rows:
            error = sum(w * xi for w, xi in zip(weights, x, strict=True)) + bias - y
            loss += error * error
            grad_b += error
            grad_w = [g + error * xi for g, xi in zip(grad_w, x, strict=True)]
        weights = [w - args.learning_rate * 2 * g / len(rows) for w, g in zip(weights, grad_w, strict=True)]
        bias -= args.learning_rate * 2 * grad_b / len(rows)
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            print(f"epoch={epoch + 1} train_rmse={math.sqrt(loss / len(rows)):.4f}", flush=True)

    env.model_dir.mkdir(parents=True, exist_ok=True)
    (env.model_dir / "model.json").write_text(json.dumps({"weights": weights, "bias": bias}))
    print(f"saved model to {env.model_dir / 'model.json'}: weights={[round(w, 3) for w in weights]} bias={bias:.3f}")


if __name__ == "__main__":
    main()
