"""CLAN against a per-pair loop written from docs/formulas.md, CLAN (the official code's estimator)."""

import pytest
import torch

from contrastkit.losses import CLAN
from tests.helpers import assert_close, assert_low_precision_matches_float32, assert_same, randn, unit


def ref_clan(z, z_aug, margin, alpha, squared=False, eps=1e-6):
    """Naive float64 loop: alpha * mean over active benign pairs of d^p + (1 - alpha) * mean over
    active (benign, augmented) pairs of relu(m - d)^p, d = (1 - cos) / 2, p = 2 if squared."""
    x, y = unit(z), unit(z_aug)
    power = 2 if squared else 1
    benign_sum, benign_active = 0.0, 0
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            term = ((1 - x[i] @ x[j]) / 2) ** power
            benign_sum = benign_sum + term
            benign_active += bool(term > eps)
    hinge_sum, hinge_active = 0.0, 0
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            term = torch.clamp(margin - (1 - x[i] @ y[j]) / 2, min=0) ** power
            hinge_sum = hinge_sum + term
            hinge_active += bool(term > eps)
    return (alpha * benign_sum / (benign_active + eps)
            + (1 - alpha) * hinge_sum / (hinge_active + eps))


@pytest.mark.parametrize("n, m, d", [(1, 1, 3), (4, 4, 3), (6, 9, 5)])
@pytest.mark.parametrize("margin, alpha, squared", [
    (1.0, 0.5, False), (0.5, 0.5, False), (0.5, 0.3, True), (0.4, 1.0, False), (0.6, 0.0, True),
])
def test_clan_matches_reference_values_and_gradients(n, m, d, margin, alpha, squared):
    z, z_aug = randn(n, d, seed=n), randn(m, d, seed=m + 10)
    assert_same(CLAN(margin=margin, alpha=alpha, squared=squared),
                lambda a, b: ref_clan(a, b, margin, alpha, squared), z, z_aug)


def test_clan_inactive_pairs_leave_the_averages():
    # Duplicate benign rows (d = 0) and far augmented rows (hinge 0) are not counted.
    z = randn(3, 4, seed=20)
    z = torch.cat([z, z[:1]])  # rows 0 and 3 coincide
    z_aug = torch.cat([-z[:2], randn(2, 4, seed=21)])  # d(z_i, -z_i) = 1 >= margin 0.5
    ours = CLAN(margin=0.5)(z, z_aug)
    assert_close(ours, ref_clan(z, z_aug, 0.5, 0.5))
    # Counting every pair instead would give a different value: the test can fail.
    x, y = unit(z), unit(z_aug)
    plain = 0.5 * ((1 - x @ x.T) / 2).mean() + 0.5 * torch.relu(0.5 - (1 - x @ y.T) / 2).mean()
    assert not torch.isclose(ours, plain)


def test_clan_closed_form():
    # z = e1, e1 (identical, no active benign pair); z_aug = e2, -e1: d = 1/2 and 1.
    z = torch.tensor([[1.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    z_aug = torch.tensor([[0.0, 3.0], [-1.0, 0.0]], dtype=torch.float64)
    # hinge with margin 0.8: relu(0.8 - 0.5) = 0.3 for the two e2 pairs, 0 for the -e1 pairs.
    expected = 0.5 * 0.0 + 0.5 * (0.6 / (2 + 1e-6))
    assert_close(CLAN(margin=0.8)(z, z_aug), expected)


def test_gradcheck_clan():
    z, z_aug = randn(4, 3, seed=30, requires_grad=True), randn(5, 3, seed=31, requires_grad=True)
    assert torch.autograd.gradcheck(CLAN(margin=0.6), (z, z_aug))
    assert torch.autograd.gradcheck(CLAN(margin=0.6, squared=True, alpha=0.2), (z, z_aug))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_is_float32_and_finite(dtype):
    z, z_aug = randn(32, 8, seed=40, dtype=dtype), randn(32, 8, seed=41, dtype=dtype)
    assert_low_precision_matches_float32(CLAN(margin=0.5), z, z_aug)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(4, 2)), "z_aug"),
    (lambda l: l(randn(4), randn(4, 3)), "z"),
    (lambda l: l(randn(4, 3), randn(2, 4, 3)), "z_aug"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3)), "z"),
    (lambda l: l(randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([1]), float("inf"))), "z_aug"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(CLAN())


def test_bad_hyper_parameters():
    for bad in (0.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match=r"^margin:"):
            CLAN(margin=bad)
        with pytest.raises(ValueError, match=r"^eps:"):
            CLAN(eps=bad)
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match=r"^alpha:"):
            CLAN(alpha=bad)
