"""Peak RSS of training 100 steps on a generated pairs parquet of 5,000,000 rows against 50,000 rows.

    PYTHONPATH=src python benchmarks/field_memory.py [--rows 50000 5000000] [--steps 100] [--out FILE]

Each size runs in its own process (``ru_maxrss`` of that process, after training), with the same
tiny text tower, batch and steps, so the difference is what the data costs. Parquet is converted
once to a memory-mapped Arrow file (``$CONTRASTKIT_CACHE``, a temporary folder here) and read per
batch; the target is a ratio within 1.5x. The conversion time is reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("red blue green small large quick slow river mountain city music paper stone light night "
         "garden window orange silver market letter winter summer island forest engine doctor").split()

CONFIG = """
[run]
seed = 0
threads = 1
output_dir = "{out}"

[data]
path = "{path}"
test_fraction = {test_fraction}

[data.fields]
anchor = "anchor"
positive = "positive"

[encoder]
name = "small_transformer"
hidden_size = 32
num_layers = 1
num_heads = 2
max_length = 16

[loss]
name = "InfoNCE"
temperature = 0.05

[train]
batch_size = 32
max_steps = {steps}
log_every = 50
checkpoint_every = 1000
report = false

[eval]
baselines = false
max_samples = 500
"""


def write_pairs(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    words = np.array(WORDS)
    writer = None
    for start in range(0, rows, 250_000):
        n = min(250_000, rows - start)
        picks = words[rng.integers(0, len(words), size=(n, 6))]
        anchor = [f"{i} " + " ".join(p[:4]) for i, p in zip(range(start, start + n), picks)]
        positive = [" ".join(p[2:]) + f" {i}" for i, p in zip(range(start, start + n), picks)]
        table = pa.table({"anchor": anchor, "positive": positive})
        writer = writer or pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table, row_group_size=50_000)
    writer.close()


def child(path: str, steps: int, rows: int) -> None:
    import torch

    torch.set_num_threads(1)
    from contrastkit.recipes import load_recipe, train

    folder = Path(tempfile.mkdtemp())
    toml = folder / "pairs.toml"
    # the same absolute test split (500 rows) for both sizes
    toml.write_text(CONFIG.format(out=folder, path=path, steps=steps, test_fraction=max(500 / rows, 1e-6)))
    config, name = load_recipe(str(toml))
    started = time.perf_counter()
    from contrastkit.data.field_files import read_fields

    read_fields(path, {"anchor": "anchor", "positive": "positive"})  # the one-off conversion
    convert = time.perf_counter() - started
    result = train(config, name, quiet=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    print(json.dumps({"rows": rows, "steps": result.steps, "peak_rss_mib": round(peak, 1),
                      "convert_s": round(convert, 1), "train_s": round(result.seconds, 1)}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 5_000_000])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.steps, int(args.child[1]))
        return 0
    folder = Path(tempfile.mkdtemp())
    env = {**os.environ, "CONTRASTKIT_CACHE": str(folder / "cache")}
    results = []
    for rows in args.rows:
        path = folder / f"pairs-{rows}.parquet"
        write_pairs(path, rows)
        out = subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--child", str(path),
                              str(rows)], env=env, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        results[-1]["parquet_mib"] = round(path.stat().st_size / 2**20, 1)
        print(json.dumps(results[-1]), flush=True)
    if len(results) >= 2:
        ratio = results[-1]["peak_rss_mib"] / results[0]["peak_rss_mib"]
        print(f"peak RSS ratio {results[-1]['rows']:,} / {results[0]['rows']:,} rows: {ratio:.2f}x "
              f"(target <= 1.5x)")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
