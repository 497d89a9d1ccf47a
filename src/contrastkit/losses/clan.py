"""CLAN: a margin loss that pulls benign samples together and pushes augmented ones away."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._common import check_embeddings, check_feature_dim, check_positive_float, normalize


def cosine_distance(a: Tensor, b: Tensor) -> Tensor:
    """``(1 - cos(a_i, b_j)) / 2`` in ``[0, 1]`` for every pair, shape ``(N, M)``; rows of ``a`` and
    ``b`` must already be L2-normalised. Clamped to ``[0, 1]``: rounding can take ``a @ b.T`` just
    past 1, and a negative distance would make the loss negative."""
    return ((1 - a @ b.T) / 2).clamp(0, 1)


class CLAN(nn.Module):
    r"""Contrastive Learning using Augmented Negatives (Wilkie, Hindy, Tachtatzis & Atkinson,
    2025, "Contrastive Self-Supervised Network Intrusion Detection Using Augmented Negative Pairs",
    IEEE CSR 2025, pp. 206-213, arXiv:2509.06550), as the official code (jackwilkie/CLAN
    ``loss/clan_loss.py``); the paper text was not re-read (docs/formulas.md, CLAN).

    .. math::
        \mathcal{L} = \alpha\,\frac{\sum_{i,j} d(z_i, z_j)^p}{|S| + \epsilon}
            + (1 - \alpha)\,\frac{\sum_{i,j} \big[m - d(z_i, \tilde z_j)\big]_+^p}{|H| + \epsilon},
        \qquad d(a, b) = \frac{1 - \cos(a, b)}{2}\in[0, 1]

    with :math:`p = 2` if ``squared`` else 1, :math:`S = \{(i, j): d(z_i, z_j)^p > \epsilon\}` and
    :math:`H = \{(i, j): [m - d(z_i, \tilde z_j)]_+^p > \epsilon\}`; sums run over all ordered pairs
    (``i = j`` included); :math:`|S|` and :math:`|H|` count at least 1 (the official code lets an
    empty set divide by :math:`\epsilon`). All benign samples ``z`` are mutual positives; every
    augmented sample ``z_aug`` is a negative of every benign one, pushed beyond the margin. Each
    term is averaged over its **active** pairs only (the counts carry no gradient), as the official
    code. Not an InfoNCE: the ``N x N`` and ``N x M`` distance matrices are materialised. Only the official
    code's default cosine distance is provided (its Euclidean option is not).

    Args:
        margin: :math:`m > 0` (default 1.0, the class default; the training script uses 0.5).
        alpha: weight of the benign-pair term, in ``[0, 1]`` (default 0.5).
        squared: square the distances and the hinge (default ``False``).
        eps: activity threshold and denominator guard :math:`\epsilon > 0` (default 1e-6).
    Shapes:
        z ``(N, d)`` benign samples, z_aug ``(M, d)`` augmented samples (``M = N`` in the official
        training, any ``M >= 1`` here).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``margin <= 0``,
        ``alpha`` outside [0, 1] or ``eps <= 0``.
    """

    def __init__(self, margin: float = 1.0, alpha: float = 0.5, squared: bool = False,
                 eps: float = 1e-6):
        super().__init__()
        self.margin = check_positive_float("margin", margin)
        alpha = float(alpha)
        if not math.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha: expected a value in [0, 1], got {alpha}")
        self.alpha = alpha
        self.squared = bool(squared)
        self.eps = check_positive_float("eps", eps)

    def active_mean(self, terms: Tensor) -> Tensor:
        """``sum(terms) / (max(#{terms > eps}, 1) + eps)``: the mean over active pairs. With no
        active pair every term is ``<= eps`` and so is the sum divided by 1; the official code's
        ``0 + eps`` denominator would blow that rounding noise up by ``1 / eps``."""
        active = (terms.detach() > self.eps).sum().clamp(min=1).to(terms.dtype)
        return terms.sum() / (active + self.eps)

    def forward(self, z: Tensor, z_aug: Tensor) -> Tensor:
        x = normalize(check_embeddings("z", z))
        check_embeddings("z_aug", z_aug)
        check_feature_dim("z_aug", z_aug, x.shape[1])
        x_aug = normalize(z_aug)
        dtype = torch.promote_types(x.dtype, x_aug.dtype)
        x, x_aug = x.to(dtype), x_aug.to(dtype)
        benign = cosine_distance(x, x)  # (N, N)
        hinge = torch.relu(self.margin - cosine_distance(x, x_aug))  # (N, M)
        if self.squared:
            benign, hinge = benign.pow(2), hinge.pow(2)
        return self.alpha * self.active_mean(benign) + (1 - self.alpha) * self.active_mean(hinge)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, alpha={self.alpha}, squared={self.squared}, eps={self.eps}"
