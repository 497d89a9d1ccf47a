"""MV-InfoNCE, MV-DHEL and Poly-View against per-instance loops over plain exp matrices written from
the official code / pseudo-code (docs/formulas.md, MV-InfoNCE and PolyView); V = 2 against DHEL
and NT-Xent."""

import math

import pytest
import torch

from contrastkit.losses import MVDHEL, MultiViewInfoNCE, NTXent, PolyView
from tests.helpers import assert_close, assert_low_precision_matches_float32, grads, randn, unit


def exp_sims(views, tau):
    """``E[i, l, j, m] = exp(<U_il, U_jm> / tau)`` in float64, with ``U`` the normalised views."""
    u = unit(views)
    return torch.exp(torch.einsum("ild,jmd->iljm", u, u) / tau)


def ref_mv_infonce(views, tau):
    e = exp_sims(views, tau)
    n, v = views.shape[:2]
    total = 0.0
    for i in range(n):
        numerator = sum(e[i, l, i, m] for l in range(v) for m in range(v) if m != l)
        denominator = sum(e[i, l, j, m] for l in range(v) for j in range(n) for m in range(v)
                          if (j, m) != (i, l))
        total = total - torch.log(numerator / denominator)
    return total / n


def ref_mvdhel(views, tau):
    e = exp_sims(views, tau)
    n, v = views.shape[:2]
    total = 0.0
    for i in range(n):
        numerator = sum(e[i, l, i, m] for l in range(v) for m in range(l + 1, v))
        denominator = 1.0
        for l in range(v):
            denominator = denominator * sum(e[i, l, j, l] for j in range(n) if j != i)
        total = total - torch.log(numerator / denominator)
    return total / n


def ref_polyview(views, tau, aggregation):
    """Pseudo-code form: the arithmetic aggregation subtracts log K (K = batch size)."""
    e = exp_sims(views, tau)
    k, v = views.shape[:2]
    total = 0.0
    for i in range(k):
        for a in range(v):
            negatives = sum(e[i, a, j, g] for j in range(k) if j != i for g in range(v))
            per_pair = [-torch.log(e[i, a, i, b] / (e[i, a, i, b] + negatives))
                        for b in range(v) if b != a]
            if aggregation == "geometric":
                total = total + sum(per_pair) / (v - 1)
            else:
                total = total + torch.log(sum(torch.exp(x) for x in per_pair)) - math.log(k)
    return total / (k * v)


def ref_dhel(u, v, tau):
    """DHEL with include_augs=True (Koromilas et al., 2024): one direction, anchors = first view."""
    u, v = unit(u), unit(v)
    n = u.shape[0]
    total = 0.0
    for i in range(n):
        uu = sum(torch.exp(u[i] @ u[j] / tau) for j in range(n) if j != i)
        vv = sum(torch.exp(v[i] @ v[j] / tau) for j in range(n) if j != i)
        total = total - u[i] @ v[i] / tau + torch.log(uu) + torch.log(vv)
    return total / n


SHAPES = [(2, 2, 3), (4, 3, 5), (5, 4, 3)]


def check_against(loss, reference, views, shift=0.0):
    value, (g,) = grads(loss, views)
    ref_value, (ref_g,) = grads(reference, views)
    assert_close(value, ref_value + shift)
    assert_close(g, ref_g)


@pytest.mark.parametrize("n, v, d", SHAPES)
@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_mv_infonce_matches_reference(n, v, d, temperature):
    check_against(MultiViewInfoNCE(temperature), lambda x: ref_mv_infonce(x, temperature),
                  randn(n, v, d, seed=1))


@pytest.mark.parametrize("n, v, d", SHAPES)
@pytest.mark.parametrize("temperature", [0.2, 0.7])
def test_mvdhel_matches_reference(n, v, d, temperature):
    check_against(MVDHEL(temperature), lambda x: ref_mvdhel(x, temperature), randn(n, v, d, seed=2))


@pytest.mark.parametrize("n, v, d", SHAPES)
@pytest.mark.parametrize("aggregation", ["geometric", "arithmetic"])
def test_polyview_matches_reference(n, v, d, aggregation):
    # Ours subtracts log(V - 1) in the arithmetic form (the exact log-mean), the pseudo-code log K.
    shift = math.log(n) - math.log(v - 1) if aggregation == "arithmetic" else 0.0
    check_against(PolyView(0.2, aggregation), lambda x: ref_polyview(x, 0.2, aggregation),
                  randn(n, v, d, seed=3), shift)


def test_mvdhel_two_views_is_dhel():
    views = randn(6, 2, 4, seed=4)
    check_against(MVDHEL(0.3), lambda x: ref_dhel(x[:, 0], x[:, 1], 0.3), views)


@pytest.mark.parametrize("aggregation", ["geometric", "arithmetic"])
def test_polyview_two_views_is_ntxent(aggregation):
    views = randn(6, 2, 4, seed=5)
    ntxent = NTXent(0.2)
    check_against(PolyView(0.2, aggregation), lambda x: ntxent(x[:, 0], x[:, 1]), views)


def test_mv_infonce_closed_form_identical_rows():
    # All logits equal: numerator V(V-1) e^{1/tau}, denominator V(NV-1) e^{1/tau}.
    n, v = 4, 3
    views = torch.ones(n, v, 2, dtype=torch.float64)
    assert_close(MultiViewInfoNCE(0.5)(views), math.log((n * v - 1) / (v - 1)))


@pytest.mark.parametrize("loss", [MultiViewInfoNCE(0.5), MVDHEL(0.5), PolyView(0.5),
                                  PolyView(0.5, "arithmetic")])
def test_gradcheck(loss):
    views = randn(3, 3, 2, seed=6, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (views,))


@pytest.mark.parametrize("loss", [MultiViewInfoNCE(), MVDHEL(), PolyView()])
def test_reduction_none_is_per_instance(loss):
    loss.reduction = "none"
    assert loss(randn(5, 3, 4, seed=7)).shape == (5,)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("cls", [MultiViewInfoNCE, MVDHEL, PolyView])
def test_low_precision_small_temperature_is_finite(dtype, cls):
    assert_low_precision_matches_float32(cls(temperature=0.01), randn(16, 3, 8, dtype=dtype))


@pytest.mark.parametrize("bad", [
    randn(4, 3),                                    # rank 2
    randn(4, 3, 2, 2),                              # rank 4
    randn(4, 1, 3),                                 # V < 2
    randn(1, 3, 3),                                 # N < 2
    torch.full((4, 2, 3), float("nan"), dtype=torch.float64),
    torch.ones(4, 2, 3, dtype=torch.long),
])
@pytest.mark.parametrize("cls", [MultiViewInfoNCE, MVDHEL, PolyView])
def test_bad_input(bad, cls):
    with pytest.raises(ValueError, match="views"):
        cls()(bad)


def test_bad_hyper_parameters():
    for cls in (MultiViewInfoNCE, MVDHEL, PolyView):
        with pytest.raises(ValueError, match="temperature"):
            cls(temperature=0.0)
    with pytest.raises(ValueError, match="aggregation"):
        PolyView(aggregation="harmonic")


@pytest.mark.parametrize("cls", [MultiViewInfoNCE, MVDHEL, PolyView])
def test_learnable_temperature_gets_gradient_and_same_value(cls):
    views = randn(5, 3, 4, seed=8, dtype=torch.float32)
    loss = cls(temperature=0.3, learnable_temperature=True)
    out = loss(views)
    out.backward()
    assert torch.isfinite(loss.temperature.log_temperature.grad)
    assert_close(out, cls(temperature=0.3)(views), rtol=1e-5, atol=1e-5)
