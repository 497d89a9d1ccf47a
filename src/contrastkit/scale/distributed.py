r"""Candidates from every process, with the gradient each process needs.

Under data parallelism (``torchrun`` + DDP) each rank encodes its own ``n_r`` samples. A loss that
lets local anchors see the candidates of every rank gathers them with :func:`all_gather_with_grad`.

Why the backward pass *sums*. Let rank ``r`` return ``L_r`` and let DDP average parameter gradients,
so the step follows :math:`\bar L = \frac{1}{W}\sum_r L_r`. Rank ``r``'s embeddings ``x_r`` enter
every rank's loss through the gathered matrix, so the chain rule for the gradient rank ``r`` must
backpropagate through its encoder is

.. math::
    \frac{\partial \sum_{r'} L_{r'}}{\partial x_r}
        = \sum_{r'} \Big[\frac{\partial L_{r'}}{\partial X}\Big]_{\text{rows of } r},

the *sum* over ranks of the gradients they computed for ``r``'s slice of the gathered ``X``. (Keeping
only the local rank's gradient drops the other ranks' terms; averaging divides them by ``W``.) The
objective is the mean over all :math:`N = \sum_r n_r` anchors, :math:`\mathcal L = \frac1N\sum_i
\ell_i`, so each rank returns :math:`L_r = \frac{W}{N}\sum_{i \in r}\ell_i` (:meth:`RankRows.mean`):
then :math:`\bar L = \mathcal L` exactly, with uneven ``n_r`` too, and equals the usual local mean
when every rank holds ``N / W`` rows.

Rank and world size are read from :mod:`torch.distributed` at call time; outside an initialised
process group every function here is the identity (one process).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Number of processes in the default group, 1 when torch.distributed is not initialised."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank in the default group, 0 when torch.distributed is not initialised."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _row_counts(x: Tensor) -> list[int]:
    """Every rank's number of rows (one small all-gather); checks the trailing shapes agree."""
    shape = torch.tensor([x.shape[0], *x.shape[1:]], dtype=torch.long, device=x.device)
    shapes = [torch.empty_like(shape) for _ in range(world_size())]
    dist.all_gather(shapes, shape)
    for r, other in enumerate(shapes):
        if other.shape != shape.shape or not torch.equal(other[1:], shape[1:]):
            raise ValueError(
                f"x: trailing shape {tuple(x.shape[1:])} differs from rank {r}'s {tuple(other[1:].tolist())}"
            )
    return [int(s[0]) for s in shapes]


def _gather(x: Tensor, counts: list[int]) -> Tensor:
    """Concatenate every rank's rows in rank order (rows padded to the largest count for the collective)."""
    longest = max(counts)
    padded = x.new_zeros((longest, *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:count] for part, count in zip(parts, counts)])


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, counts: list[int], my_rank: int) -> Tensor:
        ctx.start = sum(counts[:my_rank])
        ctx.stop = ctx.start + counts[my_rank]
        return _gather(x, counts)

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)  # every rank's gradient for every slice
        return grad[ctx.start : ctx.stop], None, None


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Rows of ``x`` from every rank, concatenated along dim 0 in rank order.

    Row counts may differ between ranks; trailing dimensions must agree. In the backward pass each
    rank receives, for its own rows, the sum of the gradients every rank computed for them (see the
    module docstring). Every rank must call it, and backpropagate through it, the same number of
    times. Outside an initialised process group ``x`` is returned unchanged.

    Shapes:
        x ``(n_r, ...)`` on rank ``r``; returns ``(sum_r n_r, ...)``.
    Raises:
        ValueError: when the trailing shapes differ between ranks.
    """
    if world_size() == 1:
        return x
    counts = _row_counts(x)
    if x.requires_grad:
        return _AllGatherWithGrad.apply(x, counts, rank())
    return _gather(x, counts)


@dataclass(frozen=True)
class RankRows:
    """Where this rank's rows sit among the gathered ones.

    Attributes:
        offset: global index of this rank's first row.
        count: this rank's rows.
        total: rows over every rank.
        world_size: number of ranks.
    """

    offset: int
    count: int
    total: int
    world_size: int

    def mean(self, per_anchor: Tensor) -> Tensor:
        r"""This rank's share of the global mean, scaled for DDP's gradient average:
        :math:`\frac{W}{N}\sum_{i\in r}\ell_i`. The average of it over ranks is the mean over all
        ``N`` anchors; in one process it is the plain mean."""
        return per_anchor.sum() * (self.world_size / self.total)


def gather_rows(*tensors: Tensor | None) -> tuple[list[Tensor | None], RankRows]:
    """Gather several row-aligned tensors (embeddings with gradient, labels, ids) from every rank.

    All given tensors must have this rank's row count; ``None`` entries are passed through.
    Floating tensors that require grad go through :func:`all_gather_with_grad`; the others are
    gathered without gradient. Returns the gathered tensors and this rank's :class:`RankRows`.
    In one process the tensors come back unchanged with ``offset=0``.
    """
    given = [t for t in tensors if t is not None]
    if not given:
        raise ValueError("tensors: expected at least one tensor")
    count = given[0].shape[0]
    for t in given:
        if t.shape[0] != count:
            raise ValueError(f"tensors: expected {count} rows in every tensor, got {t.shape[0]}")
    if world_size() == 1:
        return list(tensors), RankRows(0, count, count, 1)
    counts = _row_counts(given[0])
    me = rank()
    gathered = [None if t is None else all_gather_with_grad(t) for t in tensors]
    return gathered, RankRows(sum(counts[:me]), count, sum(counts), len(counts))


__all__ = ["RankRows", "all_gather_with_grad", "gather_rows", "rank", "world_size"]
