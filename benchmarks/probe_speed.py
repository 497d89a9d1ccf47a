"""The linear probe, old against new, side by side on real Fashion-MNIST pixels (784-d).

"old" is the probe contrastkit shipped before (scikit-learn ``LogisticRegression``, L-BFGS in
float64, each ``C`` of the grid fitted from zero); "new" is :func:`contrastkit.evaluate.linear_probe`
(the same objective, protocol and grid, fitted by preconditioned L-BFGS in torch float32,
warm-started along the ``C`` path). Both see the same rows: the first ``--train`` training
images (L2-normalised, standardised) and the official 10,000-image test set, with the same ``C``
grid (0.01, 0.1, 1, 10) chosen on the same stratified 20 % held-out split. Runs in one process with
``--threads`` threads for torch and for the BLAS / OpenMP pools; prints a markdown table and writes
JSON. Not a test: timings on a shared machine are noisy, so the ratio is the figure to read.

    python benchmarks/probe_speed.py [--train 10000] [--threads 2] [--data /usr/share/datasets/fashion-mnist]
        [--new-only]   # time the torch probe alone (the <= 20 s target), without the minutes-long old fit
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

GRID = (0.01, 0.1, 1.0, 10.0)


def old_linear_probe(train_x, train_y, test_x, test_y, seed: int = 0) -> float:
    """The previous implementation's protocol, written with scikit-learn."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler

    def model(c):
        return make_pipeline(Normalizer(), StandardScaler(),
                             LogisticRegression(C=c, max_iter=1000, random_state=seed))

    fx, vx, fy, vy = train_test_split(train_x, train_y, test_size=0.2, random_state=seed, stratify=train_y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the old probe hits max_iter at large C
        scores = [model(c).fit(fx, fy).score(vx, vy) for c in GRID]
        return float(model(GRID[int(np.argmax(scores))]).fit(train_x, train_y).score(test_x, test_y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=10000, help="training rows (first N)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--json", type=Path, default=None,
                        help="default benchmarks/results/probe_speed[_new_only].json")
    parser.add_argument("--new-only", action="store_true", help="time only the torch probe (twice)")
    args = parser.parse_args()
    if args.json is None:
        stem = "probe_speed_new_only" if args.new_only else "probe_speed"
        args.json = Path(__file__).parent / "results" / f"{stem}.json"

    from threadpoolctl import threadpool_limits

    from contrastkit.data import load_idx
    from contrastkit.evaluate import linear_probe

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    root = Path(args.data)
    train = load_idx(root / "train-images-idx3-ubyte.gz", root / "train-labels-idx1-ubyte.gz")
    test = load_idx(root / "t10k-images-idx3-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz")
    train_x = train.images[: args.train].flatten(1).double().numpy()
    train_y = train.labels[: args.train].numpy()
    test_x, test_y = test.images.flatten(1).double().numpy(), test.labels.numpy()

    rows = []  # new, old, new again: a load that drifts during the run shows as two different "new" times
    probes = (("new (torch preconditioned L-BFGS, float32)", linear_probe),
              ("old (scikit-learn L-BFGS, float64)", old_linear_probe),
              ("new, again after old", linear_probe))
    if args.new_only:
        probes = (probes[0], ("new, again", linear_probe))
    for name, probe in probes:
        started = time.perf_counter()
        accuracy = probe(train_x, train_y, test_x, test_y)
        rows.append({"probe": name, "seconds": time.perf_counter() - started, "accuracy": accuracy,
                     "load_average_after": os.getloadavg()[0]})
    old = rows[1] if not args.new_only else {"seconds": float("nan"), "accuracy": float("nan")}
    print(f"linear probe, Fashion-MNIST pixels, {args.train} x 784 train, 10000 test, "
          f"{args.threads} threads\n")
    print("| probe | seconds | accuracy | time / old | accuracy - old (points) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['probe']} | {row['seconds']:.1f} | {row['accuracy']:.4f} | "
              f"{row['seconds'] / old['seconds']:.3f} | {100 * (row['accuracy'] - old['accuracy']):+.2f} |")
    meta = {"train_rows": args.train, "threads": args.threads, "torch": torch.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    print(f"\nload average (1, 5, 15 min) at the end: {meta['load_average']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
