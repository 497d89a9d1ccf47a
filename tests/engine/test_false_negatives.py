"""Rule 6 (score-based false-negative exclusion): a naive pair loop, streaming == reference, no N x M
mask in the streaming pass, the excluded-pair count, and bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from contrastkit.engine import (
    PairStructure,
    false_negative_ceiling,
    pair_statistics,
    with_ceiling,
)
from contrastkit.engine.false_negatives import positive_scores
from tests.engine.test_reference import random_structure
from tests.engine.test_streaming import SETTINGS, assert_parity, statistics_on_both_backends
from tests.helpers import assert_close, randn, unit

ROW_WANT = ("lse_all", "lse_neg", "pos_sum", "pos_count", "pos_lse", "pair_sum", "fn_count")


def naive_classes(a, c, rn, structure, scale):
    """Per-pair loop: rules 1-5 by their definitions, then rule 6 on ``s_ij > scale * ceiling_i``.
    Returns the logits ``(N, M + K)`` and a list of ``'pos' | 'neg' | 'excl' | 'fn'`` per pair."""
    s = structure
    n, m = a.shape[0], c.shape[0]
    logits = (a @ c.T) * scale
    if rn is not None:
        logits = torch.cat([logits, torch.einsum("nd,nkd->nk", a, rn) * scale], 1)
    classes = []
    for i in range(n):
        row = []
        for j in range(logits.shape[1]):
            extra = j >= m
            if not extra and s.self_index is not None and j == s.self_index[i]:
                kind = "excl"
            elif not extra and s.pos_index is not None and j == s.pos_index[i]:
                kind = "pos"
            elif (not extra and s.anchor_labels is not None and s.candidate_labels[j] >= 0
                  and s.anchor_labels[i] == s.candidate_labels[j]):
                kind = "pos"
            elif (not extra and s.anchor_ids is not None and s.candidate_ids[j] >= 0
                  and s.anchor_ids[i] == s.candidate_ids[j]):
                kind = "excl"
            else:
                kind = "neg"
            if kind == "neg" and s.score_ceiling is not None and logits[i, j] > scale * s.score_ceiling[i]:
                kind = "fn"
            row.append(kind)
        classes.append(row)
    return logits, classes


def lse(xs):
    return torch.logsumexp(torch.stack(xs), 0) if xs else torch.tensor(-math.inf)


def naive_positive_scores(a, c, structure):
    """The positive's unscaled score per anchor, by a loop: designated positive, else label mean."""
    out = []
    for i in range(a.shape[0]):
        p = None if structure.pos_index is None else int(structure.pos_index[i])
        own = None if structure.self_index is None else int(structure.self_index[i])
        if p is not None and p >= 0 and p != own:
            out.append(float(a[i] @ c[p]))
            continue
        scores = []
        if structure.anchor_labels is not None:
            for j in range(c.shape[0]):
                label = structure.candidate_labels[j]
                same = label >= 0 and label == structure.anchor_labels[i]
                if j != own and (same or j == p):
                    scores.append(float(a[i] @ c[j]))
        out.append(sum(scores) / len(scores) if scores else math.nan)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rules", [dict(pos=True), dict(pos=True, self_=True, labels=True, ids=True),
                                   dict(pos=False, labels=True), dict(pos=False, self_=True)])
def test_positive_scores_and_reference_match_the_pair_loop(seed, rules):
    n, m, d, scale = 6, 8, 3, 3.0
    a, c = unit(randn(n, d, seed=seed)), unit(randn(m, d, seed=seed + 1))
    rn = unit(randn(n, 2, d, seed=seed + 2))
    structure = random_structure(n, m, seed, **rules)
    torch.testing.assert_close(positive_scores(a, c, structure), naive_positive_scores(a, c, structure),
                               equal_nan=True)
    ceiling = false_negative_ceiling(a, c, structure, margin=0.3, threshold=0.5)
    filtered = with_ceiling(structure, ceiling)
    logits, classes = naive_classes(a, c, rn, filtered, scale)
    stats = pair_statistics(a, c, filtered, {"lse_all", "lse_neg", "pos_sum", "fn_count"}, scale=scale,
                            row_negatives=rn, backend="reference")
    for i, row in enumerate(classes):
        kept = [logits[i, j] for j, k in enumerate(row) if k in ("pos", "neg")]
        neg = [logits[i, j] for j, k in enumerate(row) if k == "neg"]
        assert_close(stats.lse_all[i], lse(kept))
        assert_close(stats.lse_neg[i, 0], lse(neg))
        assert_close(stats.pos_sum[i], sum((logits[i, j] for j, k in enumerate(row) if k == "pos"),
                                           torch.tensor(0.0, dtype=torch.float64)))
        assert stats.fn_count[i] == row.count("fn")
    assert stats.fn_count.sum() > 0  # the test exercises rule 6


