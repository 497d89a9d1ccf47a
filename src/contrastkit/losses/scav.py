"""Sequence-level InfoNCE whose similarity is minus the mean per-step distance (SCAV)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStructure, pair_statistics
from ._common import ContrastiveLoss, check_same_shape, reduce
from ._views import check_instances


def distance_features(sequences: Tensor, as_anchor: bool) -> Tensor:
    """Rows whose inner products give ``2 <a, b> - ||b||^2`` over flattened sequences: anchors
    ``[vec a, 1]``, candidates ``[2 vec b, -||vec b||^2]``; minus the squared distance up to
    ``||a||^2``, which is constant along an anchor's row and cancels in its softmax."""
    flat = sequences.flatten(1)
    if as_anchor:
        return torch.cat([flat, torch.ones_like(flat[:, :1])], dim=1)
    return torch.cat([2 * flat, -(flat * flat).sum(dim=1, keepdim=True)], dim=1)


class SCAV(ContrastiveLoss):
    r"""Sequence-level InfoNCE with similarity minus the mean per-step distance of two time-aligned
    sequences (SCAV, the sequence contrastive objective of the seed list; InfoNCE of van den Oord
    et al. 2018, arXiv:1807.03748, over sequences).

    .. math::
        \mathrm{sim}(A, B) = -\frac{1}{T}\sum_{t=1}^{T}\lVert \hat a_t - \hat b_t\rVert_2^2,\qquad
        \ell_i = -\log\frac{e^{\mathrm{sim}(A_i, B_i)/\tau}}{\sum_{j=1}^{N} e^{\mathrm{sim}(A_i, B_j)/\tau}}

    for ``N`` pairs of sequences ``A_i``, ``B_i`` of ``T`` aligned steps (``\hat a_t``: each step
    L2-normalised unless ``normalize=False``); the other sequences of the batch are the negatives.
    ``symmetric=True`` averages this with the ``B -> A`` direction. Choices: the per-step distance
    is the squared Euclidean one (the source names only "distance"); with it,
    :math:`\mathrm{sim}(A_i, B_j) = (2\langle A_i, B_j\rangle - \lVert B_j\rVert^2 - \lVert A_i\rVert^2)/T`
    over the flattened sequences, so the loss is exactly an InfoNCE on the rows
    ``[vec A_i, 1]`` and ``[2 vec B_j, -||vec B_j||^2]`` (the ``||A_i||^2`` term cancels in each
    anchor's softmax) at inverse temperature ``1 / (T tau)``, and it streams through the engine.
    The value is non-negative (a cross-entropy). Sequences are compared step by step; unequal
    lengths or padding are not handled (pass aligned, equal-length sequences).

    Args:
        temperature: ``tau > 0`` (default 0.1).
        symmetric: also the ``B -> A`` direction, averaged (default False).
        normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
    Shapes:
        a, b ``(N, T, d)``, ``N >= 2``.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``N < 2`` or
        ``temperature <= 0``.
    """

    def __init__(self, temperature: float = 0.1, symmetric: bool = False, **options):
        super().__init__(temperature, **options)
        self.symmetric = bool(symmetric)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        x = self.prepare("a", a, ndim=3)
        y = self.prepare("b", b, ndim=3).to(x.dtype)
        check_same_shape("a", x, "b", y)
        check_instances("a", x.shape[0])
        per_anchor = self._direction(x, y)
        if self.symmetric:
            per_anchor = (per_anchor + self._direction(y, x)) / 2
        return reduce(per_anchor, self.reduction)

    def _direction(self, anchors: Tensor, candidates: Tensor) -> Tensor:
        n, steps = anchors.shape[0], anchors.shape[1]
        structure = PairStructure(n, n, pos_index=torch.arange(n, device=anchors.device))
        stats = pair_statistics(distance_features(anchors, True), distance_features(candidates, False),
                                structure, {"lse_all", "pos_sum"},
                                scale=self.temperature.scale() / steps, **self.engine_options())
        return (stats.lse_all - stats.pos_sum).clamp_min(0)

    def extra_repr(self) -> str:
        return f"symmetric={self.symmetric}"
