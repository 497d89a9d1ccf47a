"""MACL against a per-anchor loop written from the MACL paper (arXiv:2207.07874) and its official code,
and against lightly's MACLLoss.

``torch.autograd.gradcheck`` does not apply: A (hence tau_A) and V are stop-gradient quantities, so
finite differences see their change while the analytic gradient (by design) does not. The
reference below detaches the same quantities and its gradient is compared instead.
"""

import math

import pytest
import torch

from contrastkit.losses import MACL
from tests.anchors import lightly_loss
from tests.helpers import (
    TWO_VIEW_BAD_INPUTS,
    assert_close,
    assert_low_precision_matches_float32,
    assert_same,
    randn,
    unit,
)


def ref_macl(z1, z2, tau0, alpha, a0, eps=1e-8):
    """Naive float64 MACL over the 2N SimCLR anchors, A and V detached."""
    z = unit(torch.cat([z1, z2]))
    n2 = z.shape[0]
    n = n2 // 2
    partner = [(a + n) % n2 for a in range(n2)]
    alignment = sum(z[a] @ z[partner[a]] for a in range(n2)).detach() / n2
    tau = tau0 * (1 + alpha * (alignment - a0))
    terms = []
    for a in range(n2):
        denominator = sum(torch.exp(z[a] @ z[b] / tau) for b in range(n2) if b != a)
        log_p = z[a] @ z[partner[a]] / tau - torch.log(denominator)
        weight = (1 / (1 - torch.exp(log_p) + eps)).detach()
        terms.append(-weight * log_p)
    return torch.stack(terms).mean()


@pytest.mark.parametrize("n, d", [(2, 3), (5, 4), (8, 6)])
@pytest.mark.parametrize("tau0, alpha, a0", [(0.1, 0.5, 0.0), (0.5, 1.0, 0.3), (0.2, 0.0, 1.0)])
def test_macl_matches_reference_values_and_gradients(n, d, tau0, alpha, a0):
    z1, z2 = randn(n, d, seed=n), randn(n, d, seed=n + 1)
    assert_same(MACL(temperature=tau0, alpha=alpha, a0=a0),
                lambda a, b: ref_macl(a, b, tau0, alpha, a0), z1, z2)


def test_macl_eps_zero_is_the_official_unguarded_weight():
    z1, z2 = randn(6, 4, seed=3), randn(6, 4, seed=4)
    assert_same(MACL(temperature=0.3, eps=0.0),
                lambda a, b: ref_macl(a, b, 0.3, 0.5, 0.0, eps=0.0), z1, z2)


def test_macl_closed_form_orthogonal_batch():
    # z1 = z2 = I (N=3): A = 1, tau_A = tau0 (1 + alpha); every anchor has logits s_pos = 1/tau_A
    # and four zeros, so P = e^{1/tau_A} / (e^{1/tau_A} + 4) and the loss is -log P / (1 - P + eps).
    z = torch.eye(3, dtype=torch.float64)
    tau_a = 0.2 * (1 + 0.5)
    p = math.exp(1 / tau_a) / (math.exp(1 / tau_a) + 4)
    assert_close(MACL(temperature=0.2, alpha=0.5)(z, z), -math.log(p) / (1 - p + 1e-8))


@pytest.mark.parametrize("n, d, tau0, alpha, a0", [(4, 3, 0.1, 0.5, 0.0), (9, 6, 0.3, 0.8, 0.5)])
def test_macl_matches_lightly(n, d, tau0, alpha, a0):
    module = lightly_loss("macl_loss")
    if module is None:
        pytest.skip("lightly is not installed")
    theirs = module.MACLLoss(temperature=tau0, alpha=alpha, A_0=a0)
    assert_same(MACL(temperature=tau0, alpha=alpha, a0=a0), theirs,
                randn(n, d, seed=5), randn(n, d, seed=6))


def test_macl_reduction_none_and_learnable_temperature():
    z1, z2 = randn(5, 4, seed=7), randn(5, 4, seed=8)
    per_anchor = MACL(reduction="none")(z1, z2)
    assert per_anchor.shape == (10,)
    assert_close(per_anchor.mean(), ref_macl(z1, z2, 0.1, 0.5, 0.0))
    loss = MACL(learnable_temperature=True)
    loss(z1.float(), z2.float()).backward()
    assert loss.temperature.log_temperature.grad is not None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_small_temperature_is_finite(dtype):
    z1, z2 = randn(32, 8, seed=9, dtype=dtype), randn(32, 8, seed=10, dtype=dtype)
    assert_low_precision_matches_float32(MACL(temperature=0.01), z1, z2)


def test_non_positive_adaptive_temperature_raises():
    # alpha = 1, a0 = 1 and z2 = -z1 give A = -1, so tau_A = tau0 * (1 - 2) < 0.
    z1 = randn(4, 3, seed=11)
    with pytest.raises(ValueError, match=r"^alpha, a0:"):
        MACL(alpha=1.0, a0=1.0)(z1, -z1)


@pytest.mark.parametrize("call, match", TWO_VIEW_BAD_INPUTS)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(MACL())


def test_bad_hyper_parameters():
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            MACL(temperature=bad)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"^alpha:"):
            MACL(alpha=bad)
        with pytest.raises(ValueError, match=r"^a0:"):
            MACL(a0=bad)
    with pytest.raises(ValueError, match=r"^eps:"):
        MACL(eps=-1e-8)
