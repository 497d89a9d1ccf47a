"""Negative cosine similarity: the BYOL / SimSiam objective between a prediction and a target."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..engine import accumulation_dtype
from ..validation import check_embeddings

#: the floor on each norm, as ``torch.nn.functional.cosine_similarity``'s default ``eps``.
NORM_EPS = 1e-8


class NegativeCosine(nn.Module):
    r"""Negative cosine similarity of SimSiam (Chen & He, CVPR 2021, arXiv:2011.10566, Eq. 1) and,
    up to the constant and factor of :math:`2 - 2\cos`, BYOL's normalised MSE (Grill et al., 2020,
    arXiv:2006.07733, Eq. 2).

    .. math::
        \mathcal{L} = -\frac{1}{N}\sum_i \frac{\langle p_i, z_i\rangle}
                      {\max(\lVert p_i\rVert, \epsilon)\,\max(\lVert z_i\rVert, \epsilon)}

    The symmetrised loss of both papers is ``0.5 * (loss(p1, z2) + loss(p2, z1))``, with the
    predictor :class:`contrastkit.scale.Predictor` giving ``p`` and, for BYOL, the target ``z`` from
    :class:`contrastkit.scale.MomentumEncoder`. Equal to lightly's ``NegativeCosineSimilarity``.
    The value lies in ``[-1, 1]``; it is negative by its formula.

    Args:
        stop_gradient: detach the target ``z`` (SimSiam's stop-gradient; BYOL's target has no
            gradient anyway). Default ``False``, as lightly: the caller detaches.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``(N,)``).
    Shapes:
        prediction, target ``(N, d)``; returns a scalar for ``mean``/``sum``.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input or an unknown reduction.
    """

    def __init__(self, stop_gradient: bool = False, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction: expected one of ('mean', 'sum', 'none'), got {reduction!r}")
        self.stop_gradient = bool(stop_gradient)
        self.reduction = reduction

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        check_embeddings("prediction", prediction)
        check_embeddings("target", target)
        if target.shape != prediction.shape:
            raise ValueError(
                f"target: shape {tuple(target.shape)} does not match prediction's {tuple(prediction.shape)}")
        p = prediction.to(accumulation_dtype(prediction))
        z = target.to(p.dtype)
        if self.stop_gradient:
            z = z.detach()
        # cosine is scale-free: divide by each row's largest entry first so huge norms cannot overflow
        p = p / p.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(p.dtype).tiny)
        z = z / z.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(p.dtype).tiny)
        norms = p.norm(dim=1).clamp_min(NORM_EPS) * z.norm(dim=1).clamp_min(NORM_EPS)
        per_row = -(p * z).sum(dim=1) / norms
        if self.reduction == "mean":
            return per_row.mean()
        return per_row.sum() if self.reduction == "sum" else per_row

    def extra_repr(self) -> str:
        return f"stop_gradient={self.stop_gradient}"
