"""One PNG per figure of the run report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .. import evaluate

DPI = 110


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def loss_and_lr(rows: list[dict], path: Path) -> Path | None:
    train = [r for r in rows if r.get("kind") == "train"]
    if not train:
        return None
    steps = [r["step"] for r in train]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(steps, [r["loss"] for r in train], color="tab:blue")
    left.set(xlabel="step", ylabel="training loss", title="Loss")
    left.grid(alpha=0.3)
    right.plot(steps, [r["lr"] for r in train], color="tab:orange")
    right.set(xlabel="step", ylabel="learning rate", title="Learning rate (warm-up + cosine)")
    right.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    right.grid(alpha=0.3)
    return _save(figure, path)


def alignment_uniformity(rows: list[dict], baselines: dict, path: Path) -> Path | None:
    evals = [r for r in rows if r.get("kind") == "eval" and "alignment" in r and "uniformity" in r]
    if not evals:
        return None
    start = baselines.get("untrained encoder", {})
    if "alignment" in start and "uniformity" in start:  # the trajectory starts at step 0
        evals = [{"step": 0, "alignment": start["alignment"], "uniformity": start["uniformity"]}, *evals]
    steps = np.array([r["step"] for r in evals])
    align = np.array([r["alignment"] for r in evals])
    uniform = np.array([r["uniformity"] for r in evals])
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(steps, align, "o-", label="alignment")
    left.plot(steps, uniform, "s-", label="uniformity")
    left.set(xlabel="step", ylabel="value (lower is better)", title="Alignment and uniformity")
    left.legend()
    left.grid(alpha=0.3)
    points = right.scatter(align, uniform, c=steps, cmap="viridis", zorder=3)
    right.plot(align, uniform, color="grey", alpha=0.5, zorder=2)
    for name, metrics in baselines.items():
        if name != "untrained encoder" and "alignment" in metrics and "uniformity" in metrics:
            right.scatter(
                [metrics["alignment"]], [metrics["uniformity"]], marker="x", s=60, color="black", zorder=4
            )
            right.annotate(
                name,
                (metrics["alignment"], metrics["uniformity"]),
                fontsize=8,
                xytext=(-4, 6),
                textcoords="offset points",
                ha="right",
            )
    right.annotate(
        "untrained", (align[0], uniform[0]), fontsize=8, xytext=(4, -10), textcoords="offset points"
    )
    right.margins(0.12)
    figure.colorbar(points, ax=right, label="step")
    right.set(xlabel="alignment", ylabel="uniformity", title="Trajectory (Wang & Isola plane)")
    right.grid(alpha=0.3)
    return _save(figure, path)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def pair_similarities(view1: np.ndarray, view2: np.ndarray, path: Path, max_negatives: int = 200_000) -> Path:
    a, b = _unit(view1.astype(np.float64)), _unit(view2.astype(np.float64))
    similarity = a @ b.T  # (N, N): positives on the diagonal
    positives = np.diag(similarity)
    negatives = similarity[~np.eye(len(a), dtype=bool)]
    if negatives.size > max_negatives:
        negatives = np.random.default_rng(0).choice(negatives, max_negatives, replace=False)
    figure, axis = plt.subplots(figsize=(6.5, 3.8))
    bins = np.linspace(-1, 1, 81)
    axis.hist(negatives, bins=bins, density=True, alpha=0.6, label=f"negative pairs ({negatives.size:,})")
    axis.hist(positives, bins=bins, density=True, alpha=0.6, label=f"positive pairs ({positives.size:,})")
    axis.set(
        xlabel="cosine similarity", ylabel="density", title="Held-out pair similarities (two random views)"
    )
    axis.legend()
    axis.grid(alpha=0.3)
    return _save(figure, path)


def spectrum(embeddings: np.ndarray, path: Path) -> Path:
    sigma = evaluate.singular_values(embeddings)
    rank = evaluate.effective_rank(embeddings)
    figure, axis = plt.subplots(figsize=(6.5, 3.8))
    shown = sigma[sigma > 0]
    axis.semilogy(np.arange(1, len(shown) + 1), shown, "o-", markersize=3)
    axis.set(
        xlabel="index",
        ylabel="singular value (log)",
        title=f"Singular values of held-out embeddings; effective rank {rank:.1f} of {len(sigma)}",
    )
    axis.grid(alpha=0.3, which="both")
    return _save(figure, path)


def embedding_map(
    embeddings: np.ndarray, labels: np.ndarray | None, path: Path, seed: int = 0, max_points: int = 2000
) -> Path:
    """t-SNE (van der Maaten & Hinton, 2008) of up to ``max_points`` held-out embeddings."""
    from sklearn.manifold import TSNE

    rows = np.arange(len(embeddings))
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_points, replace=False))
    x = _unit(embeddings[rows].astype(np.float64))
    perplexity = float(min(30, max(2, (len(rows) - 1) // 3)))
    points = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    if labels is None:
        axis.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7)
    else:
        y = np.asarray(labels)[rows]
        classes = np.unique(y)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, c in enumerate(classes):
            mask = y == c
            axis.scatter(
                points[mask, 0], points[mask, 1], s=6, alpha=0.8, color=cmap(i % cmap.N), label=str(c)
            )
        if len(classes) <= 20:
            axis.legend(markerscale=3, fontsize=8, title="label", loc="best")
    axis.set(title="t-SNE of held-out embeddings", xticks=[], yticks=[])
    return _save(figure, path)
