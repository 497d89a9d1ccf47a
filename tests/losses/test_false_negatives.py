"""``false_negative_margin`` / ``false_negative_threshold`` on every softmax-type loss.

Naive float64 loops written from each formula, with the exclusion rule applied pair by pair
(``cos_ij > cos_i,pos - m`` or ``cos_ij > t``), for InfoNCE (queue negatives, symmetric), NT-Xent,
SupCon, DCL, the debiased estimator, supervised SimCSE (own hard negative) and MV-InfoNCE; for
every loss: streaming == reference, no-op settings == the unfiltered loss, the logged count, and
bad input.
"""

import math

import pytest
import torch

from contrastkit import losses as L
from tests.helpers import assert_close, grads, randint, randn, unit

TAU = 0.5


def pair(n, d, seed, noise=0.6):
    """Two correlated views ``(x, x + noise)``: positives score high, as after some training."""
    x = randn(n, d, seed=seed)
    return x, x + noise * randn(n, d, seed=seed + 100)


def kept(cos_row, kinds, pos_score, margin=None, threshold=None):
    """Indices of the row's candidates that stay (positives, and negatives under the ceiling),
    and the number of negatives the rule excluded."""
    ceiling = math.inf
    pos_score = float(pos_score.detach()) if isinstance(pos_score, torch.Tensor) else pos_score
    if margin is not None:
        ceiling = min(ceiling, float(pos_score) - margin)
    if threshold is not None:
        ceiling = min(ceiling, threshold)
    out, dropped = [], 0
    for j, kind in enumerate(kinds):
        if kind == "neg" and float(cos_row[j].detach()) > ceiling:
            dropped += 1
        elif kind in ("pos", "neg"):
            out.append(j)
    return out, dropped


def lse(xs):
    return torch.logsumexp(torch.stack(list(xs)), 0)


def ref_infonce(q, k, queue, margin=None, threshold=None, symmetric=False):
    q, k = unit(q), unit(k)
    n = q.shape[0]

    def direction(a, b, extra):
        cands = b if extra is None else torch.cat([b, extra])
        cos = a @ cands.T
        out, total = [], 0
        for i in range(n):
            kinds = ["pos" if j == i else "neg" for j in range(cands.shape[0])]
            keep, dropped = kept(cos[i], kinds, cos[i, i], margin, threshold)
            total += dropped
            out.append(lse(cos[i, j] / TAU for j in keep) - cos[i, i] / TAU)
        return torch.stack(out), total

    loss, count = direction(q, k, None if queue is None else unit(queue))
    if symmetric:
        back, extra = direction(k, q, None)
        loss, count = 0.5 * (loss + back), count + extra
    return loss.mean(), count


