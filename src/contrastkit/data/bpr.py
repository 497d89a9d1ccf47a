"""Seeded (user, positive item, negative item) triples for BPR training.

BPR (Rendle et al., UAI 2009, arXiv:1205.2618) scores a user's observed item above an unobserved one.
Negatives are drawn uniformly from the items the user has **not** interacted with in the training set,
by vectorised rejection sampling (redraw only the collisions). :meth:`BPRSampler.epoch` visits every
training interaction once in a seeded random order with fresh negatives, as LightGCL's ``TrnData``
(Cai et al., 2023, arXiv:2302.08191); :meth:`BPRSampler.sample` draws interactions uniformly with
replacement.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from .interactions import Interactions


class BPRSampler:
    """Triples from ``train`` (an :class:`~contrastkit.data.Interactions`), reproducible from ``seed``.

    Raises:
        ValueError: for an empty ``train``, or a user who has interacted with every item (no negative).
    """

    def __init__(self, train: Interactions, *, seed: int = 0):
        if len(train) == 0:
            raise ValueError("train: expected at least one interaction")
        self.train = train
        self.num_items = train.num_items
        self.keys = torch.unique(train.users * self.num_items + train.items)  # sorted, one per (user, item)
        per_user = torch.bincount(self.keys // self.num_items, minlength=train.num_users)
        full = torch.nonzero(per_user >= self.num_items).flatten()
        if full.numel():
            raise ValueError(
                f"train: user index {int(full[0])} has interacted with every item, so no negative item exists"
            )
        self.generator = torch.Generator().manual_seed(seed)

    def is_positive(self, users: Tensor, items: Tensor) -> Tensor:
        """Boolean tensor: whether each ``(users[k], items[k])`` is a training interaction."""
        query = users * self.num_items + items
        position = torch.searchsorted(self.keys, query).clamp(max=self.keys.numel() - 1)
        return self.keys[position] == query

    def negatives(self, users: Tensor) -> Tensor:
        """One uniform non-interacted item per entry of ``users``."""
        items = torch.randint(self.num_items, users.shape, generator=self.generator)
        redo = self.is_positive(users, items)
        while bool(redo.any()):
            items[redo] = torch.randint(self.num_items, (int(redo.sum()),), generator=self.generator)
            redo = self.is_positive(users, items)
        return items

    def sample(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """``batch_size`` triples ``(users, positives, negatives)``, interactions drawn with replacement."""
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        rows = torch.randint(len(self.train), (int(batch_size),), generator=self.generator)
        users = self.train.users[rows]
        return users, self.train.items[rows], self.negatives(users)

    def epoch(self, batch_size: int, *, drop_last: bool = False) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """Every training interaction once, shuffled, in batches of ``batch_size`` triples."""
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        order = torch.randperm(len(self.train), generator=self.generator)
        users, items = self.train.users[order], self.train.items[order]
        negatives = self.negatives(users)
        stop = len(order) - (len(order) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            end = min(start + batch_size, stop)
            yield users[start:end], items[start:end], negatives[start:end]
