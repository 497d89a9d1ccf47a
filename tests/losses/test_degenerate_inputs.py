"""Degenerate inputs the audit of issue 14 found silently wrong: identical rows, duplicated rows,
overflowing weights, mixed dtypes and a batch of one instance."""

from __future__ import annotations

import pytest
import torch

from contrastkit import losses
from tests.helpers import randn


def clan_reference(z, z_aug, margin=1.0, alpha=0.5, eps=1e-6):
    """CLAN in float64 as the official code, with the cosine distance exact in [0, 1]."""
    x = z.double() / z.double().norm(dim=1, keepdim=True)
    y = z_aug.double() / z_aug.double().norm(dim=1, keepdim=True)
    benign = ((1 - x @ x.T) / 2).clamp(0, 1)
    hinge = torch.relu(margin - ((1 - x @ y.T) / 2).clamp(0, 1))

    def active_mean(terms):
        return terms.sum() / ((terms > eps).sum().clamp(min=1) + eps)

    return alpha * active_mean(benign) + (1 - alpha) * active_mean(hinge)


@pytest.mark.parametrize("seed", [182, 0, 1, 2, 3])
def test_clan_identical_benign_rows_match_float64_and_are_not_negative(seed):
    # issue 14 item 1: seed 182 gave -60.78 in float32 where float64 gives 0.26
    torch.manual_seed(seed)
    r = torch.randn(1, 64)
    z, z_aug = r.repeat(32, 1), torch.randn(32, 64)
    value = losses.CLAN()(z, z_aug)
    assert value >= 0
    torch.testing.assert_close(value.double(), clan_reference(z, z_aug), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 5])
def test_clan_without_active_pairs_is_near_zero_not_noise_divided_by_eps(seed):
    # identical benign rows and every augmented row opposite (distance 1 > margin): no active pair,
    # so each term is rounding noise <= eps; dividing it by 0 + eps gave 15.3 and 30.5 here
    torch.manual_seed(seed)
    z = torch.randn(1, 64).repeat(32, 1)
    value = losses.CLAN(margin=0.01)(z, -z)
    assert 0 <= float(value) < 1e-3


def test_clan_accepts_mixed_float32_float64_inputs():
    z, z_aug = randn(5, 8, dtype=torch.float32), randn(5, 8, dtype=torch.float64)
    value = losses.CLAN()(z, z_aug)
    assert value.dtype == torch.float64
    torch.testing.assert_close(value, clan_reference(z, z_aug))


@pytest.mark.parametrize("kernel", ["riesz", "gaussian_riesz"])
def test_kcl_riesz_duplicated_row_raises_instead_of_inf(kernel):
    x = randn(8, 16, dtype=torch.float32)
    duplicated = x.clone()
    duplicated[1] = duplicated[0]
    with pytest.raises(ValueError, match=r"z1: rows 0 and 1 coincide"):
        losses.KCL(kernel=kernel, t=1)(duplicated, x)


def test_kcl_riesz_identical_rows_raise_instead_of_nan():
    same = randn(1, 16, dtype=torch.float32).repeat(8, 1)
    with pytest.raises(ValueError, match=r"z1: rows 0 and 1 coincide"):
        losses.KCL(kernel="riesz", t=1)(same, same)


def test_kcl_riesz_aligned_positive_raises_instead_of_minus_inf():
    x = randn(8, 16, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"z2: row 0 coincides with z1's row 0"):
        losses.KCL(kernel="riesz", t=1)(x, x)


def test_kcl_riesz_negative_t_is_finite_with_finite_gradient_at_coincidence():
    x = randn(6, 4, dtype=torch.float64)
    x[1] = x[0]
    z1, z2 = x.clone().requires_grad_(), randn(6, 4, seed=1).requires_grad_()
    value = losses.KCL(kernel="riesz", t=-1)(z1, z2)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


def test_weighted_infonce_huge_weights_do_not_overflow():
    q, k = randn(8, 16, dtype=torch.float32), randn(8, 16, seed=1, dtype=torch.float32)
    huge = losses.WeightedInfoNCE()(q, k, torch.full((8,), 3e38))
    ones = losses.WeightedInfoNCE()(q, k, torch.ones(8))
    torch.testing.assert_close(huge, ones)


def test_weighted_infonce_overflowing_sum_reduction_raises():
    q, k = randn(8, 16, dtype=torch.float32), randn(8, 16, seed=1, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"weights: .*overflow"):
        losses.WeightedInfoNCE(reduction="sum")(q, k, torch.full((8,), 3e38))


ONE = randn(1, 8, dtype=torch.float32)
OTHER = randn(1, 8, seed=1, dtype=torch.float32)

#: every softmax-type loss at N = 1 without extra negatives: (name, call, argument named)
N1_CALLS = [
    ("InfoNCE", lambda: losses.InfoNCE()(ONE, OTHER), "query"),
    ("InfoNCE symmetric", lambda: losses.InfoNCE(symmetric=True)(ONE, OTHER), "query"),
    ("NTXent", lambda: losses.NTXent()(ONE, OTHER), "z1"),
    ("CLIPLoss", lambda: losses.CLIPLoss()(ONE, OTHER), "a"),
    ("SupCon views", lambda: losses.SupCon()(torch.stack([ONE, OTHER], 1)), "features"),
    ("SupCon labels", lambda: losses.SupCon()(torch.stack([ONE, OTHER], 1), torch.tensor([3])),
     "features"),
    ("WeightedInfoNCE", lambda: losses.WeightedInfoNCE()(ONE, OTHER, torch.ones(1)), "query"),
    ("SupervisedSimCSE", lambda: losses.SupervisedSimCSE()(ONE, OTHER), "anchor"),
    ("DCL", lambda: losses.DCL()(ONE, OTHER), "z1"),
    ("DHEL", lambda: losses.DHEL()(ONE, OTHER), "z1"),
    ("MACL", lambda: losses.MACL()(ONE, OTHER), "z1"),
]


@pytest.mark.parametrize("name, call, argument", N1_CALLS, ids=[c[0] for c in N1_CALLS])
def test_n1_raises_the_same_error_for_every_loss_that_needs_negatives(name, call, argument):
    # issue 14 item 3: five losses silently returned 0.0 with zero gradient
    with pytest.raises(ValueError, match=rf"^{argument}: expected at least 2 instances"):
        call()


def test_n1_with_extra_negatives_is_a_real_loss():
    q = ONE.clone().requires_grad_()
    value = losses.InfoNCE()(q, OTHER, negatives=randn(4, 8, seed=2, dtype=torch.float32))
    value.backward()
    assert value > 0 and q.grad.abs().sum() > 0
    h = ONE.clone().requires_grad_()
    value = losses.SupervisedSimCSE()(h, OTHER, randn(1, 8, seed=3, dtype=torch.float32))
    value.backward()
    assert value > 0 and h.grad.abs().sum() > 0
