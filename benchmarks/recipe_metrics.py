"""Final metrics of every built-in recipe on a short run (same seeds), to compare trainer versions.

    PYTHONPATH=src python benchmarks/recipe_metrics.py OUT.json [--steps 20]

Run it on two checkouts (before / after a trainer change) and diff the JSON files: the same
seeds must give the same numbers. simcse-texts gets a generated text file; fashion-mnist reads
Debian's /usr/share/datasets/fashion-mnist (skipped when absent).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import torch


def texts_file(folder: Path) -> str:
    rng = random.Random(0)
    words = ["red", "blue", "cat", "dog", "runs", "sleeps", "fast", "slow", "big", "small", "tree", "car"]
    path = folder / "texts.jsonl"
    with path.open("w") as handle:
        for i in range(400):
            topic = i % 4
            text = " ".join(rng.choice(words[topic * 3:topic * 3 + 3] + words) for _ in range(8))
            handle.write(json.dumps({"text": text, "topic": str(topic)}) + "\n")
    return str(path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--no-validation", action="store_true",
                        help="drop validation_fraction and best_metric (training data as before validation "
                             "splits existed), to compare the evaluation code alone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from contrastkit.recipes.catalogue import recipe_text
    from contrastkit.recipes.runner import train
    from contrastkit.train.config import apply_overrides, parse_toml, validate_config

    folder = Path(tempfile.mkdtemp())
    fashion = Path("/usr/share/datasets/fashion-mnist")
    extra = {
        "simcse-texts": [f'data.path="{texts_file(folder)}"', 'data.label_column="topic"'],
        "simclr-fashion-mnist": ["data.max_samples=600", "train.batch_size=128",
                                 f'data.path="{fashion}/t10k-images-idx3-ubyte.gz"',
                                 f'data.labels_path="{fashion}/t10k-labels-idx1-ubyte.gz"'],
    }
    names = args.only or ["simclr-digits", "supcon-digits", "moco-digits", "simcse-texts",
                          "scarf-breast-cancer", "lightgcl-synthetic", "simclr-fashion-mnist"]
    results = {}
    for name in names:
        if name == "simclr-fashion-mnist" and not fashion.is_dir():
            continue
        overrides = [f"train.max_steps={args.steps}", f'run.output_dir="{folder}"', "train.report=false",
                     "train.eval_every=10", "eval.max_samples=300", *extra.get(name, [])]
        data = parse_toml(recipe_text(name))
        if args.no_validation:
            data.get("data", {}).pop("validation_fraction", None)
            data.get("train", {}).pop("best_metric", None)
        config = validate_config(apply_overrides(data, overrides))
        result = train(config, name, quiet=True)
        results[name] = {"final": result.final, "baselines": result.baselines, "steps": result.steps}
        print(name, json.dumps(result.final), file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
