"""SimCTG: a margin on the cosine similarities between the token representations of a sequence."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..validation import check_embeddings


class SimCTG(nn.Module):
    r"""SimCTG's token-level contrastive objective (Su, Lan, Wang, Yogatama, Kong & Collier, NeurIPS
    2022, "A Contrastive Framework for Neural Text Generation", arXiv:2202.06417, Eq. 2).

    .. math::
        \mathcal{L}_{CL} = \frac{1}{|x|(|x|-1)}\sum_{i=1}^{|x|}\sum_{j\neq i}
            \max\big\{0,\ \rho - s(h_i, h_i) + s(h_i, h_j)\big\},\qquad s = \cos

    per sequence (``s(h_i, h_i) = 1``), averaged over the sequences of the batch; the language
    modelling term of the paper is the caller's. Choices: padded tokens (``mask`` False) are left out
    and ``|x|`` counts the kept tokens; a sequence with fewer than 2 kept tokens contributes 0 and is
    left out of the average (a batch with none gives 0). The value is non-negative.

    Args:
        margin: :math:`\rho` (default 0.5, the paper's), finite.
        reduction: ``"mean"`` over sequences | ``"sum"`` | ``"none"`` (``(B,)``).
    Shapes:
        hidden ``(B, T, d)`` token representations; mask ``(B, T)`` bool, optional.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input or a non-finite margin.
    """

    def __init__(self, margin: float = 0.5, reduction: str = "mean"):
        super().__init__()
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin):
            raise ValueError(f"margin: expected a finite float, got {margin!r}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction: expected one of ('mean', 'sum', 'none'), got {reduction!r}")
        self.margin, self.reduction = float(margin), reduction

    def forward(self, hidden: Tensor, mask: Tensor | None = None) -> Tensor:
        check_embeddings("hidden", hidden, ndim=3)
        b, t, _ = hidden.shape
        if mask is None:
            mask = torch.ones(b, t, dtype=torch.bool, device=hidden.device)
        elif not isinstance(mask, Tensor) or mask.shape != (b, t):
            got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(f"mask: expected shape ({b}, {t}), got {got}")
        mask = mask.to(device=hidden.device, dtype=torch.bool)
        dtype = torch.float64 if hidden.dtype == torch.float64 else torch.float32
        h = F.normalize(hidden.to(dtype), dim=-1, eps=1e-12)
        cos = h @ h.transpose(1, 2)  # (B, T, T)
        pairs = mask[:, :, None] & mask[:, None, :] & ~torch.eye(t, dtype=torch.bool, device=h.device)
        hinge = F.relu(self.margin - 1.0 + cos) * pairs
        counts = pairs.sum(dim=(1, 2))
        per_sequence = hinge.sum(dim=(1, 2)) / counts.clamp_min(1)
        if self.reduction == "none":
            return per_sequence
        if self.reduction == "sum":
            return per_sequence.sum()
        return per_sequence.sum() / (counts > 0).sum().clamp_min(1)

    def extra_repr(self) -> str:
        return f"margin={self.margin:g}"
