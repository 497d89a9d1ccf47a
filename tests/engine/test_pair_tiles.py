"""The streaming fast path for ``pair_sum`` alone (SigLIP) against the reference backend."""

import pytest
import torch

from contrastkit.engine import PairStructure, _pair_tiles, pair_statistics
from tests.helpers import assert_close, randn, unit


@pytest.mark.parametrize("want", [{"pair_sum"}, {"pair_sum", "col_pair_sum"}, {"col_pair_sum"}])
@pytest.mark.parametrize("rules", ["diagonal", "diagonal+self", "none"])
@pytest.mark.parametrize("tile", [3, 5, 64])
def test_pair_fast_path_equals_reference(monkeypatch, want, rules, tile):
    calls = []
    original = _pair_tiles.pair_forward
    monkeypatch.setattr("contrastkit.engine.streaming.pair_forward",
                        lambda *args, **kw: calls.append(1) or original(*args, **kw))
    n, m, d = 9, 11, 4
    structure = PairStructure(n, m, **({} if rules == "none" else {"pos_index": torch.arange(n)}),
                              **({"self_index": (torch.arange(n) + 2) % m} if "self" in rules else {}))
    leaves = [unit(randn(n, d, seed=1)).requires_grad_(True), unit(randn(m, d, seed=2)).requires_grad_(True),
              torch.tensor(3.0, dtype=torch.float64, requires_grad=True),
              torch.tensor(-2.5, dtype=torch.float64, requires_grad=True)]
    results = []
    for backend in ("reference", "streaming"):
        a, c, scale, bias = leaves
        stats = pair_statistics(a, c, structure, want, scale=scale, bias=bias, backend=backend,
                                tile_size=tile)
        g = torch.Generator().manual_seed(3)
        total = sum((v * torch.randn(v.shape, generator=g, dtype=v.dtype)).sum()
                    for v in stats.as_dict().values())
        results.append((stats.as_dict(), torch.autograd.grad(total, leaves)))
    (ref, ref_grads), (got, got_grads) = results
    for name in ref:
        assert_close(got[name], ref[name])
    for x, y in zip(got_grads, ref_grads):
        assert_close(x, y)
    assert calls  # the fast path ran


def test_large_logits_fall_back_to_the_general_path(monkeypatch):
    monkeypatch.setattr("contrastkit.engine.streaming.pair_forward", None)  # would fail if called
    a, c = randn(4, 3, seed=4), randn(5, 3, seed=5)
    structure = PairStructure(4, 5, pos_index=torch.arange(4))
    kwargs = dict(scale=100.0, bias=-1.0, tile_size=2)
    got = pair_statistics(a, c, structure, {"pair_sum"}, backend="streaming", **kwargs)
    ref = pair_statistics(a, c, structure, {"pair_sum"}, backend="reference", **kwargs)
    assert_close(got.pair_sum, ref.pair_sum)
