"""DHEL and KCL against per-anchor / per-pair loops written from docs/formulas.md (DHEL and KCL)."""

import math

import pytest
import torch

from contrastkit.losses import DHEL, KCL
from tests.helpers import (
    TWO_VIEW_BAD_INPUTS,
    assert_close,
    assert_low_precision_matches_float32,
    assert_same,
    randn,
    unit,
)


def ref_dhel(z1, z2, tau, include_augs=True):
    """Naive float64 DHEL: -<u_i,v_i>/tau + log sum_{j!=i} e^{<u_i,u_j>/tau} (+ same for v)."""
    u, v = unit(z1), unit(z2)
    n = u.shape[0]
    terms = []
    for i in range(n):
        energy_u = sum(torch.exp(u[i] @ u[j] / tau) for j in range(n) if j != i)
        term = -(u[i] @ v[i]) / tau + torch.log(energy_u)
        if include_augs:
            term = term + torch.log(sum(torch.exp(v[i] @ v[j] / tau) for j in range(n) if j != i))
        terms.append(term)
    return torch.stack(terms).mean()


def ref_kernel(kernel, r, t, role):
    """One kernel value at Euclidean distance r (role: 'energy' or 'align'), from the official
    utils.py formulas as listed in docs/formulas.md (DHEL and KCL) and the KCL docstring."""
    if kernel == "gaussian_riesz":
        kernel = "riesz" if role == "energy" else "gaussian_fixed"
    if kernel == "gaussian":
        return torch.exp(-t * r ** 2)
    if kernel == "gaussian_fixed":
        return torch.exp(-2 * r ** 2)
    if kernel == "log":
        return (-0.5 if role == "energy" else -1.0) * torch.log(t * r ** 2 + 1)
    if kernel == "imq":
        return t / torch.sqrt(t ** 2 + r ** 2)
    if kernel == "riesz":
        return -(r ** (-t)) if t < 0 else r ** (-t)
    raise AssertionError(kernel)


def ref_kcl(z1, z2, t, gamma, kernel):
    u, v = unit(z1), unit(z2)
    n = u.shape[0]
    energy = 0.0
    for x in (u, v):
        pairs = [ref_kernel(kernel, (x[i] - x[j]).norm(), t, "energy")
                 for i in range(n) for j in range(i + 1, n)]
        energy = energy + sum(pairs) / len(pairs)
    alignment = 2 * sum(ref_kernel(kernel, (u[i] - v[i]).norm(), t, "align") for i in range(n)) / n
    return -alignment + gamma * energy


@pytest.mark.parametrize("n, d, tau", [(2, 3, 0.3), (5, 4, 0.3), (9, 6, 0.1)])
@pytest.mark.parametrize("include_augs", [True, False])
def test_dhel_matches_reference_values_and_gradients(n, d, tau, include_augs):
    z1, z2 = randn(n, d, seed=n), randn(n, d, seed=n + 1)
    assert_same(DHEL(temperature=tau, include_augs=include_augs),
                lambda a, b: ref_dhel(a, b, tau, include_augs), z1, z2)


def test_dhel_closed_form_identical_rows():
    # Every row equal: -1/tau + log(N-1) + 1/tau per energy term, so log(N-1) * (1 + include_augs).
    z = torch.ones(5, 3, dtype=torch.float64)
    assert_close(DHEL(temperature=0.3)(z, z), 2 * math.log(4) + 1 / 0.3)
    assert_close(DHEL(temperature=0.3, include_augs=False)(z, z), math.log(4))


def test_dhel_reduction_none_and_learnable_temperature():
    z1, z2 = randn(6, 4, seed=1), randn(6, 4, seed=2)
    per_anchor = DHEL(reduction="none")(z1, z2)
    assert per_anchor.shape == (6,)
    assert_close(per_anchor.mean(), ref_dhel(z1, z2, 0.3))
    loss = DHEL(temperature=0.2, learnable_temperature=True)
    loss(z1.float(), z2.float()).backward()
    assert loss.temperature.log_temperature.grad is not None


@pytest.mark.parametrize("kernel, t", [
    ("gaussian", 2.0), ("gaussian", 0.5), ("log", 2.0), ("imq", 2.0), ("riesz", 1.5),
    ("riesz", -1.0), ("gaussian_riesz", 1.0),
])
@pytest.mark.parametrize("n, d", [(3, 3), (7, 5)])
def test_kcl_matches_reference_values_and_gradients(kernel, t, n, d):
    z1, z2 = randn(n, d, seed=10 + n), randn(n, d, seed=11 + n)
    assert_same(KCL(t=t, gamma=16.0, kernel=kernel), lambda a, b: ref_kcl(a, b, t, 16.0, kernel),
                z1, z2)


def test_kcl_gaussian_energy_matches_torch_pdist():
    z1, z2 = randn(8, 4, seed=20), randn(8, 4, seed=21)
    u, v = unit(z1), unit(z2)
    energy = sum(torch.pdist(x).pow(2).mul(-2.0).exp().mean() for x in (u, v))
    alignment = 2 * (u - v).norm(dim=1).pow(2).mul(-2.0).exp().mean()
    assert_close(KCL(gamma=3.0)(z1, z2), -alignment + 3.0 * energy)


def test_gradcheck_dhel_and_kcl():
    z1, z2 = randn(4, 3, seed=30, requires_grad=True), randn(4, 3, seed=31, requires_grad=True)
    assert torch.autograd.gradcheck(DHEL(temperature=0.5), (z1, z2))
    assert torch.autograd.gradcheck(DHEL(temperature=0.5, include_augs=False), (z1, z2))
    assert torch.autograd.gradcheck(KCL(), (z1, z2))
    assert torch.autograd.gradcheck(KCL(kernel="log"), (z1, z2))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_small_temperature_is_finite(dtype):
    z1, z2 = randn(32, 8, seed=40, dtype=dtype), randn(32, 8, seed=41, dtype=dtype)
    for loss in (DHEL(temperature=0.01), KCL()):
        assert_low_precision_matches_float32(loss, z1, z2)


@pytest.mark.parametrize("loss", [DHEL(), KCL()])
@pytest.mark.parametrize("call, match", TWO_VIEW_BAD_INPUTS)
def test_bad_input(loss, call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(loss)


def test_bad_hyper_parameters():
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            DHEL(temperature=bad)
        with pytest.raises(ValueError, match=r"^t:"):
            KCL(t=bad)
    with pytest.raises(ValueError, match=r"^t:"):
        KCL(t=0.0, kernel="riesz")
    for bad in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="gamma"):
            KCL(gamma=bad)
    with pytest.raises(ValueError, match="kernel"):
        KCL(kernel="laplace")


def test_dhel_equals_mvdhel_with_two_views():
    # docs/formulas.md (MV-InfoNCE and MV-DHEL): with V = 2, MV-DHEL is DHEL with include_augs=True
    # (the numerator's single
    # unordered pair is the positive, the product holds both same-view energies).
    from contrastkit.losses import MVDHEL

    z1, z2 = randn(6, 4, seed=70), randn(6, 4, seed=71)
    assert_same(DHEL(temperature=0.2), lambda a, b: MVDHEL(temperature=0.2)(torch.stack([a, b], 1)),
                z1, z2)


def test_mixed_precision_inputs_promote():
    z1, z2 = randn(5, 3, seed=72), randn(5, 3, seed=73, dtype=torch.bfloat16)
    out = DHEL()(z1, z2)
    assert out.dtype == torch.float64
    assert_close(out, ref_dhel(z1, z2.double(), 0.3), dtype=torch.float32)  # z2 normalised in fp32
