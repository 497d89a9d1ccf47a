r"""Top-K recommendation metrics over held-out user–item interactions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._checks import as_embeddings, check_ks, check_same_dim
from ._ranking import ranking_metrics
from ._search import check_backend, top_k


def recommendation_metrics(user_embeddings, item_embeddings, test_items: Sequence,
                           train_items: Sequence | None = None, ks: Sequence[int] = (10, 20), *,
                           cosine: bool = False, chunk_size: int | None = None,
                           backend: str = "exact") -> dict[str, float]:
    r"""Recall@K and NDCG@K of full-ranking recommendation, the protocol of NGCF and LightGCN (He et
    al., 2020, "LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation",
    arXiv:2002.02126, Sec. 4.1).

    Every item is scored for user ``u`` by :math:`\langle e_u, e_i\rangle` (cosine with
    ``cosine=True``); the items of ``train_items[u]`` are removed from the ranking; ties go to the
    lower item index. With :math:`T_u` the held-out items and :math:`h_r = 1` when the item at rank
    ``r`` is held out:

    .. math::
        \mathrm{Recall@}K = \frac{\sum_{r\le K} h_r}{|T_u|},\qquad
        \mathrm{NDCG@}K = \sum_{r\le K}\frac{h_r}{\log_2(r+1)}
            \Big/ \sum_{r\le\min(K,|T_u|)}\frac{1}{\log_2(r+1)}

    averaged over the users with at least one held-out item (others are skipped, as in LightGCN).

    Args:
        user_embeddings: ``(U, d)``; item_embeddings: ``(I, d)``; tensors or arrays.
        test_items: ``U`` collections of held-out item indices.
        train_items: ``U`` collections of training item indices (excluded), or ``None``.
        ks: cut-offs, each at most ``I`` minus the largest training set.
    Returns:
        ``{"recall@K", "ndcg@K"}`` for each ``K``, Python floats.
    Raises:
        ValueError: mismatched lengths or feature sizes, empty or non-finite input, no user with a
        held-out item, an item index out of range, an item both in training and held out, a
        cut-off larger than the items left to rank.
    """
    users = as_embeddings("user_embeddings", user_embeddings)
    items = as_embeddings("item_embeddings", item_embeddings)
    check_same_dim("user_embeddings", users, "item_embeddings", items)
    check_backend(backend)
    num_users, num_items = users.shape[0], items.shape[0]
    test_sets = _item_sets("test_items", test_items, num_users, num_items)
    train_sets = _item_sets("train_items", train_items, num_users, num_items) if train_items is not None \
        else [set() for _ in range(num_users)]
    for u, (held_out, seen) in enumerate(zip(test_sets, train_sets)):
        if held_out & seen:
            raise ValueError(f"test_items[{u}]: items {sorted(held_out & seen)[:5]} are also in train_items")
    evaluated = [u for u in range(num_users) if test_sets[u]]
    if not evaluated:
        raise ValueError("test_items: no user has a held-out item")
    largest_train = max((len(train_sets[u]) for u in evaluated), default=0)
    ks = check_ks(ks, num_items - largest_train, "the number of items left to rank")

    exclude = [sorted(train_sets[u]) for u in evaluated]
    _, ranked = top_k(users[evaluated], items, max(ks), cosine=cosine, exclude=exclude,
                      chunk_size=chunk_size, backend=backend)
    hits = np.array([[1.0 if i in test_sets[u] else 0.0 for i in row]
                     for u, row in zip(evaluated, ranked.tolist())])
    positives = [np.ones(len(test_sets[u])) for u in evaluated]
    return ranking_metrics(hits, positives, ks, names=("recall", "ndcg"))


def _item_sets(name: str, collections: Sequence, num_users: int, num_items: int) -> list[set[int]]:
    if isinstance(collections, (str, bytes)) or not hasattr(collections, "__len__"):
        raise ValueError(f"{name}: expected a sequence of {num_users} item collections")
    if len(collections) != num_users:
        raise ValueError(f"{name}: expected {num_users} entries (one per user), got {len(collections)}")
    sets = []
    for u, entry in enumerate(collections):
        entry = list(entry.tolist() if hasattr(entry, "tolist") else entry)
        for i in entry:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < num_items:
                raise ValueError(f"{name}[{u}]: item {i!r} is not an int in [0, {num_items})")
        sets.append({int(i) for i in entry})
    return sets
