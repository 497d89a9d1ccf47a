"""Debiased (Chuang et al., 2020) and HCL (Robinson et al., 2021) against the official SimCLR
estimator written out per anchor with plain exp/log (docs/formulas.md, Debiased and hard-negative)."""

import math

import pytest
import torch

from contrastkit.losses import DebiasedContrastive, HardNegativeContrastive, NTXent
from tests.helpers import assert_close, assert_low_precision_matches_float32, grads, randn, unit


def ref_estimator(z1, z2, t, tau_plus, beta=None, count_floored=None):
    """Naive float64 debiased (``beta=None``) or HCL loss over the 2N anchors, with the
    ``Nn e^{-1/t}`` floor. ``count_floored`` (a list) receives how many anchors hit the floor."""
    z = unit(torch.cat([z1, z2]))
    n2 = z.shape[0]
    n = n2 // 2
    num_neg = n2 - 2
    floor = num_neg * math.exp(-1 / t)
    total, floored = 0.0, 0
    for a in range(n2):
        p = (a + n) % n2
        pos = torch.exp(z[a] @ z[p] / t)
        sims = [z[a] @ z[b] for b in range(n2) if b not in (a, p)]
        neg = [torch.exp(s / t) for s in sims]
        if beta is None:
            neg_sum = sum(neg)
        else:
            weights = [torch.exp(beta * s / t) for s in sims]
            neg_sum = num_neg * sum(w * e for w, e in zip(weights, neg)) / sum(weights)
        ng = (neg_sum - tau_plus * num_neg * pos) / (1 - tau_plus)
        floored += int(ng < floor)
        ng = torch.clamp(ng, min=floor)
        total = total - torch.log(pos / (pos + ng))
    if count_floored is not None:
        count_floored.append(floored)
    return total / n2


CASES = [  # (n, d, temperature, tau_plus, beta)
    (2, 3, 0.5, 0.1, 1.0),
    (5, 4, 0.5, 0.1, 0.5),
    (6, 3, 0.2, 0.3, 2.0),
    (4, 5, 1.0, 0.0, 1.0),
]


