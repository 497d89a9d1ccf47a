"""Barlow Twins, VICReg and negative cosine against float64 loops written from the papers' formulas
and against lightly (values and input gradients)."""

import math

import pytest
import torch

from contrastkit.losses import BarlowTwins, NegativeCosine, VICReg
from contrastkit.scale import Predictor
from tests.anchors import lightly_loss
from tests.helpers import assert_same, randn


def require(module, library):
    if module is None:
        pytest.skip(f"{library} is not installed")
    return module


def ref_barlow_twins(z1, z2, lam):
    """Zbontar et al. Eq. 1, one feature pair at a time; BatchNorm-style standardisation."""
    n, d = z1.shape

    def std(z):
        cols = []
        for j in range(d):
            col = z[:, j]
            mean = sum(col[b] for b in range(n)) / n
            var = sum((col[b] - mean) ** 2 for b in range(n)) / n
            cols.append((col - mean) / torch.sqrt(var + 1e-5))
        return torch.stack(cols, 1)

    a, b = std(z1), std(z2)
    total = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(a[k, i] * b[k, j] for k in range(n)) / n
            total = total + ((1 - c) ** 2 if i == j else lam * c ** 2)
    return total


def ref_vicreg(z1, z2, lam, mu, nu, eps=1e-4):
    """Bardes et al. Eqs. 1-6 by loops (unbiased variance / covariance; the two variance terms
    averaged, as the official code)."""
    n, d = z1.shape
    inv = sum((z1[b, j] - z2[b, j]) ** 2 for b in range(n) for j in range(d)) / (n * d)

    def cov(z):
        mean = [sum(z[b, j] for b in range(n)) / n for j in range(d)]
        return [[sum((z[b, i] - mean[i]) * (z[b, j] - mean[j]) for b in range(n)) / (n - 1)
                 for j in range(d)] for i in range(d)]

    def v(z):
        c = cov(z)
        return sum(torch.relu(1 - torch.sqrt(c[j][j] + eps)) for j in range(d)) / d

    def c(z):
        m = cov(z)
        return sum(m[i][j] ** 2 for i in range(d) for j in range(d) if i != j) / d

    return lam * inv + mu * 0.5 * (v(z1) + v(z2)) + nu * (c(z1) + c(z2))


def ref_negative_cosine(p, z):
    return -sum((p[i] @ z[i]) / (p[i].norm() * z[i].norm()) for i in range(p.shape[0])) / p.shape[0]


@pytest.mark.parametrize("n, d, lam", [(5, 3, 5e-3), (8, 4, 0.5)])
def test_barlow_twins_matches_the_formula(n, d, lam):
    z1, z2 = randn(n, d, seed=1), randn(n, d, seed=2) * 3 + 1
    assert_same(BarlowTwins(lam), lambda a, b: ref_barlow_twins(a, b, lam), z1, z2)


@pytest.mark.parametrize("n, d, params", [(5, 3, (25.0, 25.0, 1.0)), (7, 4, (1.0, 3.0, 0.5))])
def test_vicreg_matches_the_formula(n, d, params):
    # small scales so that the variance hinge is active for some features and not for others
    z1 = randn(n, d, seed=3) * torch.tensor([0.3, 2.0, 0.5, 1.5][:d], dtype=torch.float64)
    z2 = z1 + 0.4 * randn(n, d, seed=4)
    assert_same(VICReg(*params), lambda a, b: ref_vicreg(a, b, *params), z1, z2)


def test_negative_cosine_matches_the_formula():
    p, z = randn(6, 4, seed=5), randn(6, 4, seed=6)
    assert_same(NegativeCosine(), ref_negative_cosine, p, z)


@pytest.mark.parametrize("n, d", [(4, 3), (16, 8)])
def test_barlow_twins_matches_lightly(n, d):
    module = require(lightly_loss("barlow_twins_loss"), "lightly")
    assert_same(BarlowTwins(), module.BarlowTwinsLoss(lambda_param=5e-3), randn(n, d, seed=7),
                randn(n, d, seed=8) * 2)


@pytest.mark.parametrize("n, d", [(4, 3), (16, 8)])
def test_vicreg_matches_lightly(n, d):
    module = require(lightly_loss("vicreg_loss"), "lightly")
    z1 = randn(n, d, seed=9) * 0.5
    assert_same(VICReg(), module.VICRegLoss(), z1, z1 + 0.3 * randn(n, d, seed=10))


def test_negative_cosine_matches_lightly():
    module = require(lightly_loss("negative_cosine_similarity"), "lightly")
    assert_same(NegativeCosine(), module.NegativeCosineSimilarity(), randn(9, 5, seed=11),
                randn(9, 5, seed=12))


