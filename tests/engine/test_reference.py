"""The reference engine against a per-pair Python loop that applies the classification rules."""

import math

import pytest
import torch

from contrastkit.engine import ALL_STATS, PairStructure, pair_statistics
from tests.helpers import assert_close, randint, randn


def classify(structure, i, j):
    """Return 'pos', 'neg' or 'excl' for one pair, straight from the documented precedence."""
    s = structure
    if s.self_index is not None and s.self_index[i] == j:
        return "excl"
    if s.pos_index is not None and s.pos_index[i] == j:
        return "pos"
    if s.anchor_labels is not None and s.candidate_labels[j] >= 0 and \
            s.anchor_labels[i] == s.candidate_labels[j]:
        return "pos"
    if s.anchor_ids is not None and s.candidate_ids[j] >= 0 and s.anchor_ids[i] == s.candidate_ids[j]:
        return "excl"
    return "neg"


def lse(values):
    if not values:
        return -math.inf
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def softplus(x):
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def naive_stats(a, c, structure, scale, tilts, bias, row_negatives):
    n, m = a.shape[0], c.shape[0]
    s = [[float(a[i] @ c[j]) * scale for j in range(m)] for i in range(n)]
    cls = [[classify(structure, i, j) for j in range(m)] for i in range(n)]
    extra = [[] for _ in range(n)]
    if row_negatives is not None:
        extra = [[float(a[i] @ row_negatives[i, k]) * scale for k in range(row_negatives.shape[1])]
                 for i in range(n)]

    def reduce(logits, classes, extra_neg):
        pos = [x for x, k in zip(logits, classes) if k == "pos"]
        neg = [x for x, k in zip(logits, classes) if k == "neg"] + extra_neg
        return {
            "lse_all": lse(pos + neg),
            "lse_neg": [lse([g * x for x in neg]) for g in tilts],
            "pos_sum": sum(pos),
            "pos_count": float(len(pos)),
            "pos_lse": lse(pos),
            "pair_sum": sum(softplus(-(x + bias)) for x in pos) + sum(softplus(x + bias) for x in neg),
        }

    rows = [reduce(s[i], cls[i], extra[i]) for i in range(n)]
    cols = [reduce([s[i][j] for i in range(n)], [cls[i][j] for i in range(n)], []) for j in range(m)]
    out = {k: torch.tensor([r[k] for r in rows], dtype=torch.float64) for k in rows[0]}
    out.update({"col_" + k: torch.tensor([r[k] for r in cols], dtype=torch.float64) for k in cols[0]})
    return out


def random_structure(n, m, seed, *, pos=True, self_=False, labels=False, ids=False):
    g = torch.Generator().manual_seed(seed)
    rules = {}
    if pos:
        rules["pos_index"] = torch.randint(-1, m, (n,), generator=g)
    if self_:
        rules["self_index"] = torch.randint(-1, m, (n,), generator=g)
    if labels:
        rules["anchor_labels"] = torch.randint(0, 3, (n,), generator=g)
        rules["candidate_labels"] = torch.randint(-1, 3, (m,), generator=g)
    if ids:
        rules["anchor_ids"] = torch.randint(0, 4, (n,), generator=g)
        rules["candidate_ids"] = torch.randint(-1, 4, (m,), generator=g)
    return PairStructure(n, m, **rules)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rules", [
    dict(pos=True),
    dict(pos=True, self_=True),
    dict(pos=False, labels=True),
    dict(pos=True, self_=True, labels=True, ids=True),
    dict(pos=False, ids=True),
])
def test_reference_matches_pair_loop(seed, rules):
    n, m, d = 5 + seed % 3, 7 - seed % 2, 4
    a, c = randn(n, d, seed=seed), randn(m, d, seed=100 + seed)
    rn = randn(n, 2, d, seed=200 + seed) if seed % 2 else None
    structure = random_structure(n, m, seed, **rules)
    tilts, bias, scale = (1.0, 0.5, 2.0), -0.7, 1.3
    got = pair_statistics(a, c, structure, ALL_STATS, scale=scale, tilts=tilts, bias=bias,
                          row_negatives=rn, backend="reference")
    want = naive_stats(a, c, structure, scale, tilts, bias, rn)
    for name, expected in want.items():
        actual = getattr(got, name)
        if name.endswith("lse_neg"):
            expected = expected.reshape(actual.shape)
        assert_close(actual, expected, torch.float64)


