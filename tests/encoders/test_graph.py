"""Graph encoder against dense float64 references on tiny graphs (the encoder itself stays sparse)."""

import pytest
import torch

from contrastkit.encoders import GraphEncoder, normalized_adjacency, svd_view
from tests.helpers import assert_close, randint

NUM_USERS, NUM_ITEMS = 7, 5


def _edges(seed=0, count=20):
    users, items = randint(NUM_USERS, count, seed=seed), randint(NUM_ITEMS, count, seed=seed + 100)
    users[:2], items[:2] = torch.tensor([3, 3]), torch.tensor([1, 1])  # a duplicated interaction
    return users, items


def _dense_normalized(users, items):
    a = torch.zeros(NUM_USERS, NUM_ITEMS, dtype=torch.float64)
    for u, i in zip(users.tolist(), items.tolist()):
        a[u, i] = 1.0
    deg_u, deg_i = a.sum(1), a.sum(0)
    out = torch.zeros_like(a)
    for u in range(NUM_USERS):
        for i in range(NUM_ITEMS):
            if a[u, i]:
                out[u, i] = 1.0 / (deg_u[u] * deg_i[i]).sqrt()
    return out


def _dense_reference(a, e_u0, e_i0, layers, combine, svd=None):
    e_u, e_i, g_u, g_i = [e_u0], [e_i0], [e_u0], [e_i0]
    for _ in range(layers):
        if svd is not None:
            u_s, v_s, u, v = svd
            g_u.append(u_s @ v.T @ e_i[-1])
            g_i.append(v_s @ u.T @ e_u[-1])
        e_u, e_i = [*e_u, a @ e_i[-1]], [*e_i, a.T @ e_u[-1]]
    reduce = (lambda xs: sum(xs) / len(xs)) if combine == "mean" else sum
    return reduce(e_u), reduce(e_i), reduce(g_u), reduce(g_i)


def test_normalized_adjacency_matches_dense_reference():
    users, items = _edges()
    a = normalized_adjacency(users, items, NUM_USERS, NUM_ITEMS, dtype=torch.float64)
    assert a.is_sparse and a.is_coalesced()
    assert_close(a.to_dense(), _dense_normalized(users, items))


@pytest.mark.parametrize("combine", ["sum", "mean"])
@pytest.mark.parametrize("layers", [0, 1, 3])
def test_propagation_and_gradients_match_dense_reference(combine, layers):
    users, items = _edges(seed=1)
    encoder = GraphEncoder(users, items, NUM_USERS, NUM_ITEMS, dim=4, num_layers=layers,
                           layer_combination=combine, svd_rank=3).double()
    out = encoder()
    a = encoder.adjacency.to_dense()  # built in float32, then cast: compare the propagation on it
    assert_close(a, _dense_normalized(users, items), rtol=1e-6, atol=1e-7)
    svd = (encoder.svd_u_s, encoder.svd_v_s, encoder.svd_u, encoder.svd_v)
    e_u0 = encoder.user_embedding.detach().clone().requires_grad_(True)
    e_i0 = encoder.item_embedding.detach().clone().requires_grad_(True)
    ref = _dense_reference(a, e_u0, e_i0, layers, combine, svd)
    for got, expected in zip(out, ref):
        assert_close(got, expected)
    weights = [torch.linspace(-1, 1, t.numel(), dtype=torch.float64).view_as(t) for t in ref]
    sum((w * t).sum() for w, t in zip(weights, out)).backward()
    sum((w * t).sum() for w, t in zip(weights, ref)).backward()
    assert_close(encoder.user_embedding.grad, e_u0.grad)
    assert_close(encoder.item_embedding.grad, e_i0.grad)


def test_full_rank_svd_reconstructs_the_matrix_and_its_view_equals_the_main_view():
    users, items = _edges(seed=2, count=25)
    a = normalized_adjacency(users, items, NUM_USERS, NUM_ITEMS, dtype=torch.float64)
    factors = svd_view(a, NUM_ITEMS)
    dense = a.to_dense()
    assert_close(factors.u_s @ factors.v.T, dense, atol=1e-9)
    assert_close((factors.u_s / factors.u).mean(0), torch.linalg.svdvals(dense), atol=1e-9)
    encoder = GraphEncoder(users, items, NUM_USERS, NUM_ITEMS, dim=3, svd_rank=NUM_ITEMS).double()
    out = encoder()
    assert_close(out.user_svd, out.user, rtol=1e-5, atol=1e-5)  # its SVD ran in float32
    assert_close(out.item_svd, out.item, rtol=1e-5, atol=1e-5)


def test_low_rank_svd_is_close_to_the_best_rank_q_approximation():
    g = torch.Generator().manual_seed(0)
    users, items = torch.randint(30, (150,), generator=g), torch.randint(20, (150,), generator=g)
    a = normalized_adjacency(users, items, 30, 20, dtype=torch.float64)
    singular = torch.linalg.svdvals(a.to_dense())
    for q in (2, 5):
        f = svd_view(a, q, seed=0)
        error = torch.linalg.matrix_norm(f.u_s @ f.v.T - a.to_dense())
        assert error <= 1.05 * singular[q:].norm()  # Eckart-Young optimum, randomized within 5%
        assert torch.equal(svd_view(a, q, seed=0).u_s, f.u_s)  # seeded


def test_edge_dropout_only_in_training_and_seeded():
    users, items = _edges(seed=3, count=30)
    encoder = GraphEncoder(users, items, NUM_USERS, NUM_ITEMS, dim=4, edge_dropout=0.5, svd_rank=None)
    encoder.eval()
    assert torch.equal(encoder().user, encoder().user)
    encoder.train()
    first = encoder(torch.Generator().manual_seed(1))
    again = encoder(torch.Generator().manual_seed(1))
    other = encoder(torch.Generator().manual_seed(2))
    assert torch.equal(first.user, again.user) and not torch.equal(first.user, other.user)
    assert first.user_svd is None


def test_never_builds_a_dense_adjacency(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("dense adjacency materialised")

    monkeypatch.setattr(torch.Tensor, "to_dense", refuse)
    users, items = _edges(seed=4)
    encoder = GraphEncoder(users, items, NUM_USERS, NUM_ITEMS, dim=4, edge_dropout=0.2, svd_rank=2)
    encoder().user.sum().backward()


def test_state_dict_holds_only_the_embeddings():
    users, items = _edges()
    encoder = GraphEncoder(users, items, NUM_USERS, NUM_ITEMS, dim=4)
    assert set(encoder.state_dict()) == {"user_embedding", "item_embedding"}


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(dim=0), "dim"), (dict(num_layers=-1), "num_layers"),
    (dict(layer_combination="max"), "layer_combination"), (dict(edge_dropout=1.0), "edge_dropout"),
    (dict(svd_rank=6), "rank"), (dict(num_users=0), "num_users"),
])
def test_bad_construction(kwargs, name):
    users, items = _edges()
    args = dict(num_users=NUM_USERS, num_items=NUM_ITEMS) | kwargs
    with pytest.raises(ValueError, match=name):
        GraphEncoder(users, items, **args)


def test_bad_indices():
    users, items = _edges()
    with pytest.raises(ValueError, match="users"):
        normalized_adjacency(users.float(), items, NUM_USERS, NUM_ITEMS)
    with pytest.raises(ValueError, match="items"):
        normalized_adjacency(users, items + NUM_ITEMS, NUM_USERS, NUM_ITEMS)
    with pytest.raises(ValueError, match="items"):
        normalized_adjacency(users, items[:-1], NUM_USERS, NUM_ITEMS)
