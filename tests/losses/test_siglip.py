"""SigLIP against a per-pair loop written from Zhai et al. (2023), Algorithm 1."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from contrastkit.losses import SigLIP
from tests.helpers import assert_close, randn, unit


def ref_siglip(a, b, t, bias):
    """Naive float64 SigLIP: -log sigmoid(z_ij (t <a_i, b_j> + bias)) summed over all pairs, / N."""
    a, b = unit(a), unit(b)
    n = a.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            z = 1.0 if i == j else -1.0
            total = total - F.logsigmoid(z * (t * (a[i] @ b[j]) + bias))
    return total / n


PARAMS = {"temperature.log_temperature", "bias"}


@pytest.mark.parametrize("n, d, temperature, bias", [
    (1, 3, 0.1, -10.0), (4, 3, 0.1, -10.0), (7, 5, 0.5, -2.71), (10, 8, 0.05, 1.5),
])
def test_siglip_matches_reference_values_and_gradients(n, d, temperature, bias):
    loss = SigLIP(temperature=temperature, bias=bias).double()
    params = dict(loss.named_parameters())
    assert set(params) == PARAMS
    a = randn(n, d, seed=1, requires_grad=True)
    b = randn(n, d, seed=2, requires_grad=True)
    value = loss(a, b)
    g = torch.autograd.grad(value, (a, b, params["temperature.log_temperature"], params["bias"]))

    log_tau, ref_bias = (params[k].detach().clone().requires_grad_(True)
                         for k in ("temperature.log_temperature", "bias"))
    a2, b2 = (x.detach().clone().requires_grad_(True) for x in (a, b))
    ref_value = ref_siglip(a2, b2, torch.exp(-log_tau), ref_bias)
    ref_g = torch.autograd.grad(ref_value, (a2, b2, log_tau, ref_bias))
    assert_close(value, ref_value)
    for ours, ref in zip(g, ref_g):
        assert_close(ours, ref)


def test_siglip_fixed_parameters_match_reference():
    loss = SigLIP(temperature=0.3, bias=-2.71, learnable_temperature=False, learnable_bias=False)
    assert not list(loss.parameters())
    a, b = randn(6, 4, seed=3), randn(6, 4, seed=4)
    assert_close(loss(a, b), ref_siglip(a, b, 1 / 0.3, -2.71))
    per_row = SigLIP(0.3, -2.71, learnable_temperature=False, learnable_bias=False,
                     reduction="none")(a, b)
    assert per_row.shape == (6,)
    assert_close(per_row.sum(), 6 * ref_siglip(a, b, 1 / 0.3, -2.71))


def test_siglip_closed_form_default_init():
    # One matching pair at t = 10, b = -10: the logit is 10 * 1 - 10 = 0, so the loss is log 2.
    x = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    assert_close(SigLIP(learnable_temperature=False, learnable_bias=False)(x, x), math.log(2))


def test_gradcheck_siglip_with_learnable_temperature_and_bias():
    loss = SigLIP(temperature=0.5, bias=-1.0).double()
    a = randn(4, 3, seed=5, requires_grad=True)
    b = randn(4, 3, seed=6, requires_grad=True)
    log_tau = loss.temperature.log_temperature.detach().clone().requires_grad_(True)
    bias = loss.bias.detach().clone().requires_grad_(True)

    def call(a, b, log_tau, bias):
        return functional_call(loss, {"temperature.log_temperature": log_tau, "bias": bias}, (a, b))

    assert torch.autograd.gradcheck(call, (a, b, log_tau, bias))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_siglip_low_precision_small_temperature_is_finite(dtype):
    a = randn(32, 8, seed=7, dtype=dtype, requires_grad=True)
    b = randn(32, 8, seed=8, dtype=dtype, requires_grad=True)
    loss = SigLIP(temperature=0.01)
    out = loss(a, b)
    out.backward()
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert a.grad.dtype == dtype and torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    assert torch.isfinite(loss.temperature.log_temperature.grad) and torch.isfinite(loss.bias.grad)
    assert_close(out, loss(a.float(), b.float()), dtype=torch.float32, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3)), "b"),
    (lambda l: l(randn(4, 3), randn(4, 2)), "b"),
    (lambda l: l(randn(4), randn(4)), "a"),
    (lambda l: l(randn(4, 3), randn(2, 4, 3)), "b"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3)), "a"),
    (lambda l: l(randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([2]), float("-inf"))), "b"),
])
def test_siglip_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(SigLIP())


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=0.0), "temperature"),
    (dict(temperature=-1.0), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(bias=float("nan")), "bias"),
    (dict(bias=float("inf")), "bias"),
    (dict(reduction="avg"), "reduction"),
])
def test_siglip_bad_hyper_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SigLIP(**kwargs)
