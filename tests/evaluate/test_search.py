"""The shared top-k search: deterministic ties at the cut, exclusions, chunks and FAISS."""

import numpy as np
import pytest
import torch

from contrastkit.evaluate._search import _stable_top_k, top_k


def ref_top_k(scores, k, exclude=None):
    out_v, out_i = [], []
    for r, row in enumerate(scores.tolist()):
        banned = set(exclude[r]) if exclude else set()
        order = sorted((j for j in range(len(row)) if j not in banned), key=lambda j: (-row[j], j))[:k]
        out_i.append(order)
        out_v.append([row[j] for j in order])
    return torch.tensor(out_v), torch.tensor(out_i)


@pytest.mark.parametrize("k", [1, 3, 7, 12])
def test_stable_top_k_with_many_ties(k):
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 4, (9, 12), generator=g).float()  # heavy ties, also across the cut
    values, index = _stable_top_k(scores, k)
    ref_values, ref_index = ref_top_k(scores, k)
    assert torch.equal(index, ref_index) and torch.equal(values, ref_values)


@pytest.mark.parametrize("chunk", [None, 1, 2])
def test_dot_product_search_with_exclusions(chunk):
    g = torch.Generator().manual_seed(1)
    queries = torch.randint(-2, 3, (5, 3), generator=g).float()
    corpus = torch.randint(-2, 3, (10, 3), generator=g).float()
    exclude = [[0, 1], [], [9], [2, 3, 4], [5]]
    values, index = top_k(queries, corpus, 4, cosine=False, exclude=exclude, chunk_size=chunk)
    ref_values, ref_index = ref_top_k(queries @ corpus.T, 4, exclude)
    assert torch.equal(index, ref_index) and torch.equal(values, ref_values)


def test_faiss_matches_exact_with_exclusions():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(2)
    queries, corpus = rng.standard_normal((30, 8)), rng.standard_normal((100, 8))
    exclude = [list(rng.choice(100, size=i % 6, replace=False)) for i in range(30)]
    q, c = torch.from_numpy(queries), torch.from_numpy(corpus)
    for cosine in (True, False):
        exact = top_k(q, c, 10, cosine=cosine, exclude=exclude)
        fast = top_k(q, c, 10, cosine=cosine, exclude=exclude, backend="faiss")
        assert torch.equal(exact[1], fast[1])
        torch.testing.assert_close(exact[0], fast[0], rtol=1e-5, atol=1e-5)


def test_bad_chunk_size():
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="chunk_size"):
            top_k(torch.eye(3), torch.eye(3), 1, chunk_size=bad)
