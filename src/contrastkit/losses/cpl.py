"""Contrastive Preference Learning: a policy's discounted segment log-likelihoods, preferred against
rejected, through the Bradley-Terry model (no reward model, no RL)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..validation import check_positive_float


def _segment(name: str, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    if not isinstance(x, Tensor) or x.dim() != 2 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a floating (B, T) tensor of per-step log-probabilities, "
                         f"got {got}")
    if torch.isnan(x).any() or (x > 0).any() or torch.isposinf(x).any():
        raise ValueError(f"{name}: log-probabilities must be <= 0 (probabilities in (0, 1])")
    if mask is None:
        mask = torch.ones_like(x, dtype=torch.bool)
    elif not isinstance(mask, Tensor) or mask.shape != x.shape:
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"{name}_mask: expected shape {tuple(x.shape)}, got {got}")
    mask = mask.to(torch.bool)
    if torch.isneginf(x[mask]).any():
        raise ValueError(f"{name}: a kept step has probability 0 (log-probability -inf)")
    return x, mask


class CPL(nn.Module):
    r"""Contrastive Preference Learning (Hejna, Rafailov, Sikchi, Finn, Niekum, Knox & Sadigh, ICLR
    2024, arXiv:2310.13639, Eq. 5 and the conservative Eq. 6).

    .. math::
        \mathcal{L} = -\log\sigma\Big(\alpha\sum_t \gamma^t \log\pi(a^+_t\mid s^+_t)
            - \lambda\,\alpha\sum_t \gamma^t \log\pi(a^-_t\mid s^-_t)\Big)

    averaged over the ``B`` comparisons (computed as ``softplus(-x)``). :math:`\lambda \in (0, 1]`
    is the conservative weight of the rejected segment (1 gives Eq. 5). Choices: padded steps are
    left out through the masks and the discount restarts at ``t = 0`` for every segment; segments of
    different lengths need masks (equal ``T`` after padding), as the Bradley-Terry comparison of
    unequal sums is otherwise biased by length. The value is non-negative.

    Args:
        alpha: :math:`\alpha > 0` (the temperature of the regret, default 0.1).
        gamma: discount :math:`\gamma \in (0, 1]` (default 1.0).
        lam: :math:`\lambda \in (0, 1]` (default 1.0).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    Shapes:
        ``forward(preferred, rejected, preferred_mask=None, rejected_mask=None)``: per-step
        log-probabilities ``(B, T+)`` and ``(B, T-)`` of the taken actions under the policy.
    Raises:
        ValueError: names the argument, for log-probabilities > 0 or NaN (probabilities outside
        (0, 1]), segments of different lengths without masks, bad shapes or options.
    """

    def __init__(self, alpha: float = 0.1, gamma: float = 1.0, lam: float = 1.0, reduction: str = "mean"):
        super().__init__()
        self.alpha = check_positive_float("alpha", alpha)
        for name, value in (("gamma", gamma), ("lam", lam)):
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and 0 < float(value) <= 1 and math.isfinite(float(value))):
                raise ValueError(f"{name}: expected a value in (0, 1], got {value!r}")
        self.gamma, self.lam = float(gamma), float(lam)
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction: expected one of ('mean', 'sum', 'none'), got {reduction!r}")
        self.reduction = reduction

    def discounted_sum(self, x: Tensor, mask: Tensor) -> Tensor:
        powers = self.gamma ** torch.arange(x.shape[1], dtype=x.dtype, device=x.device)
        return torch.where(mask, x * powers, 0.0).sum(dim=1)

    def forward(self, preferred: Tensor, rejected: Tensor, preferred_mask: Tensor | None = None,
                rejected_mask: Tensor | None = None) -> Tensor:
        pos, pos_mask = _segment("preferred", preferred, preferred_mask)
        neg, neg_mask = _segment("rejected", rejected, rejected_mask)
        if pos.shape[0] != neg.shape[0]:
            raise ValueError(f"rejected: {neg.shape[0]} segments, preferred has {pos.shape[0]}")
        if pos.shape[1] != neg.shape[1] and (preferred_mask is None or rejected_mask is None):
            raise ValueError(f"rejected_mask: segments of different lengths ({pos.shape[1]} and "
                             f"{neg.shape[1]} steps) need both masks")
        dtype = torch.float64 if torch.float64 in (pos.dtype, neg.dtype) else torch.float32
        logit = self.alpha * (self.discounted_sum(pos.to(dtype), pos_mask)
                              - self.lam * self.discounted_sum(neg.to(dtype), neg_mask))
        per = F.softplus(-logit)
        if self.reduction != "none":
            per = per.mean() if self.reduction == "mean" else per.sum()
        if not bool(torch.isfinite(logit).all() and torch.isfinite(per).all()):
            raise ValueError(f"preferred, rejected: alpha times the log-likelihood difference overflows "
                             f"{dtype} (alpha={self.alpha:g}); scale the log-probabilities or alpha down")
        return per

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, gamma={self.gamma:g}, lam={self.lam:g}"
