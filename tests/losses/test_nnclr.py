"""NNCLR against a float64 loop (nearest neighbour by cosine, then InfoNCE), and its support queue:
empty start, FIFO update, state dict resume, both backends, bad input."""

import pytest
import torch

from contrastkit.losses import NNCLR, InfoNCE
from contrastkit.scale.neighbours import nearest_neighbours
from tests.helpers import assert_close, assert_same, randn, unit

TAU = 0.2


def ref_nnclr(z1, z2, p1, p2, support):
    """Eq. 2 of Dwibedi et al., both directions averaged; ``support`` rows are stored embeddings."""
    s = unit(support)

    def direction(z, p):
        z, p = unit(z), unit(p)
        total = 0.0
        for i in range(z.shape[0]):
            best = max(range(s.shape[0]), key=lambda k: float(z[i] @ s[k]))
            nn = s[best]
            logits = torch.stack([nn @ p[k] / TAU for k in range(p.shape[0])])
            total = total + torch.logsumexp(logits, 0) - logits[i]
        return total / z.shape[0]

    return 0.5 * (direction(z1, p2) + direction(z2, p1))


def loaded(dim, support, **kw):
    loss = NNCLR(dim, support_size=16, temperature=TAU, **kw).double()
    loss.support.push(support)
    return loss


@pytest.mark.parametrize("backend", ["reference", "streaming"])
def test_matches_the_loop_with_predictions(backend):
    support = randn(7, 4, seed=1)
    z1, z2, p1, p2 = (randn(5, 4, seed=s) for s in (2, 3, 4, 5))
    loss = loaded(4, support, backend=backend, tile_size=2)
    # the neighbours carry no gradient: the predictions do
    assert_same(lambda c, d: loss(z1, z2, c, d, update=False),
                lambda c, d: ref_nnclr(z1, z2, c, d, support), p1, p2)


def test_without_predictions_the_other_embedding_is_the_candidate():
    support = randn(6, 3, seed=6)
    z1, z2 = randn(4, 3, seed=7), randn(4, 3, seed=8)
    assert_close(loaded(3, support)(z1, z2, update=False), ref_nnclr(z1, z2, z1, z2, support))


def test_empty_support_is_symmetric_infonce_of_the_views():
    z1, z2 = randn(5, 3, seed=9), randn(5, 3, seed=10)
    got = NNCLR(3, support_size=8, temperature=TAU).double()(z1, z2)
    infonce = InfoNCE(TAU)
    assert_close(got, 0.5 * (infonce(z1, z2) + infonce(z2, z1)))


def test_support_is_a_fifo_of_the_first_view_and_resumes_from_the_state_dict():
    a = NNCLR(3, support_size=6, temperature=TAU).double()
    batches = [(randn(4, 3, seed=20 + s), randn(4, 3, seed=40 + s)) for s in range(4)]
    for z1, z2 in batches[:2]:
        a(z1, z2)
    stored, _ = a.support.negatives()
    assert_close(stored, unit(torch.cat([batches[0][0][2:], batches[1][0]])))  # the last 6 rows of z1
    b = NNCLR(3, support_size=6, temperature=TAU).double()
    b.load_state_dict(a.state_dict())
    for z1, z2 in batches[2:]:
        assert_close(b(z1, z2), a(z1, z2))


def test_nearest_neighbours_in_blocks():
    q, s = randn(11, 4, seed=11), randn(9, 4, seed=12)
    expected = (q @ s.T).argmax(1)
    assert torch.equal(nearest_neighbours(q, s, block_rows=3), expected)
    with pytest.raises(ValueError, match="support"):
        nearest_neighbours(q, s[:0])


@pytest.mark.parametrize("kwargs, name", [
    (dict(dim=3, support_size=0), "support_size"), (dict(dim=0), "dim"),
    (dict(dim=3, temperature=0.0), "temperature")])
def test_bad_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NNCLR(**kwargs)


def test_bad_inputs():
    loss = NNCLR(3, support_size=4)
    with pytest.raises(ValueError, match="z2"):
        loss(randn(4, 3), randn(5, 3))
    with pytest.raises(ValueError, match="p2"):
        loss(randn(4, 3), randn(4, 3), randn(4, 3), randn(3, 3))


def test_one_instance_raises_instead_of_a_silent_zero():
    # issue 14 item 3: with N = 1 there is no negative; the loss used to return 0.0 with zero gradient
    with pytest.raises(ValueError, match=r"^z1: expected at least 2"):
        NNCLR(dim=4, support_size=8)(randn(1, 4, seed=1), randn(1, 4, seed=2))
