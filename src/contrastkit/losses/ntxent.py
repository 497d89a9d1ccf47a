"""NT-Xent, the SimCLR objective over 2N anchors."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStructure
from ..scale.distributed import RankRows
from ._common import ContrastiveLoss
from ._false_negatives import statistics
from ._views import check_instances


def two_view_structure(n: int, device: torch.device, offset: int = 0, total: int | None = None
                       ) -> PairStructure:
    """SimCLR layout over ``z = [u; v]`` (2N rows): row ``i``'s positive is row ``(i + N) mod 2N``,
    the row itself is excluded, every other row is a negative. With gathered candidates the 2N
    local rows are compared with ``total`` rows, of which theirs start at ``offset``."""
    rows = torch.arange(2 * n, device=device)
    total = 2 * n if total is None else total
    return PairStructure(2 * n, total, pos_index=(rows + n) % (2 * n) + offset, self_index=rows + offset)


def two_view_candidates(loss: ContrastiveLoss, u: Tensor, v: Tensor
                        ) -> tuple[Tensor, Tensor, PairStructure, RankRows]:
    """The 2N anchors ``z = [u; v]``, the candidates (``z`` itself, or every rank's ``z`` when
    ``loss.gather_distributed``), their :func:`two_view_structure` and where the local rows sit."""
    z = torch.cat([u, v])
    (candidates,), rows = loss.gather(z)
    return z, candidates, two_view_structure(u.shape[0], z.device, rows.offset, rows.total), rows


class NTXent(ContrastiveLoss):
    r"""NT-Xent (Chen, Kornblith, Norouzi & Hinton, 2020, "A Simple Framework for Contrastive
    Learning of Visual Representations", arXiv:2002.05709, Eq. 1 and Algorithm 1).

    .. math::
        \mathcal{L} = \frac{1}{2N}\sum_{a=1}^{2N}\Big[-s_{a,a^+}
            + \log\sum_{b\neq a} e^{s_{ab}}\Big],\qquad
        s_{ab} = \langle \hat z_a, \hat z_b\rangle/\tau,\quad z = [z_1; z_2]

    where :math:`a^+` is the other view of the same instance; the denominator holds the positive
    and the :math:`2N-2` other rows.

    Args:
        temperature: :math:`\tau > 0` (default 0.5).
        learnable_temperature, normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
        gather_distributed: score the local 2N rows against the 2N rows of every rank, with gradient.
    Shapes:
        z1, z2 ``(N, d)``; ``reduction="none"`` returns ``(2N,)`` (rows of ``z1`` first).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input or ``temperature <= 0``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.5, **options):
        super().__init__(temperature, **options)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u = self.prepare("z1", z1)
        v = self.prepare("z2", z2)
        if v.shape != u.shape:
            raise ValueError(f"z2: shape {tuple(v.shape)} does not match z1's {tuple(u.shape)}")
        z, candidates, structure, rows = two_view_candidates(self, u, v)
        check_instances("z1", rows.total // 2)  # rows hold both views
        stats = statistics(self, z, candidates, structure, {"lse_all", "pos_sum"},
                                scale=self.temperature.scale(), **self.engine_options())
        return self.reduce_rows(stats.lse_all - stats.pos_sum, rows)
