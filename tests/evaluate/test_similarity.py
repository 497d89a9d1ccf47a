"""STS correlations against SciPy."""

import math

import numpy as np
import pytest
import torch

from contrastkit.evaluate import sts_pearson, sts_spearman
from contrastkit.evaluate._stats import average_ranks
from tests.helpers import randn

scipy_stats = pytest.importorskip("scipy.stats")


def test_against_scipy_with_tied_gold_scores():
    a, b = randn(40, 8, seed=1), randn(40, 8, seed=2)
    a[:20] += 0.8 * b[:20]
    gold = np.round(np.linspace(0, 5, 40)[np.random.default_rng(0).permutation(40)] / 1.25) * 1.25  # ties
    cos = (torch.nn.functional.normalize(a, dim=1) * torch.nn.functional.normalize(b, dim=1)).sum(1).numpy()
    assert math.isclose(sts_spearman(a, b, gold), scipy_stats.spearmanr(cos, gold).statistic, rel_tol=1e-10)
    expected = scipy_stats.pearsonr(cos, gold).statistic
    assert math.isclose(sts_pearson(a.numpy(), b, torch.tensor(gold)), expected, rel_tol=1e-10)


def test_average_ranks_match_scipy():
    values = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0, 0.5])
    np.testing.assert_array_equal(average_ranks(values), scipy_stats.rankdata(values))


def test_perfect_and_reversed_order():
    b = torch.tensor([[1.0, 0.0]] * 4)
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])  # decreasing cosine
    assert math.isclose(sts_spearman(a, b, [4, 3, 2, 1]), 1.0)
    assert math.isclose(sts_spearman(a, b, [1, 2, 3, 4]), -1.0)


@pytest.mark.parametrize("args, match", [
    ((randn(4, 3), randn(5, 3), [1, 2, 3, 4]), "b"),
    ((randn(4, 3), randn(4, 3), [1, 2, 3]), "gold"),
    ((randn(4, 3), randn(4, 3), [1, 1, 1, 1]), "gold"),
    ((randn(4, 3), randn(4, 3), [1, 2, float("nan"), 4]), "gold"),
    ((torch.ones(4, 3), torch.ones(4, 3), [1, 2, 3, 4]), "cosine"),
    ((randn(1, 3), randn(1, 3), [1]), "a"),
    ((randn(0, 3), randn(0, 3), []), "a"),
])
def test_bad_input(args, match):
    for fn in (sts_spearman, sts_pearson):
        with pytest.raises(ValueError, match=match):
            fn(*args)
