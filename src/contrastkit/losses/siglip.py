"""SigLIP's pairwise sigmoid loss over every (a_i, b_j) pair."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..engine import PairStructure, pair_statistics
from ._common import ContrastiveLoss, check_same_shape


class SigLIP(ContrastiveLoss):
    r"""Sigmoid loss (Zhai, Mustafa, Kolesnikov & Beyer, 2023, "Sigmoid Loss for Language Image
    Pre-Training", arXiv:2303.15343, Algorithm 1).

    .. math::
        \mathcal{L} = -\frac{1}{N}\sum_{i=1}^{N}\sum_{j=1}^{N}
            \log\sigma\big(z_{ij}\,(t\,\langle \hat a_i, \hat b_j\rangle + b)\big),\qquad
        t = 1/\tau,\quad z_{ij} = \begin{cases} +1 & i = j\\ -1 & i \neq j\end{cases}

    Every one of the :math:`N^2` pairs is an independent binary problem: the matching pair is a
    positive, every other pair a negative. The sum over pairs is divided by :math:`N` (per-row
    sums, then the mean over rows), as in big_vision and open_clip. The paper's learnable
    :math:`t' = \log t` is stored here as :math:`\log\tau = -t'`; the defaults :math:`\tau = 0.1`
    (:math:`t = 10`) and :math:`b = -10` are the paper's initialisation.

    Args:
        temperature: initial :math:`\tau > 0` (default 0.1).
        bias: initial logit bias :math:`b` (default -10.0), any finite float.
        learnable_temperature: make :math:`\tau` a parameter (default ``True``).
        learnable_bias: make :math:`b` a parameter (default ``True``), named ``bias``.
        normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
        gather_distributed: pair the local ``a`` with the ``b`` of every rank (all-gather with
            gradient, rather than the paper's chunked ring; same value); each row sum runs over the
            global batch and ``mean`` divides by the global ``N`` (see :class:`ContrastiveLoss`).
    Shapes:
        a ``(N, d)``, b ``(N, d)``; ``reduction="none"`` returns the ``(N,)`` row sums.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``temperature <= 0``
        or a non-finite ``bias``.
    """

    supports_gather_distributed = True

    def __init__(self, temperature: float = 0.1, bias: float = -10.0,
                 learnable_temperature: bool = True, learnable_bias: bool = True, **options):
        super().__init__(temperature, learnable_temperature=learnable_temperature, **options)
        bias = float(bias)
        if not math.isfinite(bias):
            raise ValueError(f"bias: expected a finite float, got {bias}")
        self.learnable_bias = bool(learnable_bias)
        if self.learnable_bias:
            self.bias = nn.Parameter(torch.tensor(bias, dtype=torch.float32))
        else:
            self.register_buffer("bias", torch.tensor(bias, dtype=torch.float32))
        # A fixed bias is applied as the exact Python float, like a fixed temperature.
        self._fixed_bias = None if self.learnable_bias else bias

    def logit_bias(self) -> Tensor | float:
        return self.bias if self._fixed_bias is None else self._fixed_bias

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        x = self.prepare("a", a)
        y = self.prepare("b", b)
        check_same_shape("a", a, "b", b)
        n = x.shape[0]
        (candidates,), rows = self.gather(y)
        structure = PairStructure(n, rows.total,
                                  pos_index=torch.arange(rows.offset, rows.offset + n, device=x.device))
        stats = pair_statistics(x, candidates, structure, {"pair_sum"}, scale=self.temperature.scale(),
                                bias=self.logit_bias(), **self.engine_options())
        return self.reduce_rows(stats.pair_sum, rows)

    def extra_repr(self) -> str:
        return f"bias={float(self.bias.detach()):.4g}, learnable_bias={self.learnable_bias}"
