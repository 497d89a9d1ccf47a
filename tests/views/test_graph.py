"""Edge dropout: keep rate, rescaling, seeding, expectation."""

import math

import pytest
import torch

from contrastkit.views import dropout_edges


def _adjacency(num_entries=20000, size=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    flat = torch.randperm(size * size, generator=g)[:num_entries]
    values = torch.rand(num_entries, generator=g, dtype=torch.float64) + 0.5
    return torch.sparse_coo_tensor(torch.stack([flat // size, flat % size]), values, (size, size),
                                   check_invariants=True).coalesce()


def test_keeps_a_one_minus_p_fraction_rescaled():
    a = _adjacency()
    p = 0.3
    dropped = dropout_edges(a, p, generator=torch.Generator().manual_seed(1))
    n = a.values().numel()
    kept = dropped.values().numel()
    assert abs(kept / n - (1 - p)) < 4 * math.sqrt(p * (1 - p) / n)
    dense_a = a.to_dense()
    rows, cols = dropped.indices()
    torch.testing.assert_close(dropped.values(), dense_a[rows, cols] / (1 - p))
    unscaled = dropout_edges(a, p, rescale=False, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(unscaled.values(), dense_a[rows, cols])


def test_expectation_is_the_original_matrix():
    a = _adjacency(num_entries=50, size=10)
    g = torch.Generator().manual_seed(2)
    total = torch.zeros(10, 10, dtype=torch.float64)
    draws = 2000
    for _ in range(draws):
        dropped = dropout_edges(a, 0.5, generator=g)
        total.index_put_(tuple(dropped.indices()), dropped.values(), accumulate=True)
    # each entry's mean has standard deviation value / sqrt(draws) <= 1.5 / 44.7 = 0.034
    torch.testing.assert_close(total / draws, a.to_dense(), rtol=0, atol=0.15)


def test_seeded_and_p_zero_is_identity():
    a = _adjacency(num_entries=200, size=50)
    first = dropout_edges(a, 0.5, generator=torch.Generator().manual_seed(3))
    again = dropout_edges(a, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first.indices(), again.indices())
    assert dropout_edges(a, 0.0) is a


def test_bad_inputs():
    with pytest.raises(ValueError, match="adjacency"):
        dropout_edges(torch.zeros(3, 3), 0.1)
    with pytest.raises(ValueError, match="p"):
        dropout_edges(_adjacency(10, 5), 1.0)
