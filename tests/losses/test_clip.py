"""CLIPLoss against a per-pair loop written from Radford et al. (2021), Figure 3."""

import math

import pytest
import torch
from torch.func import functional_call

from contrastkit.losses import CLIPLoss
from tests.helpers import assert_close, randn, unit


def ref_clip(a, b, tau):
    """Naive float64 CLIP loss: cross-entropy of each image over texts and each text over images."""
    a, b = unit(a), unit(b)
    n = a.shape[0]
    image_terms, text_terms = [], []
    for i in range(n):
        row = torch.stack([a[i] @ b[j] / tau for j in range(n)])
        col = torch.stack([a[j] @ b[i] / tau for j in range(n)])
        image_terms.append(-row[i] + torch.logsumexp(row, 0))
        text_terms.append(-col[i] + torch.logsumexp(col, 0))
    return 0.5 * (torch.stack(image_terms).mean() + torch.stack(text_terms).mean())


@pytest.mark.parametrize("n, d", [(2, 3), (5, 4), (9, 6)])
def test_clip_matches_reference_values_and_gradients(n, d):
    loss = CLIPLoss(temperature=0.2).double()
    log_tau = loss.temperature.log_temperature
    a = randn(n, d, seed=1, requires_grad=True)
    b = randn(n, d, seed=2, requires_grad=True)
    value = loss(a, b)
    g = torch.autograd.grad(value, (a, b, log_tau))

    ref_log_tau = log_tau.detach().clone().requires_grad_(True)
    a2, b2 = (x.detach().clone().requires_grad_(True) for x in (a, b))
    ref_value = ref_clip(a2, b2, ref_log_tau.exp())
    ref_g = torch.autograd.grad(ref_value, (a2, b2, ref_log_tau))
    assert_close(value, ref_value)
    for ours, ref in zip(g, ref_g):
        assert_close(ours, ref)


def test_clip_closed_form_orthogonal_pairs():
    # a = b = identity: s_ii = 1/tau, s_ij = 0, so each direction gives -1/tau + log(e^{1/tau} + N - 1).
    n, tau = 4, 0.5
    eye = torch.eye(n, dtype=torch.float64)
    expected = -1 / tau + math.log(math.exp(1 / tau) + n - 1)
    assert_close(CLIPLoss(temperature=tau, learnable_temperature=False)(eye, eye), expected)


def test_clip_reduction_none_averages_the_two_directions():
    a, b = randn(5, 3, seed=3), randn(5, 3, seed=4)
    per_pair = CLIPLoss(0.3, learnable_temperature=False, reduction="none")(a, b)
    assert per_pair.shape == (5,)
    assert_close(per_pair.mean(), ref_clip(a, b, 0.3))


def test_gradcheck_clip_with_learnable_temperature():
    loss = CLIPLoss(temperature=0.3).double()
    a = randn(4, 3, seed=5, requires_grad=True)
    b = randn(4, 3, seed=6, requires_grad=True)
    log_tau = loss.temperature.log_temperature.detach().clone().requires_grad_(True)

    def call(a, b, log_tau):
        return functional_call(loss, {"temperature.log_temperature": log_tau}, (a, b))

    assert torch.autograd.gradcheck(call, (a, b, log_tau))


def test_clip_temperature_is_learnable_by_default():
    loss = CLIPLoss()
    assert isinstance(loss.temperature.log_temperature, torch.nn.Parameter)
    assert math.isclose(loss.temperature.value, 0.07, rel_tol=1e-6)
    assert not CLIPLoss(learnable_temperature=False).temperature.learnable


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_clip_low_precision_small_temperature_is_finite(dtype):
    a = randn(32, 8, seed=7, dtype=dtype, requires_grad=True)
    b = randn(32, 8, seed=8, dtype=dtype, requires_grad=True)
    loss = CLIPLoss(temperature=0.01)
    out = loss(a, b)
    out.backward()
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert a.grad.dtype == dtype and torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    assert torch.isfinite(loss.temperature.log_temperature.grad)
    # Close to the float32 loss of the same (rounded) inputs.
    assert_close(out, loss(a.float(), b.float()), dtype=torch.float32, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3)), "b"),
    (lambda l: l(randn(4, 3), randn(4, 2)), "b"),
    (lambda l: l(randn(4), randn(4)), "a"),
    (lambda l: l(randn(4, 3), randn(2, 4, 3)), "b"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3)), "a"),
    (lambda l: l(randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([2]), float("inf"))), "b"),
    (lambda l: l(randn(4, 3), torch.ones(4, 3, dtype=torch.long)), "b"),
])
def test_clip_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(CLIPLoss())


@pytest.mark.parametrize("bad", [0.0, -0.1, float("inf"), float("nan")])
def test_clip_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        CLIPLoss(temperature=bad)


def test_clip_ids_leave_rows_of_one_group_out_of_both_denominators():
    # Rows 0 and 1 share an id (two captions of one image): each is dropped from the other's
    # denominators, in both directions; a naive loop over the kept candidates is the reference.
    a, b = randn(5, 3, seed=7), randn(5, 3, seed=8)
    ids = torch.tensor([4, 4, 1, 2, 3])
    tau = 0.3
    ua, ub = unit(a), unit(b)
    terms = []
    for i in range(5):
        keep = [j for j in range(5) if j == i or ids[j] != ids[i]]
        row = torch.stack([ua[i] @ ub[j] / tau for j in keep])
        col = torch.stack([ua[j] @ ub[i] / tau for j in keep])
        own = keep.index(i)
        terms.append(0.5 * ((-row[own] + torch.logsumexp(row, 0)) + (-col[own] + torch.logsumexp(col, 0))))
    got = CLIPLoss(tau, learnable_temperature=False)(a, b, ids=ids)
    assert_close(got, torch.stack(terms).mean())
