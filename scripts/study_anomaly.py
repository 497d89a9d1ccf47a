"""Anomaly studies of docs/studies.md: one-class Fashion-MNIST with MSC, and CLAN on bio_train.

    python scripts/study_anomaly.py msc --pretrained RUN_DIR [--part validation] [--msc-steps 25]
    python scripts/study_anomaly.py msc --classes 0 1 2 3 4 5 6 7 8 9 [--msc-steps 100]
    python scripts/study_anomaly.py clan --seeds 3 [--split validation]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from contrastkit.data.one_class import check_normal_class
from contrastkit.recipes.anomaly import load_pretrained, msc_aurocs, one_class_msc, one_class_split
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
    parser.add_argument("--split", choices=SPLITS, default="test", help="clan: rows to score")
    parser.add_argument("--msc-steps", type=int, default=None,
                        help="MSC steps (default: 25 with --pretrained, else 100)")
    msc = parser.add_argument_group("msc --pretrained",
                                    "one pretrained run (e.g. simclr-fashion-mnist) for every class")
    msc.add_argument("--pretrained", metavar="RUN_DIR", help="start MSC from this run's encoder and views")
    msc.add_argument("--part", choices=["test", "validation"], default="test",
                     help="validation: score on the run's own validation split (for choosing settings)")
    # defaults: the setting chosen on validation (docs/studies.md, 5a)
    msc.add_argument("--features", choices=["encoder", "pooled"], default="pooled")
    msc.add_argument("--msc-lr", type=float, default=1e-5)
    msc.add_argument("--optimizer", choices=["adam", "sgd"], default="sgd")
    msc.add_argument("--weight-decay", type=float, default=5e-5)
    msc.add_argument("--temperature", type=float, default=0.25)
    msc.add_argument("--angular", action=argparse.BooleanOptionalAction, default=False)
    msc.add_argument("--k", type=int, default=2)
    msc.add_argument("--score-steps", type=int, nargs="*", default=[],
                     help="also report the AUROC after these MSC steps")
    msc.add_argument("--data", default=None, help="folder of the Fashion-MNIST IDX files (test part)")
    msc.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--output", default="runs/anomaly-study")
    args = parser.parse_args(argv)
    output = Path(args.output)
    try:
        rows = {}
        if args.study == "msc" and args.pretrained:
            for c in args.classes:
                check_normal_class(c)
            torch.set_num_threads(args.threads)
            encoder, views, config = load_pretrained(args.pretrained)
            for c in args.classes:
                normal, inputs, anomaly = one_class_split(config, c, args.part, args.data)
                rows[str(c)] = msc_aurocs(
                    encoder, views, normal, inputs, anomaly, features=args.features, k=args.k,
                    score_steps=args.score_steps, steps=args.msc_steps or 25, lr=args.msc_lr,
                    optimizer=args.optimizer, weight_decay=args.weight_decay, temperature=args.temperature,
                    angular=args.angular, seed=config.run.seed)
                print(f"class {c}: {rows[str(c)]}", file=sys.stderr, flush=True)
        elif args.study == "msc":
            config, _ = load_recipe("msc-fashion-mnist", [*args.overrides, f"run.output_dir='{output}'"])
            for c in args.classes:
                rows[str(c)] = one_class_msc(config, c, msc_steps=args.msc_steps or 100)
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
    part = args.part if args.study == "msc" else args.split
    name = args.study if part == "test" else f"{args.study}-{part}"
    (output / f"{name}.md").write_text(text)
    (output / f"{name}.json").write_text(json.dumps(rows, indent=1))
    (output / f"{name}-args.json").write_text(json.dumps(vars(args), indent=1))
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
