"""A collapsed or degenerate embedding must never score well (issue 14 item 4): the metrics raise a
``ValueError`` naming the argument instead of returning the best possible value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastkit import evaluate, losses
from tests.helpers import randn


@pytest.mark.parametrize("uniformity", [evaluate.uniformity, losses.uniformity])
def test_uniformity_of_an_all_zero_encoder_raises(uniformity):
    # it returned -4.0, the best possible score, for torch.zeros(10, 8)
    with pytest.raises(ValueError, match=r"^x: row 0 has zero norm"):
        uniformity(torch.zeros(10, 8))


@pytest.mark.parametrize("uniformity", [evaluate.uniformity, losses.uniformity])
def test_uniformity_with_one_zero_row_raises(uniformity):
    x = randn(10, 8)
    x[7] = 0
    with pytest.raises(ValueError, match=r"^x: row 7 has zero norm"):
        uniformity(x)


@pytest.mark.parametrize("alignment", [evaluate.alignment, losses.alignment])
def test_alignment_of_zero_rows_raises(alignment):
    # 0.0, the best possible alignment, for a collapsed all-zero encoder
    with pytest.raises(ValueError, match=r"^x: row 0 has zero norm"):
        alignment(torch.zeros(10, 8), torch.zeros(10, 8))
    with pytest.raises(ValueError, match=r"^y: row 2 has zero norm"):
        alignment(randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([2]), 0.0))


def test_collapsed_but_nonzero_embedding_gets_the_worst_uniformity():
    same = randn(1, 8).repeat(10, 1)
    assert evaluate.uniformity(same) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("sts", [evaluate.sts_spearman, evaluate.sts_pearson])
def test_sts_of_identical_pairs_raises_not_a_correlation_of_rounding_noise(sts):
    # sts_spearman(x, x, gold) was -0.26: every cosine is 1 up to rounding, ranked as if signal
    x, gold = randn(20, 8, dtype=torch.float32), np.random.default_rng(0).normal(size=20)
    with pytest.raises(ValueError, match=r"^a, b \(cosine similarities\): all values are equal"):
        sts(x, x, gold)


def test_sts_of_scaled_copies_raises():
    x = randn(50, 16, dtype=torch.float64)
    scale = torch.linspace(0.5, 3.0, 50, dtype=torch.float64)[:, None]
    with pytest.raises(ValueError, match=r"all values are equal up to rounding"):
        evaluate.sts_spearman(x, x * scale, np.arange(50.0))


def test_sts_with_small_real_differences_is_still_a_correlation():
    x = randn(30, 16)
    y = x + 1e-4 * randn(30, 16, seed=1)
    gold = -evaluate.pair_cosines(x, y)  # more change, higher gold: perfectly anti-ranked
    assert evaluate.sts_spearman(x, y, gold) == pytest.approx(-1.0)