def test_margin_and_threshold_ceilings():
    a, c = unit(randn(5, 4, seed=1)), unit(randn(5, 4, seed=2))
    structure = PairStructure(5, 5, pos_index=torch.arange(5))
    pos = (a * c).sum(1)
    assert_close(false_negative_ceiling(a, c, structure, margin=0.1), pos - 0.1)
    assert_close(false_negative_ceiling(a, c, structure, threshold=0.2),
                 torch.full((5,), 0.2, dtype=torch.float64))
    assert_close(false_negative_ceiling(a, c, structure, margin=0.1, threshold=0.2),
                 torch.minimum(pos - 0.1, torch.tensor(0.2, dtype=torch.float64)))
    assert false_negative_ceiling(a, c, structure) is None
    no_positive = PairStructure(5, 5, self_index=torch.arange(5))
    assert torch.isinf(false_negative_ceiling(a, c, no_positive, margin=0.1)).all()


@st.composite
def ceiling_problems(draw):
    n, m = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    rules = dict(pos=draw(st.booleans()), self_=draw(st.booleans()), labels=draw(st.booleans()),
                 ids=draw(st.booleans()))
    return dict(n=n, m=m, d=draw(st.integers(1, 5)), seed=draw(st.integers(0, 10_000)), rules=rules,
                want=frozenset(draw(st.sets(st.sampled_from(ROW_WANT), min_size=1))),
                tilts=tuple(draw(st.lists(st.sampled_from([1.0, 0.5, -1.0]), min_size=1, max_size=2))),
                bias=draw(st.sampled_from([None, -0.7])), row_negatives=draw(st.integers(0, 3)),
                tile=draw(st.sampled_from([1, 2, 3, 5, 16])), scale=draw(st.sampled_from([0.3, 12.0, 80.0])),
                margin=draw(st.sampled_from([None, 0.0, 0.4, -0.2])),
                threshold=draw(st.sampled_from([None, 0.1, 0.9])))


def run_both(p, dtype):
    n, m, d, seed = p["n"], p["m"], p["d"], p["seed"]
    a = unit(randn(n, d, seed=seed)).to(dtype).requires_grad_(True)
    c = unit(randn(m, d, seed=seed + 1)).to(dtype).requires_grad_(True)
    rn = unit(randn(n, p["row_negatives"], d, seed=seed + 2)).to(dtype).requires_grad_(True) \
        if p["row_negatives"] else None
    scale = torch.tensor(p["scale"], dtype=dtype, requires_grad=True)
    bias = None if p["bias"] is None else torch.tensor(p["bias"], dtype=dtype, requires_grad=True)
    structure = random_structure(n, m, seed, **p["rules"])
    ceiling = false_negative_ceiling(a, c, structure, margin=p["margin"], threshold=p["threshold"])
    structure = with_ceiling(structure, ceiling)
    return statistics_on_both_backends(p, a, c, rn, scale, bias, structure)


@settings(max_examples=120, **SETTINGS)
@given(ceiling_problems())
def test_streaming_equals_reference_with_a_ceiling(p):
    assert_parity(run_both(p, torch.float64), torch.float64)


@pytest.mark.parametrize("tile", [2, 5])
@pytest.mark.parametrize("scale", [5.0, 80.0])  # fixed shift: the fast tiles; online: the general path
def test_streaming_builds_no_full_mask(monkeypatch, tile, scale):
    n, m = 12, 11
    a, c = unit(randn(n, 4, seed=3)), unit(randn(m, 4, seed=4))
    structure = with_ceiling(PairStructure(n, m, pos_index=torch.arange(n) % m),
                             torch.full((n,), 0.2, dtype=torch.float64))
    shapes = []
    original = PairStructure.tile_masks

    def recording(self, r0, r1, c0, c1, device):
        shapes.append((r1 - r0, c1 - c0))
        return original(self, r0, r1, c0, c1, device)

    monkeypatch.setattr(PairStructure, "tile_masks", recording)
    stats = pair_statistics(a.requires_grad_(True), c, structure, {"lse_all", "pos_sum", "fn_count"},
                            scale=scale, backend="streaming", tile_size=tile)
    (stats.lse_all - stats.pos_sum).sum().backward()
    assert max((r * k for r, k in shapes), default=0) <= tile * tile
    assert bool(shapes) == (scale > 30)  # the fast tiles need no mask at all
    assert stats.fn_count.sum() > 0


