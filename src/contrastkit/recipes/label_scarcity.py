"""Few-label and noisy-label study: raw features vs a trained encoder's embeddings (vs both).

SCARF's claims (Bahri et al., 2022, arXiv:2106.15147) are about label-scarce and noisy-label regimes.
For each seed,
the recipe is trained (run seed = seed), its data split re-read, and a linear probe
(:func:`contrastkit.evaluate.linear_probe`, one fixed ``C`` so that 1% of the labels is enough) is
fitted on a stratified ``fraction`` of the training labels (at least one row per class, drawn with
the seed) and scored on the whole held-out split, for three feature sets: the raw (standardised)
inputs, the embeddings, and their concatenation (each block standardised by the probe). With a label
noise rate ``r > 0``, ``round(r n)`` of the ``n`` labelled rows (drawn with the seed) get another class,
drawn uniformly, before the probe is fitted (:func:`flip_labels`); the held-out labels stay clean.
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


def check_noise_rate(rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1 or math.isnan(rate):
        raise ValueError(f"label noise rate: expected a value in [0, 1), got {rate!r}")
    return float(rate)


def flip_labels(labels, rate: float, seed: int) -> np.ndarray:
    """A copy of ``labels`` in which exactly ``round(rate * n)`` rows, drawn uniformly with ``seed``,
    hold another class (uniform among the other classes present in ``labels``)."""
    rate = check_noise_rate(rate)
    labels = np.asarray(labels)
    noisy = labels.copy()
    classes = np.unique(labels)
    count = round(rate * labels.size)
    if count == 0 or classes.size < 2:
        return noisy
    rng = np.random.default_rng([seed, 1])  # not the label-subset draw's stream
    rows = rng.choice(labels.size, size=count, replace=False)
    position = np.searchsorted(classes, labels[rows])
    shift = rng.integers(1, classes.size, size=count)  # 1..K-1: never the row's own class
    noisy[rows] = classes[(position + shift) % classes.size]
    return noisy


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
                       C: float = 1.0, noise: float = 0.0) -> dict[str, float]:
    """Test accuracy of a linear probe on each of :data:`FEATURE_SETS`, trained on the labelled subset
    (with a ``noise`` share of its labels flipped, the same rows for every feature set)."""
    from ..evaluate import linear_probe

    keep = torch.from_numpy(label_subset(y_train.numpy(), fraction, seed))
    labels = torch.from_numpy(flip_labels(y_train[keep].numpy(), noise, seed))

    def standardise(train, test):
        mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
        return (train - mean) / std, (test - mean) / std

    raw = standardise(raw_train, raw_test)
    emb = standardise(emb_train, emb_test)
    sets = {"raw": raw, "embedding": emb,
            "raw+embedding": (torch.cat([raw[0], emb[0]], 1), torch.cat([raw[1], emb[1]], 1))}
    return {
        name: linear_probe(train[keep], labels, test, y_test, regularization=(C,), normalize=False,
                           seed=seed)
        for name, (train, test) in sets.items()
    }


def label_fraction_study(recipe: str, fractions=(0.01, 0.1, 1.0), seeds: int = 3, overrides=(),
                         output_dir: str | Path = "runs/label-fractions", noise_rates=(),
                         noise_fraction: float = 1.0) -> list[dict]:
    """Train ``recipe`` once per seed and probe at every fraction with clean labels, then with
    ``noise_fraction`` of the labels at every noise rate; one row per (seed, fraction, noise, set)."""
    from ..train.embedding import embedding_function
    from .build import load_data
    from .catalogue import load_recipe
    from .inference import load_run_encoder
    from .runner import train

    fractions = [check_fraction(f) for f in fractions]
    settings = [(f, 0.0) for f in fractions]
    settings += [(check_fraction(noise_fraction), check_noise_rate(r)) for r in noise_rates if r > 0]
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
        for fraction, noise in settings:
            scores = probe_feature_sets(raw_train, emb_train, train_data.labels, raw_test, emb_test,
                                        test_data.labels, fraction, seed, noise=noise)
            rows += [{"recipe": name, "seed": seed, "fraction": fraction, "noise": noise, "features": k,
                      "accuracy": v} for k, v in scores.items()]
    return rows


def name_of(recipe: str) -> str:
    return Path(recipe).stem


def paired_verdict(differences: list[float]) -> str:
    """``reproduced`` / ``not reproduced`` / ``inconclusive`` from per-seed paired differences
    (embedding - raw): their two-sided 95% t-interval lies above zero, below zero, or holds it."""
    from scipy.stats import t

    from ..report.sweep_summary import mean_std

    mean, std = mean_std(differences)
    if math.isnan(std):
        return "inconclusive"
    half = t.ppf(0.975, len(differences) - 1) * std / math.sqrt(len(differences))
    return "reproduced" if mean - half > 0 else "not reproduced" if mean + half < 0 else "inconclusive"


def markdown_summary(rows: list[dict]) -> str:
    """Mean ± sample std over seeds per (recipe, fraction, label noise, feature set), plus the paired
    per-seed difference embedding - raw and its :func:`paired_verdict`."""
    from ..report.sweep_summary import mean_std

    def cell(values):
        mean, std = mean_std(values)
        return f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")

    lines = ["| recipe | labels | label noise | " + " | ".join(FEATURE_SETS)
             + " | embedding - raw | verdict | seeds |",
             "| --- | --- | --- |" + " --- |" * (len(FEATURE_SETS) + 3)]
    keys = dict.fromkeys((r["recipe"], r["fraction"], r.get("noise", 0.0)) for r in rows)
    for recipe, fraction, noise in keys:
        mine = [r for r in rows
                if (r["recipe"], r["fraction"], r.get("noise", 0.0)) == (recipe, fraction, noise)]
        by_set = {f: {r["seed"]: r["accuracy"] for r in mine if r["features"] == f} for f in FEATURE_SETS}
        seeds = sorted(set(by_set["raw"]) & set(by_set["embedding"]))
        differences = [by_set["embedding"][s] - by_set["raw"][s] for s in seeds]
        cells = [cell(list(by_set[f].values())) for f in FEATURE_SETS]
        lines.append(f"| {recipe} | {fraction:.0%} | {noise:.0%} | " + " | ".join(cells)
                     + f" | {cell(differences)} | {paired_verdict(differences)} | {len(seeds)} |")
    return "\n".join(lines) + "\n"
