"""LightGCLContrastive and bpr_loss against loops written from docs/formulas.md, LightGCL
(current official code)."""

import math

import pytest
import torch

from contrastkit.losses import LightGCLContrastive, bpr_loss
from tests.helpers import assert_close, assert_low_precision_matches_float32, assert_same, randn


def ref_node_terms(svd_view, main_view, index, tau):
    """Per anchor b: -clamp(<g_u, e_u>/tau, -5, 5) + log(sum over ALL nodes u' e^{<g_u, e_u'>/tau} + 1e-8)."""
    terms = []
    for u in index.tolist():
        positive = torch.clamp(svd_view[u] @ main_view[u] / tau, -5.0, 5.0)
        total = sum(torch.exp(svd_view[u] @ main_view[w] / tau) for w in range(main_view.shape[0]))
        terms.append(-positive + torch.log(total + 1e-8))
    return torch.stack(terms)


def ref_lightgcl(users_svd, users, user_index, items_svd, items, item_index, tau):
    return (ref_node_terms(users_svd, users, user_index, tau).mean()
            + ref_node_terms(items_svd, items, item_index, tau).mean())


def ref_bpr(users, positive_items, negative_items):
    return torch.stack([
        -torch.log(torch.sigmoid(users[b] @ positive_items[b] - users[b] @ negative_items[b]))
        for b in range(users.shape[0])
    ]).mean()


def graph_inputs(num_users, num_items, d, seed, spread=0.3):
    tables = [spread * randn(k, d, seed=seed + s) for s, k in
              enumerate((num_users, num_users, num_items, num_items))]
    g = torch.Generator().manual_seed(seed)
    user_index = torch.randint(0, num_users, (5,), generator=g)
    item_index = torch.randint(0, num_items, (6,), generator=g)  # duplicates count, like pos ++ neg
    return tables, user_index, item_index


@pytest.mark.parametrize("num_users, num_items, d", [(3, 4, 2), (7, 9, 5)])
@pytest.mark.parametrize("tau, spread", [(0.2, 0.3), (0.5, 1.0), (0.2, 2.0)])
def test_lightgcl_matches_reference_values_and_gradients(num_users, num_items, d, tau, spread):
    tables, user_index, item_index = graph_inputs(num_users, num_items, d, seed=d, spread=spread)
    loss = LightGCLContrastive(temperature=tau)

    def ours(us, u, its, i):
        return loss(us, u, user_index, its, i, item_index)

    def ref(us, u, its, i):
        return ref_lightgcl(us, u, user_index, its, i, item_index, tau)

    assert_same(ours, ref, *tables)


def test_clamp_of_the_positive_logit_is_active_and_stops_its_gradient():
    # Large aligned embeddings: <g_u, e_u>/tau >> 5, so the positive term is -5 with no gradient.
    e = 3 * randn(4, 3, seed=10)
    index = torch.tensor([0, 2])
    terms = LightGCLContrastive(temperature=0.2, reduction="none")(e, e, index, e, e, index)
    assert_close(terms[:2], ref_node_terms(e, e, index, 0.2))
    assert torch.all((e[index] * e[index]).sum(1) / 0.2 > 5)
    unclamped = -(e[index] * e[index]).sum(1) / 0.2 + torch.logsumexp(e[index] @ e.T / 0.2, dim=1)
    assert not torch.allclose(terms[:2], unclamped)


def test_log_offset_matters_for_tiny_denominators():
    # All logits near -20: sum e^{s} ~ 1e-8, so the official +1e-8 changes the value.
    g = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    e = torch.tensor([[-4.0, 0.0], [-4.0, 0.0]], dtype=torch.float64)
    index = torch.tensor([0])
    terms = LightGCLContrastive(temperature=0.2, reduction="none")(g, e[:1], index, g, e[:1], index)
    expected = 5.0 + math.log(math.exp(-20.0) + 1e-8)  # -clamp(-20) = 5
    assert_close(terms, torch.tensor([expected, expected], dtype=torch.float64))