@pytest.mark.parametrize("n, d, temperature, tau_plus, beta", CASES)
def test_debiased_matches_reference_values_and_gradients(n, d, temperature, tau_plus, beta):
    z1, z2 = randn(n, d, seed=1), randn(n, d, seed=2)
    value, g = grads(DebiasedContrastive(temperature=temperature, tau_plus=tau_plus), z1, z2)
    ref_value, ref_g = grads(lambda a, b: ref_estimator(a, b, temperature, tau_plus), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


@pytest.mark.parametrize("n, d, temperature, tau_plus, beta", CASES)
def test_hcl_matches_reference_values_and_gradients(n, d, temperature, tau_plus, beta):
    z1, z2 = randn(n, d, seed=3), randn(n, d, seed=4)
    loss = HardNegativeContrastive(temperature=temperature, tau_plus=tau_plus, beta=beta)
    value, g = grads(loss, z1, z2)
    ref_value, ref_g = grads(lambda a, b: ref_estimator(a, b, temperature, tau_plus, beta), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


@pytest.mark.parametrize("beta", [None, 1.0])
def test_floor_branch_matches_reference(beta):
    # Close views and a large class prior push the corrected negative sum below the floor for some
    # anchors but not all, so both branches of the max are exercised.
    z1 = randn(6, 4, seed=5)
    z2 = z1 + 0.6 * randn(6, 4, seed=6)
    floored = []
    ref_value, ref_g = grads(lambda a, b: ref_estimator(a, b, 0.5, 0.5, beta, floored), z1, z2)
    assert 0 < floored[0] < 12
    loss = DebiasedContrastive(0.5, 0.5) if beta is None else HardNegativeContrastive(0.5, 0.5, beta)
    value, g = grads(loss, z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


def test_beta_zero_is_debiased():
    z1, z2 = randn(5, 4, seed=7), randn(5, 4, seed=8)
    value, g = grads(HardNegativeContrastive(temperature=0.3, tau_plus=0.2, beta=0.0), z1, z2)
    ref_value, ref_g = grads(DebiasedContrastive(temperature=0.3, tau_plus=0.2), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


@pytest.mark.parametrize("temperature", [0.5, 1.0])
def test_no_prior_no_beta_is_ntxent(temperature):
    # The floor Nn e^{-1/t} never binds when tau_plus = 0: every negative term is >= e^{-1/t}.
    z1, z2 = randn(5, 4, seed=9), randn(5, 4, seed=10)
    value, g = grads(HardNegativeContrastive(temperature, tau_plus=0.0, beta=0.0), z1, z2)
    ref_value, ref_g = grads(NTXent(temperature), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)
    assert_close(DebiasedContrastive(temperature, tau_plus=0.0)(z1, z2), ref_value)


def test_large_beta_over_temperature_does_not_overflow():
    # beta / t = 2500: exp(beta * s / t) overflows float64, the log-space form does not. In that
    # limit the importance-weighted sum is Nn e^{max_k s_ak}: check against it.
    z1, z2 = randn(6, 4, seed=11), randn(6, 4, seed=12)
    t, tau_plus, beta = 0.02, 0.1, 50.0
    value, g = grads(HardNegativeContrastive(t, tau_plus, beta), z1, z2)
    assert torch.isfinite(value) and all(torch.isfinite(x).all() for x in g)
    z = unit(torch.cat([z1, z2]))
    n2, num_neg = 12, 10
    total = 0.0
    for a in range(n2):
        p = (a + 6) % n2
        hardest = max(float(z[a] @ z[b]) for b in range(n2) if b not in (a, p))
        s_pos = float(z[a] @ z[p]) / t
        log_ng = math.log(num_neg) + hardest / t
        gap = math.log(tau_plus * num_neg) + s_pos - log_ng
        log_ng = log_ng + math.log(-math.expm1(gap)) if gap < 0 else -math.inf
        log_ng = max(log_ng - math.log1p(-tau_plus), math.log(num_neg) - 1 / t)
        total += max(s_pos, log_ng) + math.log1p(math.exp(-abs(s_pos - log_ng))) - s_pos
    assert_close(value, total / n2, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("loss", [DebiasedContrastive(0.5, 0.1), HardNegativeContrastive(0.5, 0.1, 1.0)])
def test_gradcheck(loss):
    z1, z2 = randn(3, 3, seed=13, requires_grad=True), randn(3, 3, seed=14, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (z1, z2))


def test_learnable_temperature_gets_gradient_and_same_value():
    z1, z2 = randn(6, 4, dtype=torch.float32), randn(6, 4, seed=1, dtype=torch.float32)
    loss = HardNegativeContrastive(temperature=0.2, learnable_temperature=True)
    out = loss(z1, z2)
    out.backward()
    assert torch.isfinite(loss.temperature.log_temperature.grad)
    assert_close(out, HardNegativeContrastive(temperature=0.2)(z1, z2), rtol=1e-5, atol=1e-5)


def test_reduction_none_shape():
    out = DebiasedContrastive(reduction="none")(randn(4, 3), randn(4, 3, seed=1))
    assert out.shape == (8,)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("loss", [DebiasedContrastive(0.01), HardNegativeContrastive(0.01, beta=5.0)])
def test_low_precision_small_temperature_is_finite(dtype, loss):
    z1, z2 = randn(32, 8, dtype=dtype), randn(32, 8, seed=1, dtype=dtype)
    assert_low_precision_matches_float32(loss, z1, z2)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3)), "z2"),
    (lambda l: l(randn(4, 3), randn(4, 2)), "z2"),
    (lambda l: l(randn(4, 3, 2), randn(4, 3, 2)), "z1"),
    (lambda l: l(randn(1, 3), randn(1, 3)), "z1"),
    (lambda l: l(randn(4, 3), torch.full((4, 3), float("nan"))), "z2"),
])
@pytest.mark.parametrize("cls", [DebiasedContrastive, HardNegativeContrastive])
def test_bad_input(call, match, cls):
    with pytest.raises(ValueError, match=match):
        call(cls())


def test_bad_hyper_parameters():
    for cls in (DebiasedContrastive, HardNegativeContrastive):
        for bad in (0.0, -1.0, float("nan")):
            with pytest.raises(ValueError, match="temperature"):
                cls(temperature=bad)
        for bad in (-0.1, 1.0, 1.5, float("nan")):
            with pytest.raises(ValueError, match="tau_plus"):
                cls(tau_plus=bad)
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            HardNegativeContrastive(beta=bad)
