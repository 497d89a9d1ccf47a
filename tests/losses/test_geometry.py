"""Alignment and uniformity losses against naive float64 loops written from Wang & Isola (2020)."""

import math

import pytest
import torch

from contrastkit.losses import alignment, uniformity
from tests.helpers import assert_close, assert_low_precision_matches_float32, grads, randn, unit


def ref_alignment(x, y, alpha):
    x, y = unit(x), unit(y)
    return torch.stack([(x[i] - y[i]).norm() ** alpha for i in range(x.shape[0])]).mean()


def ref_uniformity(x, t):
    """Naive: log of the mean of exp(-t ||x_i - x_j||^2) over the pairs i < j."""
    x = unit(x)
    n = x.shape[0]
    terms = [torch.exp(-t * (x[i] - x[j]).pow(2).sum()) for i in range(n) for j in range(i + 1, n)]
    return torch.log(torch.stack(terms).mean())


@pytest.mark.parametrize("alpha", [2, 1.5, 3])
@pytest.mark.parametrize("n, d", [(1, 3), (6, 4)])
def test_alignment_matches_reference(alpha, n, d):
    x, y = randn(n, d, seed=1), randn(n, d, seed=2)
    value, g = grads(lambda a, b: alignment(a, b, alpha), x, y)
    ref_value, ref_g = grads(lambda a, b: ref_alignment(a, b, alpha), x, y)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


@pytest.mark.parametrize("t", [2.0, 0.5, 7.0])
@pytest.mark.parametrize("n, tile", [(2, None), (7, 1), (7, 3), (7, 7), (7, 50), (10, 4)])
def test_uniformity_matches_reference_for_every_tiling(n, tile, t):
    x = randn(n, 5, seed=n)
    value, (g,) = grads(lambda a: uniformity(a, t, tile_size=tile), x)
    ref_value, (ref_g,) = grads(lambda a: ref_uniformity(a, t), x)
    assert_close(value, ref_value)
    assert_close(g, ref_g)


def test_gradcheck():
    x = randn(5, 3, seed=3, requires_grad=True)
    y = randn(5, 3, seed=4, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: uniformity(a, 2.0, tile_size=2), (x,))
    assert torch.autograd.gradcheck(lambda a, b: alignment(a, b, 2), (x, y))


def test_closed_forms():
    # Identical rows: every distance is 0, so uniformity is log 1 = 0 and alignment 0.
    x = torch.ones(4, 3, dtype=torch.float64)
    assert_close(uniformity(x), 0.0)
    assert_close(alignment(x, 2 * x), 0.0)
    # Antipodal pair: ||x - y||^2 = 4, so alignment(alpha=2) = 4 and uniformity = -4t.
    e = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert_close(alignment(e, -e), 4.0)
    assert_close(uniformity(torch.cat([e, -e]), t=3.0), -12.0)


def test_uniformity_stays_finite_where_the_naive_form_underflows():
    # Vertices of a regular simplex: every squared distance is 2 + 2/(n-1), so with t = 100 each
    # exp(-t d^2) is about e^-222, below float32's smallest subnormal.
    n, t = 6, 100.0
    x = torch.eye(n) - 1.0 / n
    naive = torch.pdist(unit(x), p=2).pow(2).mul(-t).exp().mean().log()
    assert naive == -math.inf
    ours = uniformity(x, t)
    assert ours.dtype == torch.float32
    assert_close(ours, -t * (2 + 2 / (n - 1)), rtol=1e-5, atol=1e-4)
    ours64 = uniformity(x.double(), t, tile_size=4)
    assert_close(ours64, -t * (2 + 2 / (n - 1)), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_inputs(dtype):
    x, y = randn(16, 8, dtype=dtype), randn(16, 8, seed=1, dtype=dtype)
    # one loss per call: a sum of two would round x's gradient twice (once per branch)
    assert_low_precision_matches_float32(lambda a: uniformity(a, tile_size=5), x)
    assert_low_precision_matches_float32(alignment, x, y)


@pytest.mark.parametrize("call, match", [
    (lambda: alignment(randn(4, 3), randn(5, 3)), "y"),
    (lambda: alignment(randn(4, 3), randn(4, 3), alpha=0), "alpha"),
    (lambda: alignment(randn(4), randn(4)), "x"),
    (lambda: uniformity(randn(1, 3)), "x"),
    (lambda: uniformity(randn(0, 3)), "x"),
    (lambda: uniformity(randn(4, 3), t=-1.0), "t"),
    (lambda: uniformity(randn(4, 3), t=float("nan")), "t"),
    (lambda: uniformity(randn(4, 3), tile_size=0), "tile_size"),
    (lambda: uniformity(torch.full((4, 3), float("nan"))), "x"),
    (lambda: uniformity(torch.arange(12).view(4, 3)), "x"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