def test_reductions_and_normalize_option():
    tables, user_index, item_index = graph_inputs(5, 6, 3, seed=20)
    args = (tables[0], tables[1], user_index, tables[2], tables[3], item_index)
    terms = LightGCLContrastive(reduction="none")(*args)
    assert terms.shape == (11,)
    assert_close(LightGCLContrastive(reduction="sum")(*args), terms.sum())
    assert_close(LightGCLContrastive()(*args), terms[:5].mean() + terms[5:].mean())
    unit_tables = [t / t.norm(dim=1, keepdim=True) for t in tables]
    assert_close(LightGCLContrastive(normalize=True)(*args),
                 ref_lightgcl(unit_tables[0], unit_tables[1], user_index, unit_tables[2],
                              unit_tables[3], item_index, 0.2))


def test_gradcheck_lightgcl_and_bpr():
    tables, user_index, item_index = graph_inputs(4, 3, 2, seed=30)
    tables = tuple(t.requires_grad_(True) for t in tables)
    loss = LightGCLContrastive(temperature=0.5)
    assert torch.autograd.gradcheck(
        lambda us, u, its, i: loss(us, u, user_index, its, i, item_index), tables)
    triples = tuple(randn(5, 3, seed=31 + k, requires_grad=True) for k in range(3))
    assert torch.autograd.gradcheck(bpr_loss, triples)


@pytest.mark.parametrize("b, d", [(1, 2), (6, 4)])
def test_bpr_matches_reference(b, d):
    triples = tuple(randn(b, d, seed=40 + k) for k in range(3))
    assert_same(bpr_loss, ref_bpr, *triples)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_small_temperature_is_finite(dtype):
    tables, user_index, item_index = graph_inputs(32, 24, 8, seed=50, spread=1.0)
    tables = [t.to(dtype) for t in tables]
    loss = LightGCLContrastive(temperature=0.01)
    assert_low_precision_matches_float32(
        lambda u, u_svd, i, i_svd: loss(u, u_svd, user_index, i, i_svd, item_index), *tables)
    assert_low_precision_matches_float32(lambda u, i: bpr_loss(u[:5], i[:5], i[5:10]), tables[1], tables[3])


def good_args():
    tables, user_index, item_index = graph_inputs(4, 5, 3, seed=60)
    return [tables[0], tables[1], user_index, tables[2], tables[3], item_index]


def replaced(position, value):
    args = good_args()
    args[position] = value
    return args


@pytest.mark.parametrize("args, match", [
    (replaced(1, randn(5, 3)), "users"),
    (replaced(0, randn(4, 2)), "users"),  # "users: shape .. does not match users_svd's"
    (replaced(4, randn(5, 2)), "items"),
    (replaced(3, randn(5)), "items_svd"),
    (replaced(2, torch.tensor([0, 4])), "user_index"),
    (replaced(2, torch.tensor([-1])), "user_index"),
    (replaced(5, torch.tensor([0.0, 1.0])), "item_index"),
    (replaced(5, torch.tensor([[0, 1]])), "item_index"),
    (replaced(5, torch.tensor([], dtype=torch.long)), "item_index"),
    (replaced(1, torch.full((4, 3), float("nan"))), "users"),
])
def test_lightgcl_bad_input(args, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        LightGCLContrastive()(*args)


@pytest.mark.parametrize("args, match", [
    ((randn(4, 3), randn(5, 3), randn(4, 3)), "positive_items"),
    ((randn(4, 3), randn(4, 3), randn(4, 2)), "negative_items"),
    ((randn(4), randn(4), randn(4)), "users"),
    ((randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([1]), float("inf")), randn(4, 3)),
     "positive_items"),
])
def test_bpr_bad_input(args, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        bpr_loss(*args)


def test_bad_temperature():
    for bad in (0.0, -0.2, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            LightGCLContrastive(temperature=bad)
