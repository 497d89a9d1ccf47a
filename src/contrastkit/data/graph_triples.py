"""Training interactions as rows of the field protocol, for the one trainer's graph runs (LightGCL).

Row ``k`` is training interaction ``k``; its one field ``graph`` is the BPR triple
``(user, item, negative item)``, the negative drawn uniformly among the items the user has not
interacted with (:class:`~contrastkit.data.BPRSampler`). The negatives of a batch are a function of
``(seed, the batch's rows)`` only, so a resumed run draws the same ones as an uninterrupted run.
"""

from __future__ import annotations

import hashlib

import torch

from .bpr import BPRSampler
from .interactions import Interactions


class GraphTriples:
    """Args:
    train: the training :class:`~contrastkit.data.Interactions` (the graph the encoder propagates).
    seed: seeds the negatives (with the rows of each batch).
    encoder_options: further keywords of the graph encoder (e.g. ``svd_rank``, ``edge_dropout``).
    """

    fields = ("graph",)

    def __init__(self, train: Interactions, seed: int = 0, encoder_options: dict | None = None):
        self.train, self.seed = train, int(seed)
        self.encoder_options = dict(encoder_options or {})
        self.sampler = BPRSampler(train, seed=seed)

    def __len__(self) -> int:
        return len(self.train)

    def batch(self, indices: torch.Tensor) -> dict:
        indices = torch.as_tensor(indices, dtype=torch.long)
        digest = hashlib.blake2b(indices.numpy().tobytes(), digest_size=8, key=str(self.seed).encode())
        self.sampler.generator = torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") >> 1)
        users = self.train.users[indices]
        negatives = self.sampler.negatives(users)
        return {"graph": torch.stack([users, self.train.items[indices], negatives], dim=1)}

    def encoder_context(self) -> dict:
        """What the graph encoder is built from: the training graph and the node counts."""
        train = self.train
        return {"users": train.users, "items": train.items, "num_users": train.num_users,
                "num_items": train.num_items, "seed": self.seed, **self.encoder_options}