def ref_two_view(z1, z2, margin=None, threshold=None, decoupled=False):
    """NT-Xent (``decoupled=False``) or DCL over ``[z1; z2]``."""
    z = unit(torch.cat([z1, z2]))
    m = z.shape[0]
    cos = z @ z.T
    out, total = [], 0
    for a in range(m):
        p = (a + m // 2) % m
        kinds = ["excl" if b == a else ("pos" if b == p else "neg") for b in range(m)]
        keep, dropped = kept(cos[a], kinds, cos[a, p], margin, threshold)
        total += dropped
        denominator = [b for b in keep if not (decoupled and b == p)]
        out.append(lse(cos[a, b] / TAU for b in denominator) - cos[a, p] / TAU)
    return torch.stack(out).mean(), total


def ref_supcon(x, labels, margin=None, threshold=None):
    z = unit(x)
    cos = z @ z.T
    out, total = [], 0
    for i in range(z.shape[0]):
        kinds = ["excl" if j == i else ("pos" if labels[j] == labels[i] else "neg") for j in range(len(z))]
        positives = [j for j, kind in enumerate(kinds) if kind == "pos"]
        mean_pos = sum(float(cos[i, j]) for j in positives) / len(positives)
        keep, dropped = kept(cos[i], kinds, mean_pos, margin, threshold)
        total += dropped
        positive = sum(cos[i, j] for j in positives) / TAU / len(positives)
        out.append(lse(cos[i, j] / TAU for j in keep) - positive)
    return torch.stack(out).mean(), total


def ref_debiased(z1, z2, tau_plus, margin=None, threshold=None):
    z = unit(torch.cat([z1, z2]))
    m = z.shape[0]
    cos = z @ z.T
    out = []
    for a in range(m):
        p = (a + m // 2) % m
        kinds = ["excl" if b in (a, p) else "neg" for b in range(m)]
        keep, _ = kept(cos[a], kinds, cos[a, p], margin, threshold)
        n_neg = len(keep)
        pos = torch.exp(cos[a, p] / TAU)
        g = (sum(torch.exp(cos[a, b] / TAU) for b in keep) - tau_plus * n_neg * pos) / (1 - tau_plus)
        g = torch.clamp(g, min=n_neg * math.exp(-1 / TAU))
        out.append(-torch.log(pos / (pos + g)))
    return torch.stack(out).mean()


def ref_simcse(h, hp, hn, weight, margin=None, threshold=None):
    h, hp, hn = unit(h), unit(hp), unit(hn)
    n = h.shape[0]
    out, total = [], 0
    for i in range(n):
        cands = torch.cat([hp, hn])
        cos = cands @ h[i]
        kinds = ["pos" if j == i else "neg" for j in range(2 * n)]
        keep, dropped = kept(cos, kinds, cos[i], margin, threshold)
        total += dropped
        terms = [cos[j] / TAU + (weight if j == n + i else 0.0) for j in keep]
        out.append(lse(terms) - cos[i] / TAU)
    return torch.stack(out).mean(), total


def ref_mv_infonce(views, margin=None, threshold=None):
    x = unit(views)
    n, v, _ = x.shape
    flat = x.reshape(n * v, -1)
    cos = flat @ flat.T
    out = []
    for i in range(n):
        numerator = [cos[i * v + a, i * v + b] / TAU for a in range(v) for b in range(v) if a != b]
        denominators = []
        for a in range(v):
            r = i * v + a
            kinds = ["excl" if c == r else ("pos" if c // v == i else "neg") for c in range(n * v)]
            mean_pos = sum(float(cos[r, i * v + b]) for b in range(v) if b != a) / (v - 1)
            keep, _ = kept(cos[r], kinds, mean_pos, margin, threshold)
            denominators.append(lse(cos[r, c] / TAU for c in keep))
        out.append(lse(denominators) - lse(numerator))
    return torch.stack(out).mean()


OPTIONS = [dict(margin=0.2), dict(threshold=0.3), dict(margin=0.0, threshold=0.5)]


def fn_kwargs(options):
    return {"false_negative_" + k: v for k, v in options.items()}


def check_count(loss, expected):
    assert loss.false_negative_count is not None and int(loss.false_negative_count) == expected
    assert expected > 0  # the case exercises the rule


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("backend", ["reference", "streaming"])
def test_infonce_with_queue(options, symmetric, backend):
    q, k, queue = randn(6, 3, seed=1), randn(6, 3, seed=2), randn(5, 3, seed=3)
    loss = L.InfoNCE(TAU, symmetric=symmetric, backend=backend, tile_size=4, **fn_kwargs(options))
    expected, count = ref_infonce(q, k, queue, symmetric=symmetric, **options)
    got = loss(q, k, negatives=queue)
    assert_close(got, expected)
    check_count(loss, count)
    _, got_grads = grads(lambda a, b, c: loss(a, b, negatives=c), q, k, queue)
    _, ref_grads = grads(lambda a, b, c: ref_infonce(a, b, c, symmetric=symmetric, **options)[0], q, k, queue)
    for g, r in zip(got_grads, ref_grads):
        assert_close(g, r)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("cls, decoupled", [(L.NTXent, False), (L.DCL, True)])
def test_two_view_losses(options, cls, decoupled):
    z1, z2 = pair(5, 3, seed=4)
    loss = cls(TAU, **fn_kwargs(options))
    expected, count = ref_two_view(z1, z2, decoupled=decoupled, **options)
    assert_close(loss(z1, z2), expected)
    check_count(loss, count)
    _, got = grads(loss, z1, z2)
    _, ref = grads(lambda a, b: ref_two_view(a, b, decoupled=decoupled, **options)[0], z1, z2)
    for g, r in zip(got, ref):
        assert_close(g, r)


@pytest.mark.parametrize("options", OPTIONS)
def test_supcon_uses_the_mean_positive_score(options):
    x, labels = randn(8, 3, seed=6), torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    loss = L.SupCon(TAU, **fn_kwargs(options))
    expected, count = ref_supcon(x, labels, **options)
    assert_close(loss(x, labels), expected)
    check_count(loss, count)


@pytest.mark.parametrize("options", [dict(margin=0.4), dict(threshold=0.6)])
def test_debiased_counts_only_the_kept_negatives(options):
    z1, z2 = pair(6, 3, seed=7)
    loss = L.DebiasedContrastive(TAU, tau_plus=0.1, **fn_kwargs(options))
    assert_close(loss(z1, z2), ref_debiased(z1, z2, 0.1, **options))
    assert int(loss.false_negative_count) > 0


@pytest.mark.parametrize("options", OPTIONS)
def test_simcse_own_hard_negative_obeys_the_rule(options):
    h, hp, hn = randn(5, 3, seed=9), randn(5, 3, seed=10), randn(5, 3, seed=11)
    loss = L.SupervisedSimCSE(TAU, hard_negative_weight=0.3, **fn_kwargs(options))
    expected, count = ref_simcse(h, hp, hn, 0.3, **options)
    assert_close(loss(h, hp, hn), expected)
    check_count(loss, count)


@pytest.mark.parametrize("options", OPTIONS)
def test_multiview_infonce_never_excludes_the_instance_views(options):
    views = randn(4, 1, 3, seed=12) + 0.6 * randn(4, 3, 3, seed=13)
    loss = L.MultiViewInfoNCE(TAU, **fn_kwargs(options))
    assert_close(loss(views), ref_mv_infonce(views, **options))
    assert int(loss.false_negative_count) > 0


def two_view(cls, **kw):
    return lambda opts: (cls(TAU, **kw, **opts), lambda l, s: l(*pair(8, 4, seed=s)))


def views(cls, **kw):
    return lambda opts: (cls(TAU, **kw, **opts), lambda l, s: l(
        randn(6, 1, 6, seed=s) + 0.5 * randn(6, 3, 6, seed=s + 1)))


EVERY_LOSS = {
    "InfoNCE": lambda o: (L.InfoNCE(TAU, **o), lambda l, s: l(
        randn(6, 3, seed=s), randn(6, 3, seed=s + 1), negatives=randn(6, 2, 3, seed=s + 2))),
    "InfoNCE-labels": lambda o: (L.InfoNCE(TAU, **o), lambda l, s: l(
        randn(6, 3, seed=s), randn(6, 3, seed=s + 1), labels=randint(3, 6, seed=s))),
    "CLIPLoss": two_view(L.CLIPLoss),
    "NTXent": two_view(L.NTXent),
    "SupCon": lambda o: (L.SupCon(TAU, **o), lambda l, s: l(randn(6, 2, 3, seed=s))),
    "DCL": two_view(L.DCL),
    "DCLW": two_view(L.DCLW),
    "DebiasedContrastive": two_view(L.DebiasedContrastive),
    "HardNegativeContrastive": two_view(L.HardNegativeContrastive),
    "MACL": two_view(L.MACL),
    "MeanShifted": lambda o: (L.MeanShifted(TAU, **o), lambda l, s: l(
        randn(6, 3, seed=s), randn(6, 3, seed=s + 1), randn(3, seed=s + 2) * 0.1)),
    "DHEL": two_view(L.DHEL),
    "SupervisedSimCSE": lambda o: (L.SupervisedSimCSE(TAU, **o), lambda l, s: l(
        randn(6, 3, seed=s), randn(6, 3, seed=s + 1), randn(6, 3, seed=s + 2))),
    "WeightedInfoNCE": lambda o: (L.WeightedInfoNCE(TAU, **o), lambda l, s: l(
        randn(6, 3, seed=s), randn(6, 3, seed=s + 1), randn(6, seed=s + 2).abs())),
    "LightGCLContrastive": lambda o: (L.LightGCLContrastive(TAU, **o), lambda l, s: l(
        randn(5, 3, seed=s), randn(5, 3, seed=s + 1), torch.tensor([0, 2, 4]),
        randn(4, 3, seed=s + 2), randn(4, 3, seed=s + 3), torch.tensor([1, 3]))),
    "MultiViewInfoNCE": views(L.MultiViewInfoNCE),
    "MVDHEL": views(L.MVDHEL),
    "PolyView": views(L.PolyView),
}


@pytest.mark.parametrize("name", sorted(EVERY_LOSS))
def test_every_softmax_loss_filters_the_same_on_both_backends(name):
    values = {}
    for backend in ("reference", "streaming"):
        loss, call = EVERY_LOSS[name](dict(false_negative_margin=0.3, backend=backend, tile_size=4))
        values[backend] = (call(loss, 3), int(loss.false_negative_count))
    assert_close(values["streaming"][0], values["reference"][0])
    assert values["streaming"][1] == values["reference"][1] > 0
    assert torch.isfinite(values["reference"][0])


@pytest.mark.parametrize("name", sorted(EVERY_LOSS))
def test_options_that_exclude_nothing_give_the_unfiltered_loss(name):
    plain, call = EVERY_LOSS[name]({})
    expected = call(plain, 5)
    assert plain.false_negative_count is None
    for options in (dict(false_negative_margin=-1e3), dict(false_negative_threshold=1e3)):
        loss, call = EVERY_LOSS[name](options)
        assert_close(call(loss, 5), expected, rtol=1e-8)  # same pairs, another summation order
        assert int(loss.false_negative_count) == 0


@pytest.mark.parametrize("name", sorted(EVERY_LOSS))
def test_filtering_changes_the_loss_and_keeps_it_finite(name):
    plain, call = EVERY_LOSS[name]({})
    loss, _ = EVERY_LOSS[name](dict(false_negative_margin=0.1))
    filtered = call(loss, 7)
    assert torch.isfinite(filtered) and int(loss.false_negative_count) > 0
    assert not torch.allclose(filtered, call(plain, 7))


def test_gradcheck_infonce_with_margin():
    loss = L.InfoNCE(TAU, false_negative_margin=0.2, backend="streaming", tile_size=2)
    q, k = randn(4, 3, seed=20, requires_grad=True), randn(4, 3, seed=21, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b), (q, k))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("name", ["false_negative_margin", "false_negative_threshold"])
def test_non_finite_options_name_the_argument(name, value):
    with pytest.raises(ValueError, match=name):
        L.InfoNCE(**{name: value})


@pytest.mark.parametrize("cls", [L.SigLIP])
def test_non_softmax_losses_refuse_the_options(cls):
    with pytest.raises(ValueError, match="false_negative_margin"):
        cls(false_negative_margin=0.1)


@pytest.mark.parametrize("cls", [L.DCL, L.DHEL, L.DebiasedContrastive])
def test_excluding_every_negative_of_a_negatives_only_loss_is_an_error(cls):
    loss = cls(TAU, false_negative_threshold=-1.0)
    with pytest.raises(ValueError, match="false_negative_threshold"):
        loss(randn(4, 3, seed=1), randn(4, 3, seed=2))