def test_empty_sets_give_minus_inf_and_finite_gradients():
    a = randn(3, 4, requires_grad=True)
    c = randn(2, 4, seed=1, requires_grad=True)
    structure = PairStructure(3, 2, self_index=torch.tensor([0, 1, -1]),
                              anchor_ids=torch.tensor([5, 5, 6]), candidate_ids=torch.tensor([5, 5]))
    stats = pair_statistics(a, c, structure, {"lse_all", "pos_lse"}, scale=1.0, backend="reference")
    assert torch.isinf(stats.lse_all[:2]).all() and torch.isfinite(stats.lse_all[2])
    assert torch.isinf(stats.pos_lse).all()
    stats.lse_all[2].backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(c.grad).all()


def test_bf16_small_temperature_does_not_overflow():
    a = randn(64, 16, dtype=torch.bfloat16)
    a = a / a.float().norm(dim=1, keepdim=True).to(torch.bfloat16)
    structure = PairStructure(64, 64, pos_index=torch.arange(64))
    stats = pair_statistics(a, a, structure, {"lse_all", "lse_neg"}, scale=100.0, tilts=(1.0, 3.0),
                            backend="reference")
    assert stats.lse_all.dtype == torch.float32
    assert torch.isfinite(stats.lse_all).all() and torch.isfinite(stats.lse_neg).all()
    # A naive exp of the same logits overflows float32 and bfloat16 alike.
    assert torch.isinf(torch.exp(3.0 * 100.0 * (a.float() @ a.float().T))).any()


def test_gradcheck_all_row_and_column_stats():
    a = randn(4, 3, requires_grad=True)
    c = randn(5, 3, seed=1, requires_grad=True)
    scale = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
    structure = random_structure(4, 5, 3, pos=True, labels=True)

    def fn(a, c, scale, bias):
        st = pair_statistics(a, c, structure, ("lse_all", "lse_neg", "pos_sum", "pair_sum",
                                               "col_lse_all", "col_pair_sum"),
                             scale=scale, bias=bias, tilts=(1.0, 0.5), backend="reference")
        finite = torch.isfinite(st.lse_neg)
        return (st.lse_all.sum() + st.lse_neg[finite].sum() + st.pos_sum.sum() + st.pair_sum.sum()
                + st.col_lse_all[torch.isfinite(st.col_lse_all)].sum() + st.col_pair_sum.sum())

    assert torch.autograd.gradcheck(fn, (a, c, scale, bias))


@pytest.mark.parametrize("kwargs, match", [
    (dict(want={"nope"}), "want"),
    (dict(want=set()), "want"),
    (dict(tilts=()), "tilts"),
    (dict(backend="fast"), "backend"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    a = randn(3, 2)
    args = dict(want={"lse_all"}, scale=1.0)
    args.update(kwargs)
    want = args.pop("want")
    with pytest.raises(ValueError, match=match):
        pair_statistics(a, a, PairStructure(3, 3), want, **args)


def test_shape_errors():
    a, c = randn(3, 2), randn(4, 3)
    with pytest.raises(ValueError, match="candidates"):
        pair_statistics(a, c, PairStructure(3, 4), {"lse_all"}, scale=1.0)
    with pytest.raises(ValueError, match="structure"):
        pair_statistics(a, randn(4, 2), PairStructure(3, 3), {"lse_all"}, scale=1.0)
    with pytest.raises(ValueError, match="pos_index"):
        PairStructure(3, 3, pos_index=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="row_negatives"):
        pair_statistics(a, a, PairStructure(3, 3), {"lse_all"}, scale=1.0,
                        row_negatives=randn(2, 1, 2))
    with pytest.raises(ValueError, match="candidate_labels"):
        PairStructure(3, 3, anchor_labels=randint(2, 3))
