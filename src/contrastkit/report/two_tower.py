"""Report figures of two-tower (image-text) runs: the learned temperature over steps, the zero-shot
confusion matrix, and a grid of the top text-to-image hits of a few prompts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .plots import _save, plt


def temperature_curve(rows: list[dict], path: Path, key: str = "temperature") -> Path | None:
    """The learned temperature ``tau`` (log scale) against the step, from training rows (``kind ==
    "train"``) that hold ``key``; ``None`` when no row does (a fixed temperature logs nothing)."""
    points = [(r["step"], r[key]) for r in rows if r.get("kind") == "train" and key in r]
    if not points:
        return None
    steps, values = zip(*points)
    figure, axis = plt.subplots(figsize=(6.5, 3.6))
    axis.plot(steps, values, color="tab:purple")
    axis.set_yscale("log")
    axis.set(xlabel="step", ylabel="temperature τ (log)",
             title=f"Learned temperature: {values[0]:.4g} → {values[-1]:.4g} "
                   f"(logit scale 1/τ = {1 / values[-1]:.3g})")
    axis.grid(alpha=0.3, which="both")
    return _save(figure, path)


def confusion_matrix_plot(counts: np.ndarray, class_names: Sequence[str], path: Path,
                          unseen: Sequence[int] = ()) -> Path:
    """Zero-shot confusion matrix (rows: true class, columns: predicted), coloured by the row share,
    counts written in the cells; unseen (held-out) classes are starred."""
    counts = np.asarray(counts)
    c = len(class_names)
    if counts.shape != (c, c):
        raise ValueError(f"counts: expected shape ({c}, {c}) (one row and column per class), "
                         f"got {counts.shape}")
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    labels = [f"{name}*" if i in set(unseen) else name for i, name in enumerate(class_names)]
    figure, axis = plt.subplots(figsize=(1.0 + 0.6 * c, 0.8 + 0.55 * c))
    image = axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(c):
        for j in range(c):
            axis.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                      color="white" if share[i, j] > 0.5 else "black")
    axis.set_xticks(range(c), labels, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(c), labels, fontsize=8)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    note = " (* held out of training)" if len(unseen) else ""
    axis.set(xlabel="predicted class", ylabel="true class", title=f"Zero-shot predictions, accuracy "
             f"{accuracy:.3f}{note}")
    figure.colorbar(image, ax=axis, label="share of the true class", fraction=0.046)
    return _save(figure, path)


def top_hits(image_embeddings, prompt_embeddings, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, indices)``, each ``(P, k)``: the ``k`` images most similar (cosine) to each prompt,
    best first, ties broken by the lower index."""
    images = torch.as_tensor(image_embeddings).detach().cpu().double()
    prompts = torch.as_tensor(prompt_embeddings).detach().cpu().double()
    if images.dim() != 2 or prompts.dim() != 2 or images.shape[1] != prompts.shape[1]:
        raise ValueError(f"prompt_embeddings: expected (P, d) and (N, d) inputs with the same d, got "
                         f"{tuple(prompts.shape)} and {tuple(images.shape)}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= images.shape[0]:
        raise ValueError(f"k: expected an int in [1, {images.shape[0]}] (the number of images), got {k!r}")
    scores = F.normalize(prompts, dim=1) @ F.normalize(images, dim=1).T  # (P, N)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return scores.gather(1, order).numpy(), order.numpy()


def top_hits_grid(images, image_embeddings, prompt_embeddings, prompts: Sequence[str], path: Path,
                  k: int = 6) -> Path:
    """One row per prompt: its ``k`` best images with their cosine similarity.

    ``images``: ``(N, C, H, W)`` in [0, 1] (C = 1 grey or 3 RGB), row-aligned with
    ``image_embeddings`` ``(N, d)``; ``prompt_embeddings`` ``(P, d)`` for the ``P`` ``prompts``.
    """
    images = torch.as_tensor(images).detach().cpu()
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images: expected (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
    if len(image_embeddings) != images.shape[0] or len(prompt_embeddings) != len(prompts):
        raise ValueError(f"image_embeddings / prompts: expected {images.shape[0]} image rows and "
                         f"{len(prompt_embeddings)} prompts, got {len(image_embeddings)} and {len(prompts)}")
    scores, indices = top_hits(image_embeddings, prompt_embeddings, k)
    figure, axes = plt.subplots(len(prompts), k, figsize=(1.3 * k, 1.55 * len(prompts)), squeeze=False)
    for row, prompt in enumerate(prompts):
        for col in range(k):
            axis = axes[row, col]
            picture = images[indices[row, col]].permute(1, 2, 0).numpy()
            axis.imshow(picture[..., 0] if picture.shape[2] == 1 else picture, cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_xlabel(f"{scores[row, col]:.2f}", fontsize=7)
        axes[row, 0].set_ylabel(f'"{prompt}"', fontsize=8, rotation=0, ha="right", va="center")
    figure.suptitle("Top text → image hits (cosine similarity under each image)", fontsize=9)
    return _save(figure, path)
