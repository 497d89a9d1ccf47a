"""WeightedInfoNCE (GCL) against a per-anchor loop written from the GCL paper, arXiv:2404.08535."""

import math

import pytest
import torch

from contrastkit.losses import InfoNCE, WeightedInfoNCE
from tests.helpers import assert_close, assert_low_precision_matches_float32, grads, randn, unit


def ref_weighted_infonce(query, document, weights, tau, normalizer="sum_weights"):
    """Naive float64 loop: sum_i w_i [-s_ii + log sum_j e^{s_ij}] / (sum w or N), s = cos / tau."""
    q, k = unit(query), unit(document)
    n = q.shape[0]
    total = 0.0
    for i in range(n):
        denominator = sum(torch.exp(q[i] @ k[j] / tau) for j in range(n))
        total = total + weights[i] * (-(q[i] @ k[i]) / tau + torch.log(denominator))
    return total / (weights.sum() if normalizer == "sum_weights" else n)


def positive_weights(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=g, dtype=torch.float64) * 2


@pytest.mark.parametrize("n, d", [(2, 3), (4, 3), (9, 6)])
@pytest.mark.parametrize("tau, normalizer", [(0.05, "sum_weights"), (0.3, "sum_weights"), (0.1, "batch")])
def test_weighted_infonce_matches_reference_values_and_gradients(n, d, tau, normalizer):
    q, k, w = randn(n, d, seed=n), randn(n, d, seed=n + 1), positive_weights(n, seed=n)
    loss = WeightedInfoNCE(temperature=tau, normalizer=normalizer)
    value, g = grads(loss, q, k, w)
    ref_value, ref_g = grads(lambda *x: ref_weighted_infonce(*x, tau, normalizer), q, k, w)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):  # includes the gradient with respect to the weights
        assert_close(a, b)


def test_zero_weights_drop_pairs_and_unit_weights_give_infonce():
    q, k = randn(6, 4, seed=10), randn(6, 4, seed=11)
    assert_close(WeightedInfoNCE(temperature=0.1)(q, k, torch.ones(6)), InfoNCE(temperature=0.1)(q, k))
    w = torch.tensor([1.0, 0.0, 2.0, 0.0, 0.5, 1.0], dtype=torch.float64)
    per_pair = InfoNCE(temperature=0.1, reduction="none")(q, k)
    assert_close(WeightedInfoNCE(temperature=0.1)(q, k, w), (w * per_pair).sum() / w.sum())
    assert_close(WeightedInfoNCE(temperature=0.1, normalizer="batch")(q, k, w), (w * per_pair).mean())
    assert_close(WeightedInfoNCE(temperature=0.1, reduction="none")(q, k, w), w * per_pair)
    assert_close(WeightedInfoNCE(temperature=0.1, reduction="sum")(q, k, w), (w * per_pair).sum())


def test_closed_form_identical_rows():
    # All logits equal: each term is log N whatever the weights; with normalizer="batch" the
    # value is log N * sum(w) / N.
    z = torch.ones(4, 3, dtype=torch.float64)
    w = torch.tensor([1.0, 3.0, 0.0, 2.0])
    assert_close(WeightedInfoNCE()(z, z, w), math.log(4))
    assert_close(WeightedInfoNCE(normalizer="batch")(z, z, w), math.log(4) * 6 / 4)


def test_gradcheck_weighted_infonce():
    q, k = randn(4, 3, seed=20, requires_grad=True), randn(4, 3, seed=21, requires_grad=True)
    w = positive_weights(4, seed=22).requires_grad_(True)
    assert torch.autograd.gradcheck(WeightedInfoNCE(temperature=0.5), (q, k, w))


def test_learnable_temperature_and_integer_weights():
    loss = WeightedInfoNCE(learnable_temperature=True)
    q, k = randn(5, 4, seed=30, dtype=torch.float32), randn(5, 4, seed=31, dtype=torch.float32)
    loss(q, k, torch.tensor([1, 2, 3, 4, 5])).backward()
    assert loss.temperature.log_temperature.grad is not None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_small_temperature_is_finite(dtype):
    q, k = randn(32, 8, seed=40, dtype=dtype), randn(32, 8, seed=41, dtype=dtype)
    weights = positive_weights(32, seed=42).to(dtype)
    loss = WeightedInfoNCE(temperature=0.01)
    assert_low_precision_matches_float32(lambda a, b: loss(a, b, weights), q, k)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3), torch.ones(4)), "document"),
    (lambda l: l(randn(4, 3), randn(4, 2), torch.ones(4)), "document"),
    (lambda l: l(randn(4), randn(4), torch.ones(4)), "query"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3), torch.ones(4)), "query"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.ones(3)), "weights"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.ones(4, 1)), "weights"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.tensor([1.0, -1.0, 1.0, 1.0])), "weights"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.tensor([1.0, float("nan"), 1.0, 1.0])), "weights"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.zeros(4)), "weights"),
    (lambda l: l(randn(4, 3), randn(4, 3), torch.ones(4, dtype=torch.bool)), "weights"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(WeightedInfoNCE())


def test_all_zero_weights_are_allowed_with_batch_normalizer():
    out = WeightedInfoNCE(normalizer="batch")(randn(3, 2), randn(3, 2, seed=1), torch.zeros(3))
    assert_close(out, 0.0)


def test_bad_hyper_parameters():
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            WeightedInfoNCE(temperature=bad)
    with pytest.raises(ValueError, match=r"^normalizer:"):
        WeightedInfoNCE(normalizer="mean")
