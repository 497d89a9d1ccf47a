"""SCARF with scarce and noisy labels (docs/studies.md): raw features vs SCARF embeddings vs both,
linear probe with 1%, 10% and 100% of the training labels, and with a share of them flipped, mean ± std
over seeds, for each recipe given.

    python scripts/study_scarf.py scarf-breast-cancer --seeds 10 [--fractions 0.01 0.1 1] [--noise 0.2 0.4]
"""

import argparse
import json
import sys
from pathlib import Path

from contrastkit.recipes.label_scarcity import (
    check_fraction,
    check_noise_rate,
    label_fraction_study,
    markdown_summary,
)


def check_arguments(args) -> None:
    """Every bad value named by its option, before any training."""
    for option, values, check in (("--fractions", args.fractions, check_fraction),
                                  ("--noise-fraction", [args.noise_fraction], check_fraction),
                                  ("--noise", args.noise, check_noise_rate)):
        for value in values:
            try:
                check(value)
            except ValueError as error:
                raise ValueError(f"{option}: {error}") from None
    if args.seeds < 1:
        raise ValueError(f"--seeds: expected an int >= 1, got {args.seeds}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--noise", type=float, nargs="*", default=[],
                        help="label noise rates in [0, 1): that share of the labelled rows flipped")
    parser.add_argument("--noise-fraction", type=float, default=1.0,
                        help="share of the training labels used in the noisy-label settings")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--output", default="runs/scarf-study")
    args = parser.parse_args(argv)
    try:
        check_arguments(args)
        rows = []
        for recipe in args.recipes:
            rows += label_fraction_study(recipe, args.fractions, args.seeds, args.overrides,
                                         output_dir=args.output, noise_rates=args.noise,
                                         noise_fraction=args.noise_fraction)
    except ValueError as error:
        print(f"study_scarf: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    Path(args.output).mkdir(parents=True, exist_ok=True)
    (Path(args.output) / "rows.json").write_text(json.dumps(rows, indent=1))
    table = markdown_summary(rows)
    (Path(args.output) / "summary.md").write_text(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
