"""A generated jsonl of 2,000 (anchor, positive, negative) rows trained with the small text transformer,
then ``contrastkit eval RUN_DIR --task retrieval --data held_out.jsonl`` for the trained and the
initial encoder.

    PYTHONPATH=src python benchmarks/pairs_retrieval.py [--epochs 3] [--out FILE]

The data: each row describes one of 2,500 "items" by three of its four attribute words in a
question (anchor) and a statement (positive) that share only some words; the hard negative is
another item's statement sharing two attributes. The held-out file holds 500 unseen items.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

COLOURS = "red blue green yellow black white purple orange brown grey".split()
SHAPES = "circle square triangle star heart diamond arrow ring cross moon".split()
THINGS = "car boat house tree lamp chair clock bottle phone book".split()
PLACES = "kitchen garden office forest beach school market station bridge tower".split()


def item(rng: random.Random) -> tuple[str, str, str, str]:
    return rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(THINGS), rng.choice(PLACES)


def row(rng: random.Random, items: list) -> dict:
    colour, shape, thing, place = items[rng.randrange(len(items))]
    anchor = f"where is the {colour} {thing} with a {shape}"
    positive = f"a {shape} marks the {thing} in the {place}, painted {colour}"
    other = item(rng)
    negative = f"a {other[1]} marks the {thing} in the {other[3]}, painted {colour}"
    return {"anchor": anchor, "positive": positive, "negative": [negative]}


def write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


CONFIG = """
[run]
seed = 0
threads = 1
output_dir = "{out}"

[data]
path = "{path}"
test_fraction = 0.1

[data.fields]
anchor = "anchor"
positive = "positive"
negatives = "negative"

[encoder]
name = "small_transformer"
hidden_size = 64
num_layers = 2
num_heads = 2
max_length = 24
dropout = 0.1

[loss]
name = "InfoNCE"
temperature = 0.05

[optim]
lr = 0.0005
warmup_steps = 10

[train]
batch_size = 32
epochs = {epochs}
eval_every = 50
report = false
no_duplicates = true

[eval]
baselines = false
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    rng = random.Random(0)
    items = list(dict.fromkeys(item(rng) for _ in range(3000)))
    train_items, held_items = items[:2500], items[2500:3000]
    folder = Path(tempfile.mkdtemp())
    train_path = write(folder / "pairs.jsonl", [row(rng, train_items) for _ in range(2000)])
    held = []
    for colour, shape, thing, place in held_items:
        held.append({"anchor": f"where is the {colour} {thing} with a {shape}",
                     "positive": f"a {shape} marks the {thing} in the {place}, painted {colour}"})
    held_path = write(folder / "held_out.jsonl", held)
    toml = folder / "pairs.toml"
    toml.write_text(CONFIG.format(out=folder / "runs", path=train_path, epochs=args.epochs))
    cli = [sys.executable, "-m", "contrastkit"]
    trained = subprocess.run([*cli, "train", str(toml), "--quiet", "--json"], check=True, capture_output=True,
                             text=True).stdout
    run_dir = json.loads(trained)["run_dir"]
    out = subprocess.run([*cli, "eval", run_dir, "--task", "retrieval", "--data", held_path, "--json"],
                         check=True, capture_output=True, text=True).stdout
    metrics = json.loads(out)
    keys = ["retrieval/recall@1", "retrieval/recall@10", "retrieval/mrr@10", "retrieval/ndcg@10"]
    print(f"{'metric':<22}{'initial':>10}{'trained':>10}")
    for key in keys:
        print(f"{key:<22}{metrics['untrained encoder'][key]:>10.4f}{metrics['trained'][key]:>10.4f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"run": json.loads(trained), "eval": metrics}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
