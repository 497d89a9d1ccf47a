"""The label fast path of the streaming engine (positives' sum and count from per-class sums)."""

import pytest
import torch

import contrastkit.engine.streaming as streaming
from contrastkit.engine import PairStructure, pair_statistics
from tests.helpers import assert_close, randn

WANT = {"lse_all", "pos_sum", "pos_count"}


def _structure(n, m, seed, pos=True, self_=True):
    g = torch.Generator().manual_seed(seed)
    rules = dict(anchor_labels=torch.randint(-1, 3, (n,), generator=g),
                 candidate_labels=torch.randint(-1, 3, (m,), generator=g))
    if pos:
        rules["pos_index"] = torch.randint(-1, m, (n,), generator=g)
    if self_:
        rules["self_index"] = torch.randint(-1, m, (n,), generator=g)
    return PairStructure(n, m, **rules)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("pos, self_", [(True, True), (False, True), (True, False), (False, False)])
def test_label_fast_path_equals_reference(seed, pos, self_, monkeypatch):
    calls = []
    original = streaming.label_positive_stats
    monkeypatch.setattr(streaming, "label_positive_stats",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    n, m, d = 9 + seed, 11 - seed % 3, 4
    structure = _structure(n, m, seed, pos, self_)
    a, c = randn(n, d, seed=seed), randn(m, d, seed=50 + seed)
    scale = torch.tensor(1.3, dtype=torch.float64)
    results = {}
    for backend in ("reference", "streaming"):
        leaves = [x.clone().requires_grad_(True) for x in (a, c, scale)]
        st = pair_statistics(leaves[0], leaves[1], structure, WANT, scale=leaves[2], backend=backend,
                             tile_size=4)
        finite = torch.isfinite(st.lse_all)
        weights = torch.linspace(0.5, 1.5, n, dtype=torch.float64)
        total = st.lse_all[finite].sum() + (st.pos_sum * weights).sum()
        results[backend] = (st.lse_all, st.pos_sum, st.pos_count,
                            *torch.autograd.grad(total, leaves))
    assert calls, "the label fast path was not taken"
    for got, want in zip(results["streaming"], results["reference"]):
        assert_close(got, want, torch.float64)


def test_label_fast_path_not_taken_with_ids_or_other_statistics(monkeypatch):
    monkeypatch.setattr(streaming, "label_positive_stats",
                        lambda *a, **k: pytest.fail("fast path taken where masks are needed"))
    a = randn(6, 3)
    labels = torch.tensor([0, 1, 0, 1, 2, 2])
    with_ids = PairStructure(6, 6, anchor_labels=labels, candidate_labels=labels,
                             anchor_ids=labels, candidate_ids=labels)
    pair_statistics(a, a, with_ids, WANT, scale=1.0, backend="streaming")
    plain = PairStructure(6, 6, anchor_labels=labels, candidate_labels=labels)
    pair_statistics(a, a, plain, WANT | {"pos_lse"}, scale=1.0, backend="streaming")


def test_candidate_classes_that_no_anchor_has():
    """Candidate labels above every anchor's (and anchors without a label) on the label fast path: the
    per-class table must be sized by both sides (a mutant sizing it by the anchors only survived)."""
    anchor_labels = torch.tensor([0, 1, -1, 0, 1])
    candidate_labels = torch.tensor([0, 3, 1, 2, 3, 0, 4])
    structure = PairStructure(5, 7, anchor_labels=anchor_labels, candidate_labels=candidate_labels)
    a, c = randn(5, 3, seed=1), randn(7, 3, seed=2)
    want = {"pos_sum", "pos_count"}
    fast = pair_statistics(a, c, structure, want, scale=1.0, backend="streaming", tile_size=3)
    reference = pair_statistics(a, c, structure, want, scale=1.0, backend="reference")
    assert_close(fast.pos_sum, reference.pos_sum, torch.float64)
    assert fast.pos_count.tolist() == [2.0, 1.0, 0.0, 2.0, 1.0]  # counted by hand