def test_gradcheck():
    z1, z2 = randn(4, 3, seed=13, requires_grad=True), randn(4, 3, seed=14, requires_grad=True)
    assert torch.autograd.gradcheck(BarlowTwins(0.1), (z1, z2))
    assert torch.autograd.gradcheck(VICReg(), (z1 * 0.3, z2))
    assert torch.autograd.gradcheck(NegativeCosine(), (z1, z2))


def test_stop_gradient_detaches_the_target():
    p, z = randn(4, 3, seed=15), randn(4, 3, seed=16)
    p_leaf, z_leaf = p.clone().requires_grad_(True), z.clone().requires_grad_(True)
    NegativeCosine(stop_gradient=True)(p_leaf, z_leaf).backward()
    assert z_leaf.grad is None and p_leaf.grad is not None


def test_simsiam_step_with_the_predictor():
    torch.manual_seed(0)
    predictor = Predictor(8, 4).double()
    z1, z2 = randn(6, 8, seed=17), randn(6, 8, seed=18)
    loss_fn = NegativeCosine(stop_gradient=True)
    loss = 0.5 * (loss_fn(predictor(z1), z2) + loss_fn(predictor(z2), z1))
    loss.backward()
    assert -1 <= float(loss.detach()) <= 1
    assert all(p.grad is not None for p in predictor.parameters())


def test_values_are_non_negative_and_finite_on_constant_features():
    z = torch.ones(5, 3, dtype=torch.float64)  # zero variance: the epsilons keep everything finite
    for loss in (BarlowTwins(), VICReg()):
        value = loss(z, z)
        assert torch.isfinite(value) and value >= 0
    assert float(BarlowTwins()(z, z)) == pytest.approx(3.0)  # C = 0: every diagonal term is 1
    assert float(VICReg()(z, z)) == pytest.approx(25.0 * (1 - math.sqrt(1e-4)))


@pytest.mark.parametrize("make, kwargs, name", [
    (BarlowTwins, dict(lambda_param=-1.0), "lambda_param"),
    (BarlowTwins, dict(lambda_param=float("nan")), "lambda_param"),
    (VICReg, dict(mu_param=float("inf")), "mu_param"),
    (VICReg, dict(nu_param=-0.1), "nu_param"),
    (VICReg, dict(eps=0.0), "eps"),
    (NegativeCosine, dict(reduction="avg"), "reduction"),
    (Predictor, dict(dim=0, hidden=3), "dim"),
])
def test_bad_options_name_the_argument(make, kwargs, name):
    with pytest.raises(ValueError, match=name):
        make(**kwargs)


@pytest.mark.parametrize("loss", [BarlowTwins(), VICReg(), NegativeCosine()])
@pytest.mark.parametrize("a, b, name", [
    (randn(4, 3), randn(5, 3), "(z2|target)"),
    (randn(4), randn(4), "(z1|prediction)"),
    (torch.full((4, 3), float("nan")), randn(4, 3), "(z1|prediction)"),
])
def test_bad_input_names_the_argument(loss, a, b, name):
    with pytest.raises(ValueError, match=name):
        loss(a, b)


@pytest.mark.parametrize("loss", [BarlowTwins(), VICReg()])
def test_one_row_has_no_batch_statistics(loss):
    with pytest.raises(ValueError, match="z1"):
        loss(randn(1, 3), randn(1, 3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_negative_cosine_of_huge_rows_is_finite(dtype):
    # rows with norms near 1e30 overflowed the norm product in float32 and gave NaN
    p = (randn(4, 3, seed=1) * 1e30).to(dtype).requires_grad_(True)
    z = (randn(4, 3, seed=2) * 1e30).to(dtype)
    value = NegativeCosine()(p, z)
    expected = NegativeCosine()(p.detach().double() / 1e30, z.double() / 1e30)
    assert torch.isfinite(value) and abs(float(value.detach()) - float(expected)) < 1e-2
    (grad,) = torch.autograd.grad(value, p)
    assert torch.isfinite(grad.double()).all()


@pytest.mark.parametrize("dtypes", [(torch.float32, torch.float32), (torch.float64, torch.float32)])
def test_vicreg_refuses_entries_whose_covariance_overflows(dtypes):
    # rows of norm ~1e30 gave NaN in float32, and an inf gradient for a float32 view next to float64
    z1, z2 = (randn(8, 3, seed=1) * 1e30).to(dtypes[0]), (randn(8, 3, seed=2) * 1e30).to(dtypes[1])
    with pytest.raises(ValueError, match=r"^z1: entries up to .* overflow VICReg"):
        VICReg()(z1, z2)
    small = VICReg()(randn(8, 3, seed=1).to(dtypes[0]) * 1e6, randn(8, 3, seed=2).to(dtypes[1]) * 1e6)
    assert torch.isfinite(small)
