"""The plan of a streaming call and the per-side (rows or columns) accumulators of its two passes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._tiles import FIXED_SHIFT_LIMIT, RunningLogSumExp, backward_offset
from .structure import PairStructure

POSITIVE_STATS = frozenset({"pos_sum", "pos_count", "pos_lse"})
#: default tile edge (rows and columns) per device type.
DEFAULT_TILE = {"cpu": 1024, "cuda": 4096}


@dataclass(frozen=True)
class StreamingPlan:
    """Everything about a call that is not a tensor to differentiate."""

    structure: PairStructure
    row_want: frozenset[str]
    col_want: frozenset[str]
    tilts: tuple[float, ...]
    tile: int
    bound: float  # upper bound on |s_ij| over every pair, for the fixed-shift mode

    def shift(self, gamma: float) -> float | None:
        bound = abs(gamma) * self.bound
        return bound if bound <= FIXED_SHIFT_LIMIT else None

    def plain_fast(self, want: frozenset[str]) -> bool:
        """Whether tiles of negatives can take the fused fixed-shift path for these statistics."""
        return "pair_sum" not in want and all(
            self.shift(g) is not None for _, which, g in self.lse_terms(want) if which != "pos")

    def lse_terms(self, want: frozenset[str]):
        """``(key, which, gamma)`` of every log-sum-exp statistic in ``want``."""
        terms = [(("lse_all", 0), "kept", 1.0)] if "lse_all" in want else []
        if "lse_neg" in want:
            terms += [(("lse_neg", k), "neg", g) for k, g in enumerate(self.tilts)]
        if "pos_lse" in want:
            terms.append((("pos_lse", 0), "pos", 1.0))
        return terms


class SideSums:
    """Running forward reductions of one side (the rows or the columns) of the whole problem."""

    def __init__(self, plan: StreamingPlan, want: frozenset[str], size: int, dtype, device):
        self.lse = {key: (which, g, RunningLogSumExp(size, plan.shift(g), dtype, device))
                    for key, which, g in plan.lse_terms(want)}

        def zeros(name):
            return torch.zeros(size, dtype=dtype, device=device) if name in want else None

        self.pos_sum, self.pos_count, self.pair_sum = zeros("pos_sum"), zeros("pos_count"), zeros("pair_sum")
        self.fn_count = zeros("fn_count")

    def results(self, want: frozenset[str]) -> dict[str, Tensor]:
        out = {name: getattr(self, name) for name in ("pos_sum", "pos_count", "pair_sum", "fn_count")
               if name in want}
        for (name, _), (_, _, acc) in self.lse.items():
            if name != "lse_neg":
                out[name] = acc.result()
        negatives = [acc.result() for (name, _), (_, _, acc) in self.lse.items() if name == "lse_neg"]
        if negatives:
            out["lse_neg"] = torch.stack(negatives, dim=-1)
        return out


class SideGradients:
    """Incoming gradients of one side, turned into per-index coefficients of the tile gradients."""

    def __init__(self, plan: StreamingPlan, want: frozenset[str], outputs: dict, grads: dict):
        self.lse_terms = []
        for (name, k), which, gamma in plan.lse_terms(want):
            g = grads.get(name)
            if g is None:
                continue
            lse = outputs[name]
            if name == "lse_neg":
                g, lse = g[:, k], lse[:, k]
            shift = plan.shift(gamma)
            if shift is None:
                self.lse_terms.append((which, gamma, gamma * g, backward_offset(lse)))
            else:
                coef = torch.where(torch.isneginf(lse), 0.0, gamma * g * torch.exp(shift - lse))
                self.lse_terms.append((which, gamma, coef, None))
        self.pos_sum, self.pair_sum = grads.get("pos_sum"), grads.get("pair_sum")

    @property
    def empty(self) -> bool:
        return not self.lse_terms and self.pos_sum is None and self.pair_sum is None
