"""Deterministic batch order and per-step random generators, each a pure function of the seed
and the micro-batch number, so that a resumed run replays exactly what an uninterrupted run did."""

from __future__ import annotations

import torch

_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads nearby seeds apart


def derived_seed(*parts: int) -> int:
    value = 0
    for part in parts:
        value = (value * 6364136223846793005 + int(part) + _MIX) % (1 << 63)
    return value


def step_generator(seed: int, micro_batch: int, rank: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(derived_seed(seed, micro_batch, rank, 1))


class EpochSampler:
    """Shuffled batches without replacement: epoch ``e`` uses ``randperm(N)`` seeded by
    ``(seed, e)``; global micro-batch ``m`` is slice ``m mod B`` of its epoch's permutation, where
    ``B = N // (batch_size * world_size)`` (the ragged end of an epoch is dropped). Rank ``r``
    takes the ``r``-th ``batch_size`` rows of that slice."""

    def __init__(self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.batches_per_epoch = num_samples // (batch_size * world_size)
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"train.batch_size = {batch_size}: larger than the training split "
                f"({num_samples} samples over {world_size} process(es))"
            )
        self._epoch, self._order = -1, None

    def indices(self, micro_batch: int) -> torch.Tensor:
        epoch, position = divmod(micro_batch, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(derived_seed(self.seed, epoch, 0, 2))
            self._epoch, self._order = epoch, torch.randperm(self.num_samples, generator=generator)
        start = (position * self.world_size + self.rank) * self.batch_size
        return self._order[start : start + self.batch_size]


class NoDuplicatesSampler(EpochSampler):
    """:class:`EpochSampler` whose batches hold no two rows sharing a key (an equal anchor or
    positive text, or an equal ``group``), as sentence-transformers' no-duplicates sampler: each
    epoch walks its seeded permutation and defers a row whose key is already in the open batch
    to a later batch. ``keys[i]`` is the set of keys of row ``i``. An epoch has as many batches as
    the plain sampler; when deferral leaves fewer full ones, the epoch's first batches repeat."""

    def __init__(self, keys: list, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        super().__init__(len(keys), batch_size, seed, rank, world_size)
        self.keys, self._batches = keys, None

    def indices(self, micro_batch: int) -> torch.Tensor:
        epoch, position = divmod(micro_batch, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(derived_seed(self.seed, epoch, 0, 2))
            order = torch.randperm(self.num_samples, generator=generator).tolist()
            self._epoch, self._batches = epoch, self._epoch_batches(order)
        size = self.batch_size * self.world_size
        batch = self._batches[position % len(self._batches)]
        return torch.tensor(batch[self.rank * self.batch_size:(self.rank + 1) * self.batch_size][:size])

    def _epoch_batches(self, order: list[int]) -> list[list[int]]:
        size = self.batch_size * self.world_size
        batches, remaining = [], order
        while len(remaining) >= size:
            batch, seen, deferred = [], set(), []
            for row in remaining:
                keys = self.keys[row]
                if len(batch) < size and seen.isdisjoint(keys):
                    batch.append(row)
                    seen.update(keys)
                else:
                    deferred.append(row)
            if len(batch) < size:
                break
            batches.append(batch)
            remaining = deferred
        if not batches:
            raise ValueError(f"train.no_duplicates: no batch of {size} rows without duplicates exists")
        return batches
