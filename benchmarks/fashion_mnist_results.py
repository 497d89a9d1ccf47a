"""The Fashion-MNIST results table of a trained `simclr-fashion-mnist` run, on the official test set.

Reads RUN_DIR (trained on the 60,000 training images, validation carved from them) and the four
IDX files, then scores three representations -- raw pixels, the untrained encoder (the run's own
initialisation, same seed) and the trained encoder -- with the probes fitted on all 60,000 training
images and scored on the official 10,000 test images: kNN (k = 20, cosine), the linear probe, and
the few-label linear probe on 1 % and 10 % of the training labels. Then the robustness table
(:class:`contrastkit.evaluate.RobustnessEvaluator`: each corruption at severities 1-3; probes fitted
on the first ``--robustness-train`` clean training images). Writes ``RUN_DIR/test_results.json``
and ``RUN_DIR/robustness.json``, prints markdown tables and rewrites the run's report (which then
shows both tables and the robustness plot).

    python benchmarks/fashion_mnist_results.py RUN_DIR [--data /usr/share/datasets/fashion-mnist]
        [--threads 2] [--robustness-train 10000] [--corruptions gaussian_noise,blur,...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

FRACTIONS = (0.01, 0.1)


def representations(run_dir: Path, train_data):
    """``{name: embed_fn}`` for raw pixels, the untrained and the trained encoder."""
    from contrastkit.recipes.build import build_model
    from contrastkit.recipes.inference import load_run_encoder
    from contrastkit.recipes.runner import read_run_config
    from contrastkit.train.embedding import embedding_function
    from contrastkit.train.evaluation import flatten_inputs

    cpu = torch.device("cpu")
    untrained = build_model(read_run_config(run_dir), train_data).tower().encoder  # seeded as the run's start
    trained, _ = load_run_encoder(run_dir, cpu)
    return {"raw input": flatten_inputs, "untrained encoder": embedding_function(untrained, cpu),
            "trained encoder": embedding_function(trained, cpu)}


def markdown(table: dict[str, dict[str, float]], keys: list[str]) -> str:
    names = list(table)
    lines = ["| metric | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    lines += [f"| {key} | " + " | ".join(f"{table[n].get(key, float('nan')):.4f}" for n in names) + " |"
              for key in keys]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--robustness-train", type=int, default=10000)
    parser.add_argument("--corruptions", default=None, help="comma-separated names (default: all)")
    args = parser.parse_args(argv)

    from contrastkit.data import load_idx
    from contrastkit.evaluate import ProbeEvaluator, RobustnessEvaluator
    from contrastkit.evaluate.corruptions import CORRUPTIONS, check_corruption
    from contrastkit.report import write_report

    try:
        corruptions = CORRUPTIONS if args.corruptions is None else tuple(
            check_corruption(name.strip()) for name in args.corruptions.split(","))
        if not (args.run_dir / "model" / "config.json").is_file():
            raise ValueError(f"run_dir: {args.run_dir} has no trained model (model/config.json)")
        files = [args.data / f"{split}-{kind}-ubyte.gz" for split in ("train", "t10k")
                 for kind in ("images-idx3", "labels-idx1")]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ValueError(f"--data: missing {missing[0]} (install dataset-fashion-mnist)")
    except ValueError as error:
        print(f"fashion_mnist_results.py: {error}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    train, test = load_idx(files[0], files[1]), load_idx(files[2], files[3])
    probe = ProbeEvaluator(train.images, train.labels, test.images, test.labels, probes=("knn", "linear"),
                           label_fractions=FRACTIONS, name="test", batch_size=512)
    n = min(args.robustness_train, len(train))
    robust = RobustnessEvaluator(train.images[:n], train.labels[:n], test.images, test.labels,
                                 corruptions=corruptions, name="robustness", batch_size=512)
    results, robustness, seconds = {}, {}, {}
    for name, embed in representations(args.run_dir, train).items():
        started = time.perf_counter()
        results[name] = {k.split("/", 1)[1]: v for k, v in probe(embed).items()}
        robustness[name] = {k.split("/", 1)[1]: v for k, v in robust(embed).items()}
        seconds[name] = time.perf_counter() - started
    meta = {"train_images": len(train), "test_images": len(test), "robustness_train_images": n,
            "threads": args.threads, "seconds": seconds, "load_average": os.getloadavg()}
    (args.run_dir / "test_results.json").write_text(json.dumps({**results, "meta": meta}, indent=2))
    (args.run_dir / "robustness.json").write_text(json.dumps(robustness, indent=2))
    keys = ["knn_accuracy", "linear_probe_accuracy"] + [f"linear_probe_accuracy@{f:g}" for f in FRACTIONS]
    print(f"official test set ({len(test)} images), probes fitted on {len(train)} training images\n")
    print(markdown(results, keys))
    drops = [f"{p}_drop/{c}" for p in ("knn", "linear_probe") for c in corruptions]
    print(f"\naccuracy drop (clean - corrupted, mean of severities 1-3), probes on {n} training images\n")
    print(markdown(robustness, ["knn_accuracy", "linear_probe_accuracy", *drops]))
    write_report(args.run_dir)
    print(f"\nwrote {args.run_dir}/test_results.json, robustness.json and report/; "
          f"load average {meta['load_average']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
