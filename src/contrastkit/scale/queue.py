r"""Negatives remembered across steps: MoCo's FIFO queue and an instance memory bank.

* :class:`Queue`: the dictionary of MoCo (He et al., 2020, arXiv:1911.05722, Sec. 3.1-3.2): keys of
  recent batches, detached, the oldest replaced first. Each key keeps its sample id, so a loss can
  exclude an anchor's own old keys (false negatives): pass them as ``negatives`` and
  ``negative_ids`` to :class:`~contrastkit.losses.InfoNCE` together with the batch ``ids``.
* :class:`MemoryBank`: one entry per dataset sample (Wu, Xiong, Yu & Lin, 2018, "Unsupervised
  Feature Learning via Non-Parametric Instance Discrimination", arXiv:1805.01978, Sec. 3.2), updated
  with momentum as in PIRL (Misra & van der Maaten, 2020, arXiv:1912.01991, Sec. 3.2):
  :math:`v_i \leftarrow \mathrm{normalize}(m\,v_i + (1-m)\,f_i)`; ``m = 0`` replaces (Wu et al.).

Both are modules whose state lives in buffers, so it is part of the state dict (checkpoints) and
follows ``.to(device)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .distributed import gather_rows


def _check_rows(name: str, x: Tensor, dim: int) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != dim or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a floating (B, {dim}) tensor, got {got}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")


def _check_ids(name: str, ids: Tensor | None, rows: int) -> None:
    if ids is not None and (not isinstance(ids, Tensor) or ids.dim() != 1 or ids.shape[0] != rows
                            or ids.is_floating_point() or ids.dtype == torch.bool):
        raise ValueError(f"{name}: expected a 1-D integer tensor of length {rows}")


class Queue(nn.Module):
    """A first-in, first-out store of ``size`` detached keys and their sample ids.

    Args:
        size: capacity ``K``.
        dim: feature size ``d``.
        dtype: storage dtype (default float32).
        gather_distributed: push the keys of every rank (in rank order), so all ranks hold the same
            queue, as MoCo's shuffled-BN training does.

    :meth:`push` adds a batch (keeping only its last ``K`` rows if it is larger); :meth:`negatives`
    returns the stored keys oldest first and their ids (``-1`` where none was given).

    Raises:
        ValueError: for a non-positive size or dim, keys of the wrong shape or non-finite keys,
        ids of the wrong length.
    """

    def __init__(self, size: int, dim: int, *, dtype: torch.dtype = torch.float32,
                 gather_distributed: bool = False):
        super().__init__()
        for name, value in (("size", size), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.size, self.dim, self.gather_distributed = size, dim, bool(gather_distributed)
        self.register_buffer("keys", torch.zeros(size, dim, dtype=dtype))
        self.register_buffer("ids", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.count)

    @torch.no_grad()
    def push(self, keys: Tensor, ids: Tensor | None = None) -> None:
        """Enqueue ``keys (B, d)`` (detached) with optional ``ids (B,)``, dropping the oldest."""
        _check_rows("keys", keys, self.dim)
        _check_ids("ids", ids, keys.shape[0])
        keys = keys.detach()
        ids = torch.full((keys.shape[0],), -1, dtype=torch.long, device=keys.device) if ids is None \
            else ids.to(device=keys.device, dtype=torch.long)
        if self.gather_distributed:
            (keys, ids), _ = gather_rows(keys, ids)
        keys, ids = keys[-self.size:], ids[-self.size:]
        slots = (int(self.pointer) + torch.arange(keys.shape[0], device=self.keys.device)) % self.size
        self.keys[slots] = keys.to(self.keys)
        self.ids[slots] = ids.to(self.ids.device)
        self.pointer.fill_((int(self.pointer) + keys.shape[0]) % self.size)
        self.count.fill_(min(int(self.count) + keys.shape[0], self.size))

    def negatives(self) -> tuple[Tensor, Tensor]:
        """The stored keys ``(len, d)``, oldest first, and their ids ``(len,)``."""
        count = int(self.count)
        start = int(self.pointer) if count == self.size else 0
        order = (start + torch.arange(count, device=self.keys.device)) % self.size
        return self.keys[order], self.ids[order]

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}, gather_distributed={self.gather_distributed}"


class MemoryBank(nn.Module):
    r"""One L2-normalised entry per dataset sample, refreshed with momentum.

    Args:
        num_entries: dataset size; entry ``i`` belongs to sample id ``i``.
        dim: feature size.
        momentum: :math:`m \in [0, 1)`; 0 replaces an entry with the new feature.
        dtype: storage dtype (default float32).

    :meth:`update` writes features for sample ids (an entry's first write replaces it);
    :meth:`negatives` returns the written entries with their ids, optionally a random subset.
    Identical ids within one update: the last row wins.

    Raises:
        ValueError: for bad sizes, a momentum outside [0, 1), ids out of range, bad features.
    """

    def __init__(self, num_entries: int, dim: int, *, momentum: float = 0.5,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        for name, value in (("num_entries", num_entries), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1), got {momentum}")
        self.num_entries, self.dim, self.momentum = num_entries, dim, float(momentum)
        self.register_buffer("entries", torch.zeros(num_entries, dim, dtype=dtype))
        self.register_buffer("written", torch.zeros(num_entries, dtype=torch.bool))

    def __len__(self) -> int:
        return int(self.written.sum())

    @torch.no_grad()
    def update(self, features: Tensor, ids: Tensor) -> None:
        """Refresh the entries of sample ``ids (B,)`` with ``features (B, d)`` (detached)."""
        _check_rows("features", features, self.dim)
        _check_ids("ids", ids, features.shape[0])
        ids = ids.to(device=self.entries.device, dtype=torch.long)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_entries):
            raise ValueError(f"ids: expected values in [0, {self.num_entries}), got {ids.tolist()}")
        positions = torch.arange(ids.numel(), device=ids.device)
        last = torch.full((self.num_entries,), -1, dtype=torch.long, device=ids.device)
        keep = last.scatter_reduce(0, ids, positions, "amax")[ids] == positions  # last row per id
        ids, features = ids[keep], features[keep.to(features.device)]
        new = F.normalize(features.detach().to(self.entries), dim=-1)
        old = self.entries[ids]
        mixed = torch.where(self.written[ids, None], self.momentum * old + (1 - self.momentum) * new, new)
        self.entries[ids] = F.normalize(mixed, dim=-1)
        self.written[ids] = True

    def negatives(self, num_samples: int | None = None,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """The written entries and their sample ids; ``num_samples`` draws that many without
        replacement (all of them when fewer are written)."""
        ids = self.written.nonzero().squeeze(1)
        if num_samples is not None and num_samples < ids.numel():
            pick = torch.randperm(ids.numel(), generator=generator)[:num_samples]
            ids = ids[pick.to(ids.device)]
        return self.entries[ids], ids

    def extra_repr(self) -> str:
        return f"num_entries={self.num_entries}, dim={self.dim}, momentum={self.momentum}"


__all__ = ["MemoryBank", "Queue"]
