"""SCAV's sequence InfoNCE (similarity = -mean per-step squared distance) against a float64 loop."""

import math

import pytest
import torch

from contrastkit.losses import SCAV
from tests.helpers import assert_same, randn


def ref_scav(a, b, tau, normalize=True, symmetric=False):
    def unit(x):
        return x / x.norm(dim=-1, keepdim=True) if normalize else x

    def sim(x, y):  # -mean over steps of the squared distance, step by step
        steps = x.shape[0]
        return -sum(((unit(x)[t] - unit(y)[t]) ** 2).sum() for t in range(steps)) / steps

    def one_way(x, y):
        total = 0.0
        for i in range(x.shape[0]):
            logits = [sim(x[i], y[j]) / tau for j in range(y.shape[0])]
            total = total - logits[i] + torch.logsumexp(torch.stack(logits), 0)
        return total / x.shape[0]

    return (one_way(a, b) + one_way(b, a)) / 2 if symmetric else one_way(a, b)


@pytest.mark.parametrize("backend", ["reference", "streaming"])
@pytest.mark.parametrize("normalize, symmetric", [(True, False), (False, False), (True, True)])
def test_matches_the_formula(backend, normalize, symmetric):
    a, b = randn(5, 3, 4, seed=1), randn(5, 3, 4, seed=2)
    loss = SCAV(0.5, symmetric=symmetric, normalize=normalize, backend=backend, tile_size=2)
    assert_same(lambda x, y: loss(x, y), lambda x, y: ref_scav(x, y, 0.5, normalize, symmetric), a, b)


def test_gradcheck_non_negative_and_cold_temperature_finite():
    a = randn(3, 2, 3, seed=3, requires_grad=True)
    b = randn(3, 2, 3, seed=4, requires_grad=True)
    loss = SCAV(0.3, backend="streaming", tile_size=2)
    assert torch.autograd.gradcheck(lambda x, y: loss(x, y), (a, b))
    value = SCAV(1e-6)(a, b)
    assert math.isfinite(float(value.detach())) and float(value.detach()) >= 0


@pytest.mark.parametrize("call, name", [
    (lambda l: l(randn(4, 3, 2), randn(4, 2, 2)), "b"),
    (lambda l: l(randn(4, 3), randn(4, 3)), "a"),
    (lambda l: l(randn(1, 3, 2), randn(1, 3, 2)), "a"),
    (lambda l: l(randn(4, 3, 2), torch.full((4, 3, 2), math.nan)), "b"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call(SCAV())
    with pytest.raises(ValueError, match="temperature"):
        SCAV(temperature=0.0)
