"""The triplet margin loss, the margin baseline for contrastive objectives."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._common import check_embeddings, check_reduction, check_same_shape, normalize, reduce


class TripletMargin(nn.Module):
    r"""Triplet margin loss (Schroff, Kalenichenko & Philbin, 2015, "FaceNet: A Unified Embedding
    for Face Recognition and Clustering", arXiv:1503.03832, Section 3.1).

    .. math::
        \mathcal{L} = \frac{1}{N}\sum_{i=1}^{N}
            \max\big(0,\; d(\hat a_i, \hat p_i) - d(\hat a_i, \hat n_i) + m\big),\qquad
        d(x, y) = \lVert x - y\rVert_2

    on L2-normalised rows (as FaceNet, whose embeddings live on the unit sphere). The distance is
    the Euclidean distance, as ``torch.nn.TripletMarginLoss`` and pytorch-metric-learning;
    ``squared=True`` uses FaceNet's squared distance :math:`\lVert x - y\rVert_2^2` instead.
    The default margin :math:`m = 0.2` is FaceNet's. No temperature and no pair engine: each anchor
    meets only its own positive and negative.

    Args:
        margin: :math:`m \ge 0` (default 0.2).
        squared: use squared Euclidean distances (default ``False``).
        normalize: L2-normalise inputs (default ``True``).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per triplet, ``(N,)``).
    Shapes:
        anchor, positive, negative ``(N, d)``, any floating dtype.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input or ``margin < 0``.
    """

    def __init__(self, margin: float = 0.2, squared: bool = False, normalize: bool = True,
                 reduction: str = "mean"):
        super().__init__()
        margin = float(margin)
        if not math.isfinite(margin) or margin < 0:
            raise ValueError(f"margin: expected a finite value >= 0, got {margin}")
        self.margin = margin
        self.squared = bool(squared)
        self.normalize = bool(normalize)
        self.reduction = check_reduction(reduction)

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        difference = x - y
        if self.squared:
            return difference.pow(2).sum(dim=-1)
        return torch.linalg.vector_norm(difference, dim=-1)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        for name, x in (("anchor", anchor), ("positive", positive), ("negative", negative)):
            check_embeddings(name, x)
        check_same_shape("anchor", anchor, "positive", positive)
        check_same_shape("anchor", anchor, "negative", negative)
        a, p, n = (normalize(x, self.normalize) for x in (anchor, positive, negative))
        per_triplet = torch.relu(self.distance(a, p) - self.distance(a, n) + self.margin)
        return reduce(per_triplet, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, squared={self.squared}"
