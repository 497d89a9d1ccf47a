"""SupervisedSimCSE against a per-anchor loop written from the SimCSE paper, arXiv:2104.08821
(supervised form)."""

import math

import pytest
import torch
import torch.nn.functional as F

from contrastkit.losses import InfoNCE, SupervisedSimCSE
from tests.helpers import assert_close, assert_low_precision_matches_float32, assert_same, randn, unit


def ref_sup_simcse(h, h_pos, h_neg, tau, weight=0.0):
    """Naive float64 loop: -log e^{s(h_i,h_i+)/tau} / sum_j (e^{s(h_i,h_j+)/tau}
    + alpha^{[i=j]} e^{s(h_i,h_j-)/tau}), alpha = e^weight."""
    h, h_pos, h_neg = unit(h), unit(h_pos), unit(h_neg)
    alpha = math.exp(weight)
    n = h.shape[0]
    terms = []
    for i in range(n):
        denominator = 0.0
        for j in range(n):
            denominator = denominator + torch.exp(h[i] @ h_pos[j] / tau)
            denominator = denominator + (alpha if i == j else 1.0) * torch.exp(h[i] @ h_neg[j] / tau)
        terms.append(-(h[i] @ h_pos[i]) / tau + torch.log(denominator))
    return torch.stack(terms).mean()


def ref_unsup_simcse(h, h_prime, tau):
    h, h_prime = unit(h), unit(h_prime)
    n = h.shape[0]
    return torch.stack([
        -(h[i] @ h_prime[i]) / tau + torch.log(sum(torch.exp(h[i] @ h_prime[j] / tau) for j in range(n)))
        for i in range(n)
    ]).mean()


@pytest.mark.parametrize("n, d", [(1, 3), (4, 3), (9, 6)])
@pytest.mark.parametrize("tau, weight", [(0.05, 0.0), (0.1, math.log(2.0)), (0.5, -1.5)])
def test_supervised_simcse_matches_reference_values_and_gradients(n, d, tau, weight):
    inputs = randn(n, d, seed=n), randn(n, d, seed=n + 1), randn(n, d, seed=n + 2)
    assert_same(SupervisedSimCSE(temperature=tau, hard_negative_weight=weight),
                lambda *x: ref_sup_simcse(*x, tau, weight), *inputs)


def test_supervised_simcse_matches_weighted_cross_entropy_over_n_by_2n_logits():
    # The official code's form: cross-entropy over [cos(h, h+) | cos(h, h-)] / tau, with log(alpha)
    # added at column N + i of row i.
    h, h_pos, h_neg = randn(6, 4, seed=20), randn(6, 4, seed=21), randn(6, 4, seed=22)
    logits = torch.cat([unit(h) @ unit(h_pos).T, unit(h) @ unit(h_neg).T], dim=1) / 0.05
    logits = logits + torch.cat([torch.zeros(6, 6), 0.7 * torch.eye(6)], dim=1).double()
    expected = F.cross_entropy(logits, torch.arange(6))
    assert_close(SupervisedSimCSE(hard_negative_weight=0.7)(h, h_pos, h_neg), expected)


@pytest.mark.parametrize("n, d", [(3, 2), (8, 5)])
def test_without_hard_negatives_is_unsupervised_simcse_and_infonce(n, d):
    h, h_prime = randn(n, d, seed=30), randn(n, d, seed=31)
    assert_same(SupervisedSimCSE(temperature=0.05), lambda a, b: ref_unsup_simcse(a, b, 0.05),
                h, h_prime)
    assert_close(SupervisedSimCSE(temperature=0.05)(h, h_prime), InfoNCE(temperature=0.05)(h, h_prime))


def test_closed_form_identical_rows():
    # All rows equal: 2N logits of 1/tau, one of them shifted by w: log(2N - 1 + e^w).
    z = torch.ones(4, 3, dtype=torch.float64)
    assert_close(SupervisedSimCSE(hard_negative_weight=0.5)(z, z, z), math.log(7 + math.exp(0.5)))


def test_gradcheck_supervised_simcse():
    inputs = tuple(randn(4, 3, seed=40 + k, requires_grad=True) for k in range(3))
    assert torch.autograd.gradcheck(SupervisedSimCSE(temperature=0.5, hard_negative_weight=0.3),
                                    inputs)


def test_reduction_none_and_learnable_temperature():
    inputs = tuple(randn(5, 4, seed=50 + k) for k in range(3))
    per_anchor = SupervisedSimCSE(reduction="none")(*inputs)
    assert per_anchor.shape == (5,)
    assert_close(per_anchor.mean(), ref_sup_simcse(*inputs, 0.05))
    loss = SupervisedSimCSE(learnable_temperature=True)
    loss(*(x.float() for x in inputs)).backward()
    assert loss.temperature.log_temperature.grad is not None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_small_temperature_is_finite(dtype):
    inputs = [randn(32, 8, seed=60 + k, dtype=dtype) for k in range(3)]
    loss = SupervisedSimCSE(temperature=0.01, hard_negative_weight=1.0)
    assert_low_precision_matches_float32(loss, *inputs)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3), randn(4, 3)), "positive"),
    (lambda l: l(randn(4, 3), randn(4, 3), randn(5, 3)), "hard_negative"),
    (lambda l: l(randn(4, 3), randn(4, 3), randn(4, 2)), "hard_negative"),
    (lambda l: l(randn(4), randn(4), randn(4)), "anchor"),
    (lambda l: l(randn(4, 3), randn(4, 3), randn(1, 4, 3)), "hard_negative"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3), randn(4, 3)), "anchor"),
    (lambda l: l(randn(4, 3), randn(4, 3),
                 randn(4, 3).index_fill(0, torch.tensor([1]), float("inf"))), "hard_negative"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(SupervisedSimCSE())


def test_bad_hyper_parameters():
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            SupervisedSimCSE(temperature=bad)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="hard_negative_weight"):
            SupervisedSimCSE(hard_negative_weight=bad)
