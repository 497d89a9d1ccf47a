"""SCARF with scarce labels (docs/studies.md): raw features vs SCARF embeddings vs both, linear probe
with 1%, 10% and 100% of the training labels, mean ± std over seeds, for each recipe given.

    python scripts/study_scarf.py scarf-breast-cancer scarf-adult --seeds 3 [--fractions 0.01 0.1 1]
"""

import argparse
import json
import sys
from pathlib import Path

from contrastkit.recipes.label_scarcity import label_fraction_study, markdown_summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--output", default="runs/scarf-study")
    args = parser.parse_args(argv)
    try:
        rows = []
        for recipe in args.recipes:
            rows += label_fraction_study(recipe, args.fractions, args.seeds, output_dir=args.output)
    except ValueError as error:
        print(f"study_scarf: error: {error}", file=sys.stderr)
        return 2
    Path(args.output).mkdir(parents=True, exist_ok=True)
    (Path(args.output) / "rows.json").write_text(json.dumps(rows, indent=1))
    table = markdown_summary(rows)
    (Path(args.output) / "summary.md").write_text(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
