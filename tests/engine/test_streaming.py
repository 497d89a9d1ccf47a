"""The streaming backend against the materialised reference: every statistic, rule, tile size and dtype.

The reference backend is itself checked against a per-pair loop (tests/engine/test_reference.py);
here the two engines are compared on random problems drawn by hypothesis, in values and gradients.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contrastkit.engine import (
    ALL_STATS,
    PairStructure,
    materialised_bytes,
    pair_statistics,
    resolve_backend,
    streaming_pair_statistics,
)
from contrastkit.engine.streaming import StreamingPairStatistics, StreamingPlan, logit_bound
from tests.engine.test_reference import random_structure
from tests.helpers import assert_close, randn

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    n = draw(st.integers(1, 11))
    m = draw(st.integers(1, 11))
    rules = dict(pos=draw(st.booleans()), self_=draw(st.booleans()), labels=draw(st.booleans()),
                 ids=draw(st.booleans()))
    want = draw(st.sets(st.sampled_from(ALL_STATS), min_size=1))
    return dict(
        n=n, m=m, d=draw(st.integers(1, 5)), seed=draw(st.integers(0, 10_000)), rules=rules,
        want=frozenset(want),
        tilts=tuple(draw(st.lists(st.sampled_from([1.0, 0.5, 2.0, 0.0, -1.0]), min_size=1, max_size=3))),
        bias=draw(st.sampled_from([None, -0.7, 2.0])),
        row_negatives=draw(st.integers(0, 3)),
        # a tile of 1, sizes that divide nothing in particular, and one >= N and M
        tile=draw(st.sampled_from([1, 2, 3, 5, 7, 16])),
        # small scales use the fixed shift, large ones the online maximum
        scale=draw(st.sampled_from([0.3, 1.7, 12.0, 80.0])),
    )


def weighted_sum(stats, seed):
    """A random linear functional of every finite, differentiable output (so every gradient counts)."""
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    for name, value in sorted(stats.as_dict().items()):
        if name.endswith("pos_count"):
            continue
        w = torch.randn(value.shape, generator=g, dtype=torch.float64).to(value.dtype)
        total = total + torch.where(torch.isfinite(value), value * w, 0.0).sum()
    return total


def run_both(p, dtype, scale_grad=True):
    n, m, d, seed = p["n"], p["m"], p["d"], p["seed"]
    a = randn(n, d, seed=seed, dtype=dtype, requires_grad=True)
    c = randn(m, d, seed=seed + 1, dtype=dtype, requires_grad=True)
    rn = randn(n, p["row_negatives"], d, seed=seed + 2, dtype=dtype, requires_grad=True) \
        if p["row_negatives"] else None
    scale = torch.tensor(p["scale"], dtype=dtype, requires_grad=scale_grad)
    bias = None if p["bias"] is None else torch.tensor(p["bias"], dtype=dtype, requires_grad=True)
    structure = random_structure(n, m, seed, **p["rules"])
    return statistics_on_both_backends(p, a, c, rn, scale, bias, structure)


def statistics_on_both_backends(p, a, c, rn, scale, bias, structure) -> dict:
    """``{backend: (statistics, gradients of a seeded weighted sum w.r.t. the inputs that need
    them)}`` for the reference and streaming backends on one drawn problem ``p``."""
    leaves = [x for x in (a, c, rn, scale, bias) if x is not None and x.requires_grad]
    results = {}
    for backend in ("reference", "streaming"):
        stats = pair_statistics(a, c, structure, p["want"], scale=scale, tilts=p["tilts"], bias=bias,
                                row_negatives=rn, backend=backend, tile_size=p["tile"])
        loss = weighted_sum(stats, p["seed"])
        differentiable = isinstance(loss, torch.Tensor) and loss.requires_grad
        grads = torch.autograd.grad(loss, leaves, allow_unused=True) if differentiable \
            else [None] * len(leaves)
        results[backend] = stats.as_dict(), grads
    return results


def assert_parity(results, dtype, **tol):
    (ref_stats, ref_grads), (got_stats, got_grads) = results["reference"], results["streaming"]
    assert ref_stats.keys() == got_stats.keys()
    for name, expected in ref_stats.items():
        assert got_stats[name].dtype == expected.dtype, name
        assert_close(got_stats[name], expected, dtype, **tol)
    for got, expected in zip(got_grads, ref_grads):
        if expected is None or got is None:  # not in the graph: a zero gradient
            other = expected if got is None else got
            assert other is None or not other.any()
        else:
            assert_close(got, expected, dtype, **tol)


@settings(max_examples=150, **SETTINGS)
@given(problems())
def test_streaming_equals_reference_float64(p):
    assert_parity(run_both(p, torch.float64), torch.float64)


@settings(max_examples=60, **SETTINGS)
@given(problems())
def test_streaming_equals_reference_float32(p):
    # both engines round the logits in float32: absolute error grows with the logits' magnitude
    bound = p["scale"] * 25 * max(1.0, *map(abs, p["tilts"]))
    assert_parity(run_both(p, torch.float32), torch.float32, rtol=1e-5, atol=2e-7 * bound)


@pytest.mark.parametrize("tile", [1, 3, 64])
def test_same_tensor_as_anchors_and_candidates(tile):
    """NT-Xent passes ``z, z``: both gradient paths must add up into the one leaf."""
    n = 6
    rows = torch.arange(n)
    structure = PairStructure(n, n, pos_index=(rows + n // 2) % n, self_index=rows)
    z = randn(n, 4, seed=3)
    out = {}
    for backend in ("reference", "streaming"):
        leaf = z.clone().requires_grad_(True)
        stats = pair_statistics(leaf, leaf, structure, {"lse_all", "pos_sum", "col_lse_all"}, scale=2.0,
                                backend=backend, tile_size=tile)
        (stats.lse_all - stats.pos_sum + stats.col_lse_all).sum().backward()
        out[backend] = leaf.grad
    assert_close(out["streaming"], out["reference"])


def test_gradcheck_through_the_streaming_function():
    a = randn(5, 3, requires_grad=True)
    c = randn(4, 3, seed=1, requires_grad=True)
    rn = randn(5, 2, 3, seed=2, requires_grad=True)
    scale = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
    structure = random_structure(5, 4, 3, pos=True, self_=True, labels=True, ids=True)
    want = frozenset(ALL_STATS)
    for bound in (2.0, math.inf):  # fixed shift, then online maximum
        plan = StreamingPlan(structure, frozenset(w for w in want if not w.startswith("col_")),
                             frozenset(w[4:] for w in want if w.startswith("col_")), (1.0, 0.5, 2.0),
                             tile=3, bound=bound)

        def fn(a, c, rn, scale, bias, plan=plan):
            values = StreamingPairStatistics.apply(plan, a, c, rn, scale, bias)
            return tuple(torch.where(torch.isfinite(v), v, 0.0) for v in values)

        assert torch.autograd.gradcheck(fn, (a, c, rn, scale, bias))


def test_empty_sets_give_minus_inf_and_finite_gradients():
    a = randn(3, 4, requires_grad=True)
    c = randn(2, 4, seed=1, requires_grad=True)
    structure = PairStructure(3, 2, self_index=torch.tensor([0, 1, -1]),
                              anchor_ids=torch.tensor([5, 5, 6]), candidate_ids=torch.tensor([5, 5]))
    for scale in (1.0, 500.0):
        stats = pair_statistics(a, c, structure, {"lse_all", "pos_lse", "col_lse_neg"}, scale=scale,
                                backend="streaming", tile_size=1)
        assert torch.isinf(stats.lse_all[:2]).all() and torch.isfinite(stats.lse_all[2])
        assert torch.isinf(stats.pos_lse).all()
        (grad_a, grad_c) = torch.autograd.grad(stats.lse_all[2] + stats.col_lse_neg[0, 0], (a, c))
        assert torch.isfinite(grad_a).all() and torch.isfinite(grad_c).all()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_at_scale_100_is_finite_and_matches_float32(dtype):
    a = randn(50, 16, seed=4)
    a = (a / a.norm(dim=1, keepdim=True)).to(dtype).requires_grad_(True)
    structure = PairStructure(50, 50, pos_index=torch.arange(50))
    want = {"lse_all", "lse_neg", "col_lse_all", "pos_sum"}
    stats = pair_statistics(a, a, structure, want, scale=100.0, tilts=(1.0, 3.0), backend="streaming",
                            tile_size=16)
    assert stats.lse_all.dtype == torch.float32
    ref = pair_statistics(a.float(), a.float(), structure, want, scale=100.0, tilts=(1.0, 3.0),
                          backend="reference")
    for name, value in stats.as_dict().items():
        assert torch.isfinite(value).all()
        assert_close(value, getattr(ref, name), torch.float32, rtol=1e-5, atol=1e-4)
    (grad,) = torch.autograd.grad(stats.lse_all.sum() + stats.col_lse_all.sum(), a)
    assert grad.dtype == dtype and torch.isfinite(grad.float()).all()


def test_large_logits_take_the_online_path_exactly():
    a, c = randn(7, 3, seed=5) * 30, randn(9, 3, seed=6) * 30  # logits in the thousands
    structure = PairStructure(7, 9, pos_index=torch.arange(7))
    assert logit_bound(a, c, None, 1.0) > 1000
    want = {"lse_all", "pos_lse", "col_lse_all"}
    got = streaming_pair_statistics(a, c, structure, frozenset(want), scale=1.0, tile_size=2)
    ref = pair_statistics(a, c, structure, want, scale=1.0, backend="reference")
    for name in want:
        assert torch.isfinite(getattr(got, name)).all()
        assert_close(getattr(got, name), getattr(ref, name))


def test_only_requested_statistics_are_returned():
    a = randn(4, 3)
    stats = pair_statistics(a, a, PairStructure(4, 4, pos_index=torch.arange(4)), {"col_pos_sum"},
                            scale=1.0, backend="streaming")
    assert set(stats.as_dict()) == {"col_pos_sum"}


def test_auto_selection_by_estimated_memory():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", 256, 256, 128, cpu) == "reference"
    assert resolve_backend("auto", 65536, 65536, 128, cpu) == "streaming"
    assert resolve_backend("auto", 0, 65536, 128, cpu) == "reference"
    assert resolve_backend("reference", 65536, 65536, 128, cpu) == "reference"
    assert resolve_backend("streaming", 4, 4, 128, cpu) == "streaming"
    assert materialised_bytes(1000, 2000) > materialised_bytes(1000, 1000)


@pytest.mark.parametrize("tile", [0, -3, 2.5])
def test_bad_tile_size(tile):
    with pytest.raises(ValueError, match="tile_size"):
        pair_statistics(randn(3, 2), randn(3, 2), PairStructure(3, 3), {"lse_all"}, scale=1.0,
                        backend="streaming", tile_size=tile)
