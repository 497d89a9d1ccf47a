"""Does checkpoint selection on bio_train's validation rows help clan-bio? Validation rows only.

    python scripts/clan_selection_check.py --seeds 3 --max-steps 2000

Trains the recipe (selection on, every checkpoint kept), then scores every 100-step checkpoint with
the CLAN kNN score (k = 5, every benign training embedding as index) on two fixed random halves A
and B of the validation rows. The trainer selects on all validation rows, so its selected value is
the largest of many noisy evaluations; choosing on A and reading B (and B -> A) says what selection
gives on rows it did not look at. For each step budget N: the last step, the step chosen on all rows,
and the cross-fitted halves. The test rows are never read.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from contrastkit.evaluate import auroc, knn_anomaly_scores
from contrastkit.recipes.anomaly import embed
from contrastkit.recipes.build import build_model
from contrastkit.recipes.catalogue import load_recipe
from contrastkit.recipes.runner import train
from contrastkit.recipes.splits import load_splits
from contrastkit.train.checkpoint import list_checkpoints, load_checkpoint, model_state


def checkpoint_scores(config, run_dir: Path) -> dict[int, np.ndarray]:
    """``{step: kNN anomaly scores of the validation rows}`` for every kept checkpoint (step 0: the
    untrained initialisation)."""
    splits = load_splits(config)
    model = build_model(config, splits.train)
    encoder = model.towers[model.default].encoder

    def scores():
        normal, held_out = embed(encoder, splits.train.inputs), embed(encoder, splits.validation.inputs)
        return knn_anomaly_scores(normal, held_out, 5)

    out = {0: scores()}
    for step in list_checkpoints(run_dir / "checkpoints"):
        tensors, _ = load_checkpoint(run_dir / "checkpoints", step)
        state = model_state(tensors)
        model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
        out[step] = scores()
    return out, splits.validation.labels.numpy()


def summary(scores: dict[int, np.ndarray], labels: np.ndarray, budgets) -> dict:
    half = np.random.default_rng(0).permutation(len(labels)) < len(labels) // 2
    parts = {"all": np.ones_like(half), "A": half, "B": ~half}
    value = {(s, p): auroc(v[m], labels[m]) for s, v in scores.items() for p, m in parts.items()}
    out = {"untrained": value[(0, "all")]}
    for n in budgets:
        steps = [s for s in scores if 0 < s <= n]
        best = {p: max(steps, key=lambda s, p=p: value[(s, p)]) for p in parts}
        out[n] = {"last": value[(n, "all")], "selected step": best["all"],
                  "selected": value[(best["all"], "all")],
                  "last A/B": (value[(n, "A")] + value[(n, "B")]) / 2,
                  "chosen on A, read on B / B on A": (value[(best["A"], "B")] + value[(best["B"], "A")]) / 2}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--budgets", type=int, nargs="+", default=[600, 1200, 2000])
    parser.add_argument("--output", default="runs/clan-selection")
    args = parser.parse_args(argv)
    rows = {}
    for seed in range(args.seeds):
        config, _ = load_recipe("clan-bio", [f"run.seed={seed}", f"train.max_steps={args.max_steps}",
                                             "train.keep_last=1000", f"run.output_dir='{args.output}'"])
        run = train(config, "clan-bio", quiet=True, write_report=False)
        scores, labels = checkpoint_scores(config, Path(run.run_dir.path))
        rows[seed] = summary(scores, labels, args.budgets)
        print(f"seed {seed}: {json.dumps(rows[seed])}", file=sys.stderr, flush=True)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    (Path(args.output) / "selection-check.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
