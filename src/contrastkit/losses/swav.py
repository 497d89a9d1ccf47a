"""SwAV: swapped prediction of Sinkhorn-Knopp prototype codes across crops (multi-crop)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ..scale.distributed import world_size
from ..scale.queue import Queue
from ..validation import check_embeddings, check_positive_float
from .sinkhorn import check_sinkhorn_options, sinkhorn_knopp


class SwAV(nn.Module):
    r"""SwAV (Caron, Misra, Mairal, Goyal, Bojanowski & Joulin, NeurIPS 2020, arXiv:2006.09882,
    Eqs. 1-3, multi-crop Sec. 3.2), as lightly's ``SwaVLoss`` and the official ``main_swav.py``.

    Crops ``t = 1..V`` give normalised embeddings :math:`\hat z_t`; prototype scores are
    :math:`s_t = \hat z_t \hat C^{\top}` (``K`` rows of :math:`C`, L2-normalised before every
    forward as the official training loop does). For each of the first ``num_global_crops`` crops
    ``g`` the codes :math:`q_g` = :func:`~contrastkit.losses.sinkhorn.sinkhorn_knopp` of
    :math:`s_g` (no gradient; with a queue, over ``[s_g; queue_g \hat C^{\top}]``, keeping the batch
    rows) are predicted from every other crop:

    .. math::
        \mathcal{L} = \frac{1}{G}\sum_{g}\frac{1}{V-1}\sum_{t\neq g}
            \frac{1}{N}\sum_i -\sum_k q_{g,ik}\,\log\mathrm{softmax}_k(s_{t,i}/\tau)

    State: the prototypes (a parameter) and, with ``queue_size > 0``, one FIFO
    :class:`~contrastkit.scale.Queue` of past global-crop embeddings per global crop; all are in
    the state dict, so a checkpoint resumes them. Each forward pushes the global crops' embeddings
    after computing the codes (``update=True``).

    Args:
        dim: embedding size ``d``.
        num_prototypes: ``K >= 2`` (paper: 3000).
        temperature: :math:`\tau > 0` of the swapped prediction (default 0.1).
        sinkhorn_iterations: ``>= 1`` (default 3); sinkhorn_epsilon: :math:`\varepsilon > 0` (0.05).
        num_global_crops: crops that get codes, the first ones given (default 2).
        queue_size: rows kept per global crop (default 0: no queue).
        gather_distributed: Sinkhorn over every rank's rows (a cross-process equipartition); the
            mean over ranks of the returned value is the global loss.
    Shapes:
        ``forward(crops)``: a list of ``V >= 2`` tensors ``(N, d)`` (global crops first; the small
        crops may have another ``N`` only if they share it, as all rows index the same images).
    Raises:
        ValueError: names the argument, for ``num_prototypes < 2``, ``sinkhorn_iterations < 1``,
        a bad ``num_global_crops``, fewer than 2 crops, bad shapes or non-finite input.
    """

    def __init__(self, dim: int, num_prototypes: int = 3000, temperature: float = 0.1,
                 sinkhorn_iterations: int = 3, sinkhorn_epsilon: float = 0.05, num_global_crops: int = 2,
                 queue_size: int = 0, gather_distributed: bool = False):
        super().__init__()
        for name, value, low in (("dim", dim, 1), ("num_prototypes", num_prototypes, 2),
                                 ("num_global_crops", num_global_crops, 1), ("queue_size", queue_size, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
        check_sinkhorn_options(sinkhorn_iterations, sinkhorn_epsilon)
        self.temperature = check_positive_float("temperature", temperature)
        self.sinkhorn_iterations, self.sinkhorn_epsilon = sinkhorn_iterations, float(sinkhorn_epsilon)
        self.num_global_crops, self.gather_distributed = num_global_crops, bool(gather_distributed)
        self.prototypes = nn.Parameter(F.normalize(torch.randn(num_prototypes, dim), dim=1))
        self.queues = nn.ModuleList(
            [Queue(queue_size, dim, gather_distributed=gather_distributed) for _ in range(num_global_crops)]
            if queue_size else [])

    @torch.no_grad()
    def normalize_prototypes(self) -> None:
        self.prototypes.copy_(F.normalize(self.prototypes, dim=1))

    def codes(self, g: int, scores: Tensor) -> Tensor:
        """Sinkhorn codes of global crop ``g``'s scores (queue rows appended, then dropped)."""
        if self.queues and len(self.queues[g]):
            stored, _ = self.queues[g].negatives()
            scores = torch.cat([scores, stored.to(self.prototypes) @ self.prototypes.T])
        return sinkhorn_knopp(scores, self.sinkhorn_iterations, self.sinkhorn_epsilon,
                              self.gather_distributed)

    def forward(self, crops: list[Tensor], *, update: bool = True) -> Tensor:
        if not isinstance(crops, (list, tuple)) or len(crops) < 2:
            got = len(crops) if isinstance(crops, (list, tuple)) else type(crops).__name__
            raise ValueError(f"crops: expected a list of at least 2 (N, d) tensors, got {got}")
        if len(crops) < self.num_global_crops:
            raise ValueError(f"num_global_crops: {self.num_global_crops} global crops but only "
                             f"{len(crops)} crops given")
        n, d = None, self.prototypes.shape[1]
        embeddings = []
        for t, x in enumerate(crops):
            check_embeddings(f"crops[{t}]", x)
            if x.shape[1] != d or (n is not None and x.shape[0] != n):
                raise ValueError(f"crops[{t}]: expected shape ({n or 'N'}, {d}), got {tuple(x.shape)}")
            n = x.shape[0]
            embeddings.append(F.normalize(x.to(self.prototypes.dtype), dim=1))
        self.normalize_prototypes()
        scores = [z @ self.prototypes.T for z in embeddings]
        total = scores[0].new_zeros(())
        for g in range(self.num_global_crops):
            q = self.codes(g, scores[g])[:n]
            for t, s in enumerate(scores):
                if t != g:
                    total = total - (q * F.log_softmax(s / self.temperature, dim=1)).sum(1).mean()
        loss = total / (self.num_global_crops * (len(crops) - 1))
        if update:
            for g, queue in enumerate(self.queues):
                queue.push(embeddings[g].detach())
        if self.gather_distributed and world_size() > 1:
            # each rank's mean is over its rows: re-weight so the mean over ranks is the global mean
            count = torch.tensor(float(n), dtype=loss.dtype, device=loss.device)
            dist.all_reduce(count)
            loss = loss * (n * world_size() / count)
        return loss

    def extra_repr(self) -> str:
        return (f"num_prototypes={self.prototypes.shape[0]}, temperature={self.temperature:g}, "
                f"num_global_crops={self.num_global_crops}, queue={bool(self.queues)}")
