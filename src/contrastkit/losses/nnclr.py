"""NNCLR: the nearest neighbour of an embedding in a support queue stands in for it as the anchor."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStructure
from ..scale.neighbours import nearest_neighbours
from ..scale.queue import Queue
from ._common import ContrastiveLoss
from ._false_negatives import statistics
from ._views import prepare_two_views


class NNCLR(ContrastiveLoss):
    r"""NNCLR (Dwibedi, Aytar, Tompson, Sermanet & Zisserman, ICCV 2021, "With a Little Help from My
    Friends", arXiv:2104.14548, Eq. 2, symmetrised as in Sec. 3.2).

    .. math::
        \ell_i = -\log\frac{e^{\langle \mathrm{NN}(\hat z_i, Q),\, \hat p_i^{+}\rangle/\tau}}
                           {\sum_{k} e^{\langle \mathrm{NN}(\hat z_i, Q),\, \hat p_k^{+}\rangle/\tau}},
        \qquad \mathrm{NN}(z, Q) = \arg\max_{q\in Q} \langle \hat z, \hat q\rangle

    ``Q`` is a FIFO support set of past embeddings (:class:`~contrastkit.scale.Queue`, in the
    state dict, so a checkpoint resumes it); ``p^+`` is the other view's prediction (or its
    embedding when no predictions are given). The loss is
    ``0.5 * (l(z1 -> p2) + l(z2 -> p1))``; after it, ``z1`` is pushed into ``Q`` (``update=True``).
    The neighbour carries no gradient (it is a stored embedding). Choices: while ``Q`` is empty the
    embedding is its own neighbour (lightly instead starts from random vectors); the candidates are
    the other view's ``N`` predictions, as the paper's Eq. 2 (lightly's example uses NT-Xent's
    ``2N`` rows). DeCLIP's nearest-neighbour text supervision is the same lookup.

    Args:
        dim: embedding size ``d``.
        support_size: capacity of ``Q`` (paper: 98,304).
        temperature: :math:`\tau > 0` (default 0.1, the paper's).
        learnable_temperature, normalize, reduction, backend, tile_size, gather_distributed,
        false_negative_margin, false_negative_threshold: see :class:`~contrastkit.losses.InfoNCE`
        (gathered: the candidates and the pushed embeddings come from every rank).
    Shapes:
        z1, z2 ``(N, d)`` embeddings; optional p1, p2 ``(N, d)`` predictions.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``support_size < 1``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, dim: int, support_size: int = 16384, temperature: float = 0.1, **options):
        super().__init__(temperature, **options)
        for name, value in (("dim", dim), ("support_size", support_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.support = Queue(support_size, dim, gather_distributed=self.gather_distributed)

    def neighbours(self, z: Tensor) -> Tensor:
        """``NN(z, Q)`` for each row (the row itself while ``Q`` is empty), no gradient."""
        support, _ = self.support.negatives()
        if support.shape[0] == 0:
            return z.detach()
        support = self.prepare("support", support.to(z)) if self.normalize else support.to(z)
        return support[nearest_neighbours(z.detach(), support)]

    def one_direction(self, z: Tensor, predictions: Tensor) -> Tensor:
        anchors = self.neighbours(z)
        (candidates,), rows = self.gather(predictions)
        own = torch.arange(rows.offset, rows.offset + z.shape[0], device=z.device)
        structure = PairStructure(z.shape[0], rows.total, pos_index=own)
        stats = statistics(self, anchors, candidates, structure, {"lse_all", "pos_sum"},
                           scale=self.temperature.scale(), **self.engine_options())
        return self.reduce_rows(stats.lse_all - stats.pos_sum, rows)

    def forward(self, z1: Tensor, z2: Tensor, p1: Tensor | None = None, p2: Tensor | None = None, *,
                update: bool = True) -> Tensor:
        u, v = prepare_two_views(self, z1, z2)
        q1 = u if p1 is None else self.prepare("p1", p1)
        q2 = v if p2 is None else self.prepare("p2", p2)
        for name, p in (("p1", q1), ("p2", q2)):
            if p.shape != u.shape:
                raise ValueError(f"{name}: shape {tuple(p.shape)} does not match z1's {tuple(u.shape)}")
        loss = 0.5 * (self.one_direction(u, q2) + self.one_direction(v, q1))
        if update:
            self.support.push(u.detach())
        return loss
