"""CLAIF-style InfoNCE with soft targets from graded similarity scores (e.g. AI feedback)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStructure, accumulation_dtype, pair_statistics
from ._common import ContrastiveLoss, check_same_shape, reduce
from ._views import check_instances

SMOOTHING = ("all", "positive")


def check_scores(scores: Tensor, n: int, device, dtype) -> Tensor:
    """Finite ``(n,)`` similarity scores in ``[0, 1]``."""
    if not isinstance(scores, Tensor):
        scores = torch.as_tensor(scores)
    if scores.shape != (n,) or scores.is_complex() or scores.dtype == torch.bool:
        raise ValueError(f"scores: expected a real 1-D tensor of length {n}, got {scores.dtype} "
                         f"of shape {tuple(scores.shape)}")
    scores = scores.to(device=device, dtype=dtype)
    if not bool(((scores >= 0) & (scores <= 1)).all()):
        raise ValueError("scores: expected similarity scores in [0, 1] (NaN is not one)")
    return scores


class CLAIF(ContrastiveLoss):
    r"""InfoNCE with soft similarity targets, as CLAIF / CLHAIF (Cheng, Yang, Sun, Li & Qiu,
    Findings of ACL 2023, "Improving Contrastive Learning of Sentence Embeddings from AI
    Feedback", arXiv:2305.01918), in the form of the authors' released training code
    (xiami2019/CLAIF, ``simcse/models.py``, ``smooth_type``).

    Each pair ``(x_i, x_i')`` carries a similarity score :math:`y_i \in [0, 1]` (from an LLM or a
    human). The one-hot InfoNCE target is replaced by a soft one:

    .. math::
        \ell_i = -\sum_{j=1}^{M} q_{ij}\log\frac{e^{s_{ij}}}{\sum_{k=1}^{M} e^{s_{ik}}},\qquad
        s_{ij} = \langle \hat z_i, \hat z'_j\rangle/\tau,\qquad
        q_{ii} = y_i,\quad q_{ij} = \frac{1 - y_i}{M - 1}\ (j\neq i,\ \texttt{"all"})\ \text{or}\ 0
        \ (\texttt{"positive"})

    averaged over the ``N`` anchors; the ``M`` candidates are the in-batch second sentences and,
    if given, one hard negative per anchor (``M = 2N``). Since :math:`\sum_j q_{ij}` is known,
    :math:`\ell_i = w_i\,\mathrm{lse}_i - y_i s_{ii} - \frac{1-y_i}{M-1}\big(\sum_j s_{ij} - s_{ii}\big)`
    with :math:`w_i = 1` (``"all"``) or :math:`y_i` (``"positive"``): the log-sum-exp comes from
    the engine (so the loss streams) and
    :math:`\sum_j s_{ij} = \langle \hat z_i, \sum_j \hat z'_j\rangle/\tau` is linear.
    The value is a cross-entropy with a non-negative target, so non-negative. Not built: the
    code's ``hard_negative_weight`` logit offset (0 by default there); the paper's other
    objectives were not re-read.

    Args:
        temperature: ``tau > 0`` (default 0.05, SimCSE's).
        smoothing: ``"all"`` (default, ``smooth_all``) or ``"positive"`` (``smooth_positive``).
        normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
    Shapes:
        z1, z2 ``(N, d)``, ``N >= 2``; scores ``(N,)`` in ``[0, 1]``; hard_negative ``(N, d)``.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, a score outside
        ``[0, 1]``, ``N < 2``, an unknown smoothing or ``temperature <= 0``.
    """

    def __init__(self, temperature: float = 0.05, smoothing: str = "all", **options):
        super().__init__(temperature, **options)
        if smoothing not in SMOOTHING:
            raise ValueError(f"smoothing: expected one of {SMOOTHING}, got {smoothing!r}")
        self.smoothing = smoothing

    def forward(self, z1: Tensor, z2: Tensor, scores: Tensor, hard_negative: Tensor | None = None) -> Tensor:
        a = self.prepare("z1", z1)
        b = self.prepare("z2", z2).to(a.dtype)
        check_same_shape("z1", a, "z2", b)
        n = a.shape[0]
        check_instances("z1", n)
        if hard_negative is not None:
            h = self.prepare("hard_negative", hard_negative).to(a.dtype)
            check_same_shape("z1", a, "hard_negative", h)
            b = torch.cat([b, h])
        y = check_scores(scores, n, a.device, accumulation_dtype(a))
        m = b.shape[0]
        structure = PairStructure(n, m, pos_index=torch.arange(n, device=a.device))
        scale = self.temperature.scale()
        stats = pair_statistics(a, b, structure, {"lse_all", "pos_sum"}, scale=scale,
                                **self.engine_options())
        positive = stats.pos_sum
        weight = torch.ones_like(y) if self.smoothing == "all" else y
        per_anchor = weight * stats.lse_all - y * positive
        if self.smoothing == "all":
            row_sum = (a @ b.sum(dim=0)) * scale
            per_anchor = per_anchor - (1 - y) / (m - 1) * (row_sum - positive)
        return reduce(per_anchor.clamp_min(0), self.reduction)

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing!r}"
