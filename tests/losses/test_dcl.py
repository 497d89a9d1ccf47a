"""DCL and DCLW against per-anchor loops written from Yeh et al. (2022), Eq. 6, and against lightly."""

import math
import warnings

import pytest
import torch

from contrastkit.losses import DCL, DCLW
from tests.anchors import lightly_loss
from tests.helpers import (
    TWO_VIEW_BAD_INPUTS,
    assert_close,
    assert_low_precision_matches_float32,
    grads,
    randn,
    unit,
)


def ref_dcl(z1, z2, tau, sigma=None, detach_weight=True):
    """Naive float64 DCL / DCLW: explicit negative sets, mean over the 2N anchor-views."""
    u, v = unit(z1), unit(z2)
    n = u.shape[0]
    if sigma is None:
        weight = [1.0] * n
    else:
        wu, wv = (u.detach(), v.detach()) if detach_weight else (u, v)
        e = [torch.exp(wu[i] @ wv[i] / sigma) for i in range(n)]
        batch_mean = sum(e) / n
        weight = [2 - e[i] / batch_mean for i in range(n)]
    views = (u, v)
    total = 0.0
    for k in range(2):
        for i in range(n):
            anchor = views[k][i]
            negatives = [anchor @ views[l][j] / tau for l in range(2) for j in range(n) if j != i]
            total = total - weight[i] * (u[i] @ v[i]) / tau + torch.log(sum(torch.exp(s) for s in negatives))
    return total / (2 * n)


SHAPES = [(2, 3), (5, 4), (8, 3)]


@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_dcl_matches_reference_values_and_gradients(n, d, temperature):
    z1, z2 = randn(n, d, seed=1), randn(n, d, seed=2)
    value, g = grads(DCL(temperature=temperature), z1, z2)
    ref_value, ref_g = grads(lambda a, b: ref_dcl(a, b, temperature), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("detach_weight", [True, False])
def test_dclw_matches_reference_values_and_gradients(n, d, detach_weight):
    z1, z2 = randn(n, d, seed=3), randn(n, d, seed=4)
    loss = DCLW(temperature=0.2, sigma=0.7, detach_weight=detach_weight)
    value, g = grads(loss, z1, z2)
    ref_value, ref_g = grads(lambda a, b: ref_dcl(a, b, 0.2, 0.7, detach_weight), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


def test_dclw_weight_gradient_option_changes_gradients_not_values():
    z1, z2 = randn(6, 4, seed=5), randn(6, 4, seed=6)
    detached, g_detached = grads(DCLW(detach_weight=True), z1, z2)
    attached, g_attached = grads(DCLW(detach_weight=False), z1, z2)
    assert_close(detached, attached)
    assert not torch.allclose(g_detached[0], g_attached[0], rtol=1e-4, atol=1e-6)


def test_dcl_closed_form_identical_rows():
    # Every logit is 1/tau: -1/tau + log((2N - 2) e^{1/tau}) = log(2N - 2); DCLW's weights are all 1.
    z = torch.ones(5, 3, dtype=torch.float64)
    assert_close(DCL(temperature=0.3)(z, z), math.log(8))
    assert_close(DCLW(temperature=0.3)(z, z), math.log(8))


def test_dcl_reductions():
    z1, z2 = randn(4, 3, seed=7), randn(4, 3, seed=8)
    per_anchor = DCL(reduction="none")(z1, z2)
    assert per_anchor.shape == (8,)
    assert_close(DCL(reduction="sum")(z1, z2), per_anchor.sum())
    assert_close(DCL()(z1, z2), per_anchor.mean())


# The detached-weight DCLW is not the derivative of its own value, so gradcheck covers the two
# forms that are; its gradients are checked against the reference and lightly above.
@pytest.mark.parametrize("loss", [DCL(temperature=0.5), DCLW(temperature=0.5, detach_weight=False)])
def test_gradcheck(loss):
    z1, z2 = randn(3, 3, seed=9, requires_grad=True), randn(3, 3, seed=10, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (z1, z2))


def test_learnable_temperature_gets_gradient():
    loss = DCLW(temperature=0.1, learnable_temperature=True)
    loss(randn(6, 4, dtype=torch.float32), randn(6, 4, seed=1, dtype=torch.float32)).backward()
    assert loss.temperature.log_temperature.grad is not None
    assert torch.isfinite(loss.temperature.log_temperature.grad)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("cls", [DCL, DCLW])
def test_low_precision_small_temperature_is_finite(dtype, cls):
    z1, z2 = randn(32, 8, dtype=dtype), randn(32, 8, seed=1, dtype=dtype)
    assert_low_precision_matches_float32(cls(temperature=0.01), z1, z2)


@pytest.mark.parametrize("name, ours, kwargs", [
    ("DCLLoss", DCL, dict(temperature=0.1)),
    ("DCLLoss", DCL, dict(temperature=0.5)),
    ("DCLWLoss", DCLW, dict(temperature=0.1, sigma=0.5)),
    ("DCLWLoss", DCLW, dict(temperature=0.3, sigma=0.8)),
])
def test_matches_lightly(name, ours, kwargs):
    module = lightly_loss("dcl_loss")
    if module is None:
        pytest.skip("lightly is not installed: no anchor DCLLoss/DCLWLoss to compare with")
    theirs = getattr(module, name)(**kwargs)
    z1, z2 = randn(7, 5, seed=11), randn(7, 5, seed=12)
    value, g = grads(ours(**kwargs), z1, z2)
    with warnings.catch_warnings():  # lightly's weight copy-constructs a tensor (UserWarning)
        warnings.simplefilter("ignore", UserWarning)
        ref_value, ref_g = grads(theirs, z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


@pytest.mark.parametrize("call, match", TWO_VIEW_BAD_INPUTS)
@pytest.mark.parametrize("cls", [DCL, DCLW])
def test_bad_input(call, match, cls):
    with pytest.raises(ValueError, match=match):
        call(cls())


def test_bad_hyper_parameters():
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            DCL(temperature=bad)
        with pytest.raises(ValueError, match="temperature"):
            DCLW(temperature=bad)
        with pytest.raises(ValueError, match="sigma"):
            DCLW(sigma=bad)


def test_mixed_float64_and_half_inputs_promote_to_float64():
    z1, z2 = randn(4, 3, seed=13), randn(4, 3, seed=14, dtype=torch.bfloat16)
    out = DCL()(z1, z2)
    assert out.dtype == torch.float64
    # z2 is normalised in float32 before the promotion: float32 accuracy.
    assert_close(out, ref_dcl(z1, z2.double(), 0.1), dtype=torch.float32)