def test_excluded_candidates_leave_the_denominator():
    """Hand-made case: anchor 0's candidate 1 is a near-duplicate of its positive."""
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    c = unit(torch.tensor([[1.0, 0.0], [1.0, 0.05], [0.0, 1.0]], dtype=torch.float64))
    structure = PairStructure(1, 3, pos_index=torch.tensor([0]))
    ceiling = false_negative_ceiling(a, c, structure, margin=0.01)
    for backend in ("reference", "streaming"):
        stats = pair_statistics(a, c, with_ceiling(structure, ceiling), {"lse_all", "fn_count"}, scale=2.0,
                                backend=backend)
        assert_close(stats.lse_all, torch.logsumexp(torch.tensor([2.0, 0.0], dtype=torch.float64), 0)[None])
        assert stats.fn_count.tolist() == [1.0]


@pytest.mark.parametrize("kwargs, name", [
    (dict(margin=float("nan")), "false_negative_margin"),
    (dict(margin=float("inf")), "false_negative_margin"),
    (dict(threshold=-float("inf")), "false_negative_threshold"),
    (dict(threshold="0.5"), "false_negative_threshold"),
])
def test_non_finite_options_are_rejected(kwargs, name):
    a = randn(3, 2)
    with pytest.raises(ValueError, match=name):
        false_negative_ceiling(a, a, PairStructure(3, 3, pos_index=torch.arange(3)), **kwargs)


def test_ceiling_rejects_nan_column_statistics_and_non_positive_scale():
    a = randn(3, 2)
    with pytest.raises(ValueError, match="score_ceiling"):
        PairStructure(3, 3, score_ceiling=torch.tensor([0.0, math.nan, 1.0]))
    structure = PairStructure(3, 3, pos_index=torch.arange(3), score_ceiling=torch.zeros(3))
    with pytest.raises(ValueError, match="want"):
        pair_statistics(a, a, structure, {"lse_all", "col_lse_all"}, scale=1.0)
    with pytest.raises(ValueError, match="scale"):
        pair_statistics(a, a, structure, {"lse_all"}, scale=-1.0)


@pytest.mark.parametrize("tilts", [(0.5,), (2.0, 0.5), (0.5, 1.0)])
@pytest.mark.parametrize("rules", [dict(pos=True, self_=True), dict(pos=False, self_=True)])
def test_fast_tiles_take_the_ceiling_from_any_positive_tilt(tilts, rules):
    """The fast tiles see exp(g * s - shift): rule 6 must be read through the tilt g."""
    n, m = 10, 12
    a, c = unit(randn(n, 3, seed=5)), unit(randn(m, 3, seed=6))
    structure = random_structure(n, m, 7, **rules)
    structure = with_ceiling(structure, torch.linspace(-0.5, 0.6, n, dtype=torch.float64))
    got, ref = (pair_statistics(a, c, structure, {"lse_neg", "fn_count"}, scale=4.0, tilts=tilts,
                                backend=backend, tile_size=4) for backend in ("streaming", "reference"))
    assert_close(got.lse_neg, ref.lse_neg)
    assert torch.equal(got.fn_count, ref.fn_count) and ref.fn_count.sum() > 0


@pytest.mark.parametrize("temperature", [1e6, 1e7, 1e9])
def test_exclusions_survive_very_high_temperatures(temperature):
    """At tau >= ~1e6 the scaled scores differ by < 1e-6: their float32 exponentials round equal, so
    the streaming ceiling must compare logits (it once dropped every exclusion there)."""
    from contrastkit.losses import InfoNCE

    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, 4, generator=generator), torch.randn(8, 4, generator=generator)
    got = {}
    for backend in ("reference", "streaming"):
        loss = InfoNCE(temperature=temperature, false_negative_threshold=0.3, backend=backend)
        got[backend] = (float(loss(q, k)), int(loss.false_negative_count))
    assert got["reference"][1] > 0
    assert got["streaming"][1] == got["reference"][1]
    assert math.isclose(got["streaming"][0], got["reference"][0], rel_tol=1e-5)
