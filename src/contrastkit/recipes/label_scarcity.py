"""Few-label study: raw features vs a trained encoder's embeddings (vs both) with a fraction of labels.

SCARF's claim (Bahri et al., 2022, arXiv:2106.15147) is about label-scarce regimes. For each seed,
the recipe is trained (run seed = seed), its data split re-read, and a linear probe
(:func:`contrastkit.evaluate.linear_probe`, one fixed ``C`` so that 1% of the labels is enough) is
fitted on a stratified ``fraction`` of the training labels (at least one row per class, drawn with
the seed) and scored on the whole held-out split, for three feature sets: the raw (standardised)
inputs, the embeddings, and their concatenation (each block standardised by the probe).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

FEATURE_SETS = ("raw", "embedding", "raw+embedding")


def check_fraction(fraction) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1 \
            or math.isnan(fraction):
        raise ValueError(f"label fraction: expected a value in (0, 1], got {fraction!r}")
    return float(fraction)


def label_subset(labels, fraction: float, seed: int) -> np.ndarray:
    """Indices of a stratified ``fraction`` of ``labels``: ``max(1, round(fraction * n_c))`` rows of
    each class ``c``, drawn with ``seed``, sorted."""
    fraction = check_fraction(fraction)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        take = max(1, round(fraction * rows.size))
        chosen.append(rng.choice(rows, size=min(take, rows.size), replace=False))
    return np.sort(np.concatenate(chosen))


def probe_feature_sets(raw_train, emb_train, y_train, raw_test, emb_test, y_test, fraction, seed,
                       C: float = 1.0) -> dict[str, float]:
    """Test accuracy of a linear probe on each of :data:`FEATURE_SETS`, trained on the labelled subset."""
    from ..evaluate import linear_probe

    keep = torch.from_numpy(label_subset(y_train.numpy(), fraction, seed))

    def standardise(train, test):
        mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
        return (train - mean) / std, (test - mean) / std

    raw = standardise(raw_train, raw_test)
    emb = standardise(emb_train, emb_test)
    sets = {"raw": raw, "embedding": emb,
            "raw+embedding": (torch.cat([raw[0], emb[0]], 1), torch.cat([raw[1], emb[1]], 1))}
    return {
        name: linear_probe(train[keep], y_train[keep], test, y_test, regularization=(C,), normalize=False,
                           seed=seed)
        for name, (train, test) in sets.items()
    }


def label_fraction_study(recipe: str, fractions=(0.01, 0.1, 1.0), seeds: int = 3, overrides=(),
                         output_dir: str | Path = "runs/label-fractions") -> list[dict]:
    """Train ``recipe`` once per seed and probe at every fraction; one row per (seed, fraction, set)."""
    from ..train.embedding import embedding_function
    from .build import load_data
    from .catalogue import load_recipe
    from .inference import load_run_encoder
    from .runner import train

    fractions = [check_fraction(f) for f in fractions]
    rows = []
    for seed in range(seeds):
        config, name = load_recipe(recipe, [*overrides, f"run.seed={seed}", "train.report=false",
                                            "eval.baselines=false", 'eval.metrics=["knn"]',
                                            f"run.output_dir='{Path(output_dir) / name_of(recipe)}'"])
        result = train(config, name, quiet=True, write_report=False)
        train_data, test_data = load_data(config)
        encoder, _ = load_run_encoder(result.run_dir.path, torch.device("cpu"))
        embed = embedding_function(encoder, torch.device("cpu"))
        emb_train, emb_test = embed(train_data.inputs), embed(test_data.inputs)
        raw_train, raw_test = train_data.inputs.flatten(1).float(), test_data.inputs.flatten(1).float()
        for fraction in fractions:
            scores = probe_feature_sets(raw_train, emb_train, train_data.labels, raw_test, emb_test,
                                        test_data.labels, fraction, seed)
            rows += [{"recipe": name, "seed": seed, "fraction": fraction, "features": k, "accuracy": v}
                     for k, v in scores.items()]
    return rows


def name_of(recipe: str) -> str:
    return Path(recipe).stem


def markdown_summary(rows: list[dict]) -> str:
    """Mean ± sample std over seeds per (recipe, fraction, feature set)."""
    from ..report.sweep_summary import mean_std

    lines = ["| recipe | labels | " + " | ".join(FEATURE_SETS) + " | seeds |",
             "| --- | --- |" + " --- |" * (len(FEATURE_SETS) + 1)]
    keys = dict.fromkeys((r["recipe"], r["fraction"]) for r in rows)
    for recipe, fraction in keys:
        cells, count = [], 0
        for features in FEATURE_SETS:
            values = [r["accuracy"] for r in rows
                      if (r["recipe"], r["fraction"], r["features"]) == (recipe, fraction, features)]
            mean, std = mean_std(values)
            count = len(values)
            cells.append(f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}"))
        lines.append(f"| {recipe} | {fraction:.0%} | " + " | ".join(cells) + f" | {count} |")
    return "\n".join(lines) + "\n"
