"""Every loss of the catalogue gives the same values and gradients on the streaming and the
reference engine. Adding a loss is one row of ``CASES``; rows whose class does not exist yet skip."""

import pytest
import torch

import contrastkit.losses as losses
from tests.helpers import assert_close, randint, randn

N, D = 7, 5  # 7 rows: tiles of 3 leave a ragged last tile


def two(seed):
    return (randn(N, D, seed=seed), randn(N, D, seed=seed + 1)), {}


def views(seed, v=3):
    return (randn(N, v, D, seed=seed),), {}


CASES = [
    # (id, class name, constructor options, inputs(seed) -> (args, kwargs))
    ("infonce", "InfoNCE", {}, two),
    ("infonce-symmetric", "InfoNCE", dict(symmetric=True), two),
    ("infonce-cold", "InfoNCE", dict(temperature=0.005), two),  # logits past the fixed-shift limit
    ("infonce-labels", "InfoNCE", dict(symmetric=True),
     lambda s: (two(s)[0], dict(labels=randint(3, N, seed=s)))),
    ("infonce-ids", "InfoNCE", {}, lambda s: (two(s)[0], dict(ids=randint(4, N, seed=s)))),
    ("infonce-shared-negatives", "InfoNCE", dict(learnable_temperature=True),
     lambda s: (two(s)[0], dict(negatives=randn(4, D, seed=s + 7), ids=randint(4, N, seed=s),
                                negative_ids=randint(6, 4, seed=s + 1)))),
    ("infonce-per-anchor-negatives", "InfoNCE", dict(reduction="none", normalize=False),
     lambda s: (two(s)[0], dict(negatives=randn(N, 3, D, seed=s + 7)))),
    ("ntxent", "NTXent", {}, two),
    ("ntxent-learnable", "NTXent", dict(temperature=0.1, learnable_temperature=True), two),
    ("clip", "CLIPLoss", {}, two),
    ("siglip", "SigLIP", {}, two),
    ("supcon", "SupCon", {}, lambda s: ((randn(N, D, seed=s), randint(3, N, seed=s)), {})),
    ("supcon-views", "SupCon", {}, lambda s: ((randn(N, 2, D, seed=s), randint(3, N, seed=s)), {})),
    ("dcl", "DCL", {}, two),
    ("dclw", "DCLW", {}, two),
    ("debiased", "DebiasedContrastive", {}, two),
    ("hard-negative", "HardNegativeContrastive", dict(beta=2.0), two),
    ("multiview-infonce", "MultiViewInfoNCE", {}, views),
    ("mvdhel", "MVDHEL", {}, views),
    ("polyview", "PolyView", {}, views),
    ("mean-shifted", "MeanShifted", {},
     lambda s: ((randn(N, D, seed=s), randn(N, D, seed=s + 1), randn(D, seed=s + 2)), {})),
]


def values_and_gradients(loss, args, kwargs):
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in args]
    extra = {k: (v.detach().clone().requires_grad_(True) if v.is_floating_point() else v)
             for k, v in kwargs.items()}
    out = loss(*leaves, **extra)
    inputs = [x for x in [*leaves, *extra.values()] if x.requires_grad] + list(loss.parameters())
    weights = randn(*out.shape, seed=99) if out.dim() else torch.tensor(1.0, dtype=torch.float64)
    grads = torch.autograd.grad((out * weights.to(out.dtype)).sum(), inputs, allow_unused=True)
    return out.detach(), grads


@pytest.mark.parametrize("tile", [3, 64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_streaming_matches_reference(case, tile):
    _, name, options, make_inputs = case
    cls = getattr(losses, name, None)
    if cls is None:
        pytest.skip(f"contrastkit.losses.{name} does not exist yet")
    args, kwargs = make_inputs(11)
    reference = cls(**options, backend="reference")
    streaming = cls(**options, backend="streaming", tile_size=tile)
    streaming.load_state_dict(reference.state_dict())
    ref_value, ref_grads = values_and_gradients(reference, args, kwargs)
    got_value, got_grads = values_and_gradients(streaming, args, kwargs)
    assert torch.isfinite(ref_value).all()
    assert_close(got_value, ref_value, torch.float64)
    assert len(got_grads) == len(ref_grads)
    for got, expected in zip(got_grads, ref_grads):
        if expected is None:
            assert got is None
        else:
            assert_close(got, expected, torch.float64)
