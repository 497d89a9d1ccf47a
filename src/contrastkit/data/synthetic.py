"""A seeded, clustered user-item interaction graph for recommendation recipes and tests.

Users and items are split into ``num_clusters`` taste groups (user ``u`` in group ``u % K``, item
``i`` in group ``i % K``). Each user draws ``per_user`` distinct items (without replacement) from
the mixture ``in_cluster * p_own + (1 - in_cluster) * p_all``, where ``p_own`` and ``p_all`` are
Zipf-like popularity weights ``1 / (rank + 1)`` (a random rank per item) restricted to the user's
group or over all items. Drawing without replacement lowers the realised in-group share (about
0.76 for the defaults). So there is collaborative signal (users of a group share items) beyond
what global popularity explains.
"""

from __future__ import annotations

import numpy as np

from .interactions import Interactions, interactions_from_ids


def clustered_interactions(num_users: int = 600, num_items: int = 400, num_clusters: int = 8,
                           per_user: int = 20, in_cluster: float = 0.85, seed: int = 0) -> Interactions:
    """Interactions of the generator described in the module docstring (ids are ``0..n-1``)."""
    for name, value in (("num_users", num_users), ("num_items", num_items),
                        ("num_clusters", num_clusters), ("per_user", per_user)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if num_items // num_clusters < per_user:
        raise ValueError(f"per_user: expected at most num_items // num_clusters = "
                         f"{num_items // num_clusters} items per user, got {per_user}")
    if not 0.0 <= in_cluster <= 1.0:
        raise ValueError(f"in_cluster: expected a probability in [0, 1], got {in_cluster!r}")
    rng = np.random.default_rng(seed)
    popularity = 1.0 / (rng.permutation(num_items) + 1.0)
    group = np.arange(num_items) % num_clusters
    users, items = [], []
    for u in range(num_users):
        own = popularity * (group == u % num_clusters)
        weights = in_cluster * own / own.sum() + (1 - in_cluster) * popularity / popularity.sum()
        chosen = rng.choice(num_items, size=per_user, replace=False, p=weights)
        users += [u] * per_user
        items += chosen.tolist()
    return interactions_from_ids(users, items)
