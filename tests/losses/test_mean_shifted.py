"""Mean-shifted contrastive loss (Reiss & Hoshen, 2023) against a per-anchor loop written from the
official code (docs/formulas.md, Mean-shifted), and the center helper."""

import math

import pytest
import torch

from contrastkit.losses import MeanShifted, NTXent, mean_shifted_center
from tests.helpers import assert_close, assert_low_precision_matches_float32, grads, randn, unit


def ref_mean_shifted(z1, z2, center, tau, angular=False):
    """Naive float64: theta = unit(unit(z) - c), NT-Xent over 2N anchors (positive in the
    denominator), plus mean ||phi - c||^2 of each view with ``angular``."""
    phi1, phi2 = unit(z1), unit(z2)
    theta = unit(torch.cat([phi1, phi2]) - center)
    n2 = theta.shape[0]
    total = 0.0
    for a in range(n2):
        p = (a + n2 // 2) % n2
        denominator = sum(torch.exp(theta[a] @ theta[b] / tau) for b in range(n2) if b != a)
        total = total - torch.log(torch.exp(theta[a] @ theta[p] / tau) / denominator)
    loss = total / n2
    if angular:
        loss = loss + ((phi1 - center) ** 2).sum(1).mean() + ((phi2 - center) ** 2).sum(1).mean()
    return loss


@pytest.mark.parametrize("n, d", [(2, 3), (5, 4), (8, 6)])
@pytest.mark.parametrize("angular", [False, True])
def test_matches_reference_values_and_gradients(n, d, angular):
    z1, z2 = randn(n, d, seed=1), randn(n, d, seed=2)
    center = mean_shifted_center(randn(20, d, seed=3) + 1.0)
    loss = MeanShifted(temperature=0.25, angular=angular)
    value, g = grads(lambda a, b: loss(a, b, center), z1, z2)
    ref_value, ref_g = grads(lambda a, b: ref_mean_shifted(a, b, center, 0.25, angular), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


def test_raw_mean_center_matches_reference():
    # The official code's non-angular center is the un-normalised mean of the normalised features.
    z1, z2 = randn(5, 4, seed=4), randn(5, 4, seed=5)
    features = randn(30, 4, seed=6) + 0.5
    center = mean_shifted_center(features, normalize_center=False)
    assert_close(center, unit(features).mean(0))
    value, g = grads(lambda a, b: MeanShifted(0.25)(a, b, center), z1, z2)
    ref_value, ref_g = grads(lambda a, b: ref_mean_shifted(a, b, center, 0.25), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


def test_center_helper_is_normalised_mean_of_normalised_features():
    features = randn(50, 6, seed=7) * torch.linspace(0.1, 10, 50, dtype=torch.float64)[:, None] + 0.3
    expected = unit(unit(features).mean(0))
    center = mean_shifted_center(features)
    assert center.shape == (6,)
    assert_close(center, expected)
    assert_close(center.norm(), 1.0)
    assert mean_shifted_center(features.float()).dtype == torch.float32
    with pytest.raises(ValueError, match="features"):
        mean_shifted_center(randn(6))
    with pytest.raises(ValueError, match="features"):
        mean_shifted_center(torch.full((3, 2), float("inf")))


def test_zero_center_is_ntxent():
    z1, z2 = randn(6, 4, seed=8), randn(6, 4, seed=9)
    center = torch.zeros(4, dtype=torch.float64)
    assert_close(MeanShifted(0.25)(z1, z2, center), NTXent(0.25)(z1, z2))


def test_center_is_a_constant():
    z1, z2 = randn(4, 3, seed=10, requires_grad=True), randn(4, 3, seed=11, requires_grad=True)
    center = randn(3, seed=12, requires_grad=True)
    MeanShifted(angular=True)(z1, z2, center).backward()
    assert center.grad is None and z1.grad is not None


def test_row_equal_to_center_is_finite():
    # phi == c maps to the zero vector (not NaN): its logits are 0.
    z1, z2 = randn(4, 3, seed=13), randn(4, 3, seed=14)
    center = unit(z1[0])
    value, g = grads(lambda a, b: MeanShifted()(a, b, center), z1, z2)
    assert torch.isfinite(value) and all(torch.isfinite(x).all() for x in g)


def test_angular_term_closed_form():
    # Identical rows equal to a unit center's opposite: theta identical (NT-Xent = log(2N - 1)),
    # ||phi - c||^2 = 4 per view, so the angular loss adds 8.
    n = 3
    z = torch.tensor([[1.0, 0.0]], dtype=torch.float64).repeat(n, 1)
    center = torch.tensor([-1.0, 0.0], dtype=torch.float64)
    assert_close(MeanShifted(0.25)(z, z, center), math.log(2 * n - 1))
    assert_close(MeanShifted(0.25, angular=True)(z, z, center), math.log(2 * n - 1) + 8)


def test_gradcheck():
    z1, z2 = randn(3, 3, seed=15, requires_grad=True), randn(3, 3, seed=16, requires_grad=True)
    center = mean_shifted_center(randn(10, 3, seed=17) + 1)
    loss = MeanShifted(temperature=0.5, angular=True)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, center), (z1, z2))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_small_temperature_is_finite(dtype):
    z1, z2 = randn(32, 8, dtype=dtype), randn(32, 8, seed=1, dtype=dtype)
    center = mean_shifted_center(randn(64, 8, seed=2, dtype=dtype) + 1)
    loss = MeanShifted(temperature=0.01, angular=True)
    assert_low_precision_matches_float32(lambda a, b: loss(a, b, center), z1, z2)


def test_reduction_none_shape():
    out = MeanShifted(reduction="none")(randn(4, 3), randn(4, 3, seed=1), torch.zeros(3))
    assert out.shape == (8,)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3), randn(3)), "z2"),
    (lambda l: l(randn(4, 3), randn(4, 2), randn(3)), "z2"),
    (lambda l: l(randn(4), randn(4), randn(4)), "z1"),
    (lambda l: l(randn(1, 3), randn(1, 3), randn(3)), "z1"),
    (lambda l: l(randn(4, 3), randn(4, 3), randn(4)), "center"),
    (lambda l: l(randn(4, 3), randn(4, 3), randn(1, 3)), "center"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.tensor([0.0, float("nan"), 0.0])), "center"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.zeros(3, dtype=torch.long)), "center"),
    (lambda l: l(torch.full((4, 3), float("inf")), randn(4, 3), randn(3)), "z1"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(MeanShifted())


def test_bad_temperature():
    for bad in (0.0, -0.25, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            MeanShifted(temperature=bad)


def test_learnable_temperature_gets_gradient():
    loss = MeanShifted(temperature=0.25, learnable_temperature=True)
    z1, z2 = randn(4, 3, dtype=torch.float32), randn(4, 3, seed=1, dtype=torch.float32)
    loss(z1, z2, torch.zeros(3)).backward()
    assert torch.isfinite(loss.temperature.log_temperature.grad)
