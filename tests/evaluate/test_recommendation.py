"""Recommendation Recall@K / NDCG@K: a hand-computed case and a naive reference."""

import math

import numpy as np
import pytest
import torch

from contrastkit.evaluate import recommendation_metrics
from tests.helpers import randn

L3 = math.log2(3)


def test_hand_computed_with_exclusion_and_ties():
    users = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    items = np.array([[3.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    # user 0: i0 excluded (training), ranks i2 (2), i1 (1), i3 (0); held out i1 (rank 2), i3 (rank 3)
    # user 1: no held-out item, skipped
    # user 2: ranks i0 (3), i2 (2), i1 and i3 tied at 1 (i1 first); held out i3 (rank 4)
    got = recommendation_metrics(users, items, [{1, 3}, [], [3]], [[0], [1], []], ks=(1, 2, 3))
    expected = {
        "recall@1": 0.0, "recall@2": 0.25, "recall@3": 0.5,
        "ndcg@1": 0.0, "ndcg@2": 0.5 * (1 / L3) / (1 + 1 / L3), "ndcg@3": 0.5 * (1 / L3 + 0.5) / (1 + 1 / L3),
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=1e-12, abs_tol=1e-12), key


def ref_recommendation(users, items, test_items, train_items, ks, cosine):
    if cosine:
        users = users / np.linalg.norm(users, axis=1, keepdims=True)
        items = items / np.linalg.norm(items, axis=1, keepdims=True)
    sums, count = {}, 0
    for u, held_out in enumerate(test_items):
        if not held_out:
            continue
        count += 1
        scores = items @ users[u]
        candidates = [i for i in range(len(items)) if i not in train_items[u]]
        order = sorted(candidates, key=lambda i: (-scores[i], i))
        for k in ks:
            hits = [r for r, i in enumerate(order[:k], start=1) if i in held_out]
            idcg = sum(1 / math.log2(r + 1) for r in range(1, min(k, len(held_out)) + 1))
            sums[f"recall@{k}"] = sums.get(f"recall@{k}", 0) + len(hits) / len(held_out)
            sums[f"ndcg@{k}"] = sums.get(f"ndcg@{k}", 0) + sum(1 / math.log2(r + 1) for r in hits) / idcg
    return {key: v / count for key, v in sums.items()}


@pytest.mark.parametrize("cosine, chunk", [(False, None), (True, 3)])
def test_matches_naive_reference(cosine, chunk):
    rng = np.random.default_rng(0)
    users, items = randn(20, 6, seed=1).numpy(), randn(50, 6, seed=2).numpy()
    train, test = [], []
    for _ in range(20):
        chosen = rng.choice(50, size=8, replace=False)
        train.append(set(chosen[: rng.integers(0, 5)].tolist()))
        test.append(set(chosen[5: 5 + rng.integers(0, 4)].tolist()))
    ks = (1, 5, 20)
    got = recommendation_metrics(torch.from_numpy(users), items, test, train, ks, cosine=cosine,
                                 chunk_size=chunk)
    expected = ref_recommendation(users, items, test, train, ks, cosine)
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-12), key


def test_faiss_backend_identical():
    pytest.importorskip("faiss")
    users, items = randn(15, 8, seed=3), randn(80, 8, seed=4)
    test = [{i, i + 1} for i in range(15)]
    train = [{i + 20, i + 40} for i in range(15)]
    exact = recommendation_metrics(users, items, test, train, ks=(5, 20))
    assert recommendation_metrics(users, items, test, train, ks=(5, 20), backend="faiss") == exact


@pytest.mark.parametrize("args, kwargs, match", [
    ((randn(2, 3), randn(5, 3), [{0}]), {}, "test_items"),
    ((randn(2, 3), randn(5, 3), [{0}, {1}], [{0}]), {}, "train_items"),
    ((randn(2, 3), randn(5, 3), [set(), []]), {}, "test_items"),
    ((randn(2, 3), randn(5, 3), [{0}, {9}]), {}, r"test_items\[1\]"),
    ((randn(2, 3), randn(5, 3), [{0}, {1}], [{0}, {2}]), {}, r"test_items\[0\]"),
    ((randn(2, 3), randn(5, 3), [{0}, {1}], [{2, 3}, set()]), {"ks": (4,)}, "ks"),
    ((randn(2, 3), randn(5, 4), [{0}, {1}]), {}, "item_embeddings"),
    ((randn(0, 3), randn(5, 3), []), {}, "user_embeddings"),
])
def test_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        recommendation_metrics(*args, **{"ks": (1, 2), **kwargs})
