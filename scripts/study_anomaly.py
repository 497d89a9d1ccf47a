"""Anomaly studies of docs/studies.md: one-class Fashion-MNIST with MSC, and CLAN on bio_train.

    python scripts/study_anomaly.py msc --classes 0 1 2 3 4 5 6 7 8 9 [--msc-steps 100]
    python scripts/study_anomaly.py clan --seeds 3 [--split validation]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from contrastkit.recipes.anomaly import one_class_msc
from contrastkit.recipes.catalogue import load_recipe
from contrastkit.recipes.tabular_anomaly import SPLITS, clan_bio


def table(rows: dict[str, dict[str, float]], first: str) -> str:
    columns = list(next(iter(rows.values())))
    lines = [f"| {first} | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    lines += [f"| {key} | " + " | ".join(f"{v[c]:.4f}" for c in columns) + " |" for key, v in rows.items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=["msc", "clan"])
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--msc-steps", type=int, default=100)
    parser.add_argument("--split", choices=SPLITS, default="test", help="clan: rows to score")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--output", default="runs/anomaly-study")
    args = parser.parse_args(argv)
    output = Path(args.output)
    try:
        rows = {}
        if args.study == "msc":
            config, _ = load_recipe("msc-fashion-mnist", [*args.overrides, f"run.output_dir='{output}'"])
            for c in args.classes:
                rows[str(c)] = one_class_msc(config, c, msc_steps=args.msc_steps)
                print(f"class {c}: {rows[str(c)]}", file=sys.stderr, flush=True)
        else:
            for seed in range(args.seeds):
                config, _ = load_recipe("clan-bio", [*args.overrides, f"run.seed={seed}",
                                                     f"run.output_dir='{output}'"])
                rows[str(seed)] = clan_bio(config, split=args.split)
                print(f"seed {seed}: {rows[str(seed)]}", file=sys.stderr, flush=True)
    except ValueError as error:
        print(f"study_anomaly: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    columns = list(next(iter(rows.values())))
    rows["mean"] = {c: float(np.mean([r[c] for r in rows.values()])) for c in columns}
    if len(rows) > 2:
        rows["std"] = {c: float(np.std([r[c] for k, r in rows.items() if k != "mean"], ddof=1))
                       for c in columns}
    text = table(rows, "normal class" if args.study == "msc" else "seed")
    output.mkdir(parents=True, exist_ok=True)
    name = args.study if args.study == "msc" or args.split == "test" else f"{args.study}-{args.split}"
    (output / f"{name}.md").write_text(text)
    (output / f"{name}.json").write_text(json.dumps(rows, indent=1))
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
