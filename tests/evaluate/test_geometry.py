"""Geometry metrics against NumPy / float64 references and closed forms."""

import math

import numpy as np
import pytest
import torch

import contrastkit.evaluate.geometry as geometry_module
from contrastkit.evaluate import alignment, anisotropy, effective_rank, singular_values, uniformity
from tests.helpers import randn, unit


def naive_alignment(x, y, alpha):
    """Wang & Isola (2020), Eq. 4 empirically: mean over pairs of ||x_i/|x_i| - y_i/|y_i| ||^alpha."""
    xn, yn = unit(x).numpy(), unit(y).numpy()
    return float(np.mean([np.sqrt(np.sum((xn[i] - yn[i]) ** 2)) ** alpha for i in range(len(xn))]))


def naive_uniformity(x, t):
    """log of the mean over pairs i < j of exp(-t ||x_i/|x_i| - x_j/|x_j| ||^2)."""
    xn, n = unit(x).numpy(), len(x)
    pairs = [np.exp(-t * np.sum((xn[i] - xn[j]) ** 2)) for i in range(n) for j in range(i + 1, n)]
    return math.log(np.mean(pairs))


@pytest.mark.parametrize("alpha", [1, 2, 3.5])
def test_alignment_matches_the_naive_definition(alpha):
    x, y = randn(9, 4, seed=1) * 3, randn(9, 4, seed=2)
    a = alignment(x, y, alpha=alpha)
    assert isinstance(a, float) and math.isclose(a, naive_alignment(x, y, alpha), rel_tol=1e-12)
    assert math.isclose(alignment(x.numpy(), y.numpy(), alpha=alpha), a, rel_tol=1e-12)
    # identical directions align perfectly; opposite unit vectors are 2 apart
    assert alignment(x, 5 * x, alpha=alpha) == pytest.approx(0.0, abs=1e-12)
    assert alignment(x, -x, alpha=alpha) == pytest.approx(2.0**alpha, rel=1e-12)


@pytest.mark.parametrize("t, tile_size", [(2, None), (2, 3), (0.5, 4)])
def test_uniformity_matches_the_naive_definition(t, tile_size):
    x = randn(9, 4, seed=1)
    u = uniformity(x, t=t, tile_size=tile_size)
    assert isinstance(u, float) and math.isclose(u, naive_uniformity(x, t), rel_tol=1e-12)
    assert math.isclose(uniformity(x.numpy(), t=t), u, rel_tol=1e-12)
    # two antipodal points: the only pair is 2 apart, so the value is -4t
    assert uniformity(torch.tensor([[1.0, 0.0], [-3.0, 0.0]], dtype=torch.float64), t=t) == \
        pytest.approx(-4 * t, rel=1e-12)


def test_uniformity_evaluation_finite_where_naive_is_minus_inf():
    x = torch.eye(5) - 0.2
    assert math.isinf(torch.pdist(unit(x)).pow(2).mul(-200.0).exp().mean().log().item())
    assert math.isclose(uniformity(x, t=200.0), -200.0 * 2.5, rel_tol=1e-5)


def ref_effective_rank(x):
    s = np.linalg.svd(x, compute_uv=False)
    p = s[s > 0] / s.sum()
    return math.exp(-(p * np.log(p)).sum())


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("n, d", [(50, 6), (4, 9)])
def test_spectrum_and_effective_rank_match_numpy(monkeypatch, direct, n, d):
    if not direct:
        monkeypatch.setattr(geometry_module, "DIRECT_SVD_ROWS", 0)
        monkeypatch.setattr(geometry_module, "GRAM_CHUNK", 7)
    x = randn(n, d, seed=5).numpy() * np.linspace(0.1, 3, d)
    for center in (False, True):
        ref_x = x - x.mean(0) if center else x
        ref_s = np.zeros(d)
        ref_s[: min(n, d)] = np.linalg.svd(ref_x, compute_uv=False)
        np.testing.assert_allclose(singular_values(x, center=center), ref_s, rtol=1e-7, atol=1e-7)
        assert math.isclose(effective_rank(x, center=center), ref_effective_rank(ref_x), rel_tol=1e-6)


def test_effective_rank_closed_forms():
    assert math.isclose(effective_rank(torch.ones(20, 5)), 1.0, rel_tol=1e-9)
    assert math.isclose(effective_rank(3 * torch.eye(6)), 6.0, rel_tol=1e-9)
    # singular values 2 and 1 (a diagonal matrix): p = (2/3, 1/3)
    p = np.array([2 / 3, 1 / 3])
    assert math.isclose(effective_rank(torch.diag(torch.tensor([2.0, 1.0]))),
                        math.exp(-(p * np.log(p)).sum()), rel_tol=1e-9)
    with pytest.raises(ValueError, match="singular"):
        effective_rank(torch.zeros(3, 2))


def test_anisotropy_matches_mean_pairwise_cosine():
    x = randn(8, 3, seed=7)
    xn = unit(x)
    ref = np.mean([float(xn[i] @ xn[j]) for i in range(8) for j in range(8) if i != j])
    assert math.isclose(anisotropy(x), ref, rel_tol=1e-10)
    assert math.isclose(anisotropy(torch.ones(5, 2)), 1.0, rel_tol=1e-12)
    e = torch.eye(2)
    assert math.isclose(anisotropy(torch.cat([e, -e])), -1 / 3, rel_tol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: alignment(randn(3, 2), randn(4, 2)), "y"),
    (lambda: alignment([[1.0]], [[1.0]]), "x"),
    (lambda: uniformity(np.zeros((0, 3))), "x"),
    (lambda: uniformity(randn(1, 3)), "x"),
    (lambda: effective_rank(np.full((3, 2), np.nan)), "x"),
    (lambda: anisotropy(randn(1, 3)), "x"),
    (lambda: singular_values(randn(4)), "x"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.gpu
def test_cuda_inputs():
    x, y = randn(64, 8, seed=1).cuda(), randn(64, 8, seed=2).cuda()
    assert math.isclose(uniformity(x, tile_size=16), uniformity(x.cpu()), rel_tol=1e-9)
    assert math.isclose(alignment(x, y), alignment(x.cpu(), y.cpu()), rel_tol=1e-9)
    assert math.isclose(effective_rank(x), effective_rank(x.cpu()), rel_tol=1e-9)
