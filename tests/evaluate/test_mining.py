"""Hard-negative mining against a brute-force reference; filters; FAISS parity; `contrastkit mine`."""

import json
import math
import subprocess
import sys

import pytest
import torch

from contrastkit.evaluate.mining import mine_hard_negatives


def _reference(a, p, c, k, exclude, margin, threshold):
    """Plain Python, float64: score every candidate, filter, sort by (-score, index)."""
    a, p, c = (torch.nn.functional.normalize(x.double(), dim=1) for x in (a, p, c))
    out = []
    for i in range(a.shape[0]):
        pos = float(a[i] @ p[i])
        kept = [(float(a[i] @ c[j]), j) for j in range(c.shape[0]) if j not in exclude[i]]
        kept = [(s, j) for s, j in kept if s <= pos - margin and s <= threshold]
        out.append([j for _, j in sorted(kept, key=lambda t: (-t[0], t[1]))[:k]])
    return out


@pytest.mark.parametrize("margin, threshold", [(None, None), (0.0, None), (0.1, 0.3), (None, 0.2)])
@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_matches_the_reference(margin, threshold, chunk_size):
    g = torch.Generator().manual_seed(0)
    a, p, c = (torch.randn(n, 8, generator=g) for n in (23, 23, 41))
    exclude = [[i % 41, (3 * i) % 41] for i in range(23)]
    got = mine_hard_negatives(a, p, c, 5, exclude=exclude, margin=margin, threshold=threshold,
                              chunk_size=chunk_size)
    inf = math.inf
    assert got == _reference(a, p, c, 5, exclude, inf if margin is None else margin,
                             inf if threshold is None else threshold)
    if threshold is not None:
        assert any(len(row) < 5 for row in got)  # the filter bites on this data


def test_faiss_gives_the_same_negatives():
    pytest.importorskip("faiss")
    g = torch.Generator().manual_seed(1)
    a, p, c = (torch.randn(n, 16, generator=g) for n in (30, 30, 200))
    exclude = [[i, i + 1] for i in range(30)]
    for margin, threshold in ((None, None), (0.05, 0.25)):
        exact = mine_hard_negatives(a, p, c, 4, exclude=exclude, margin=margin, threshold=threshold)
        assert mine_hard_negatives(a, p, c, 4, exclude=exclude, margin=margin, threshold=threshold,
                                   backend="faiss") == exact


def test_bad_arguments_name_themselves():
    x = torch.randn(4, 3)
    for kwargs, match in (({"margin": float("nan")}, "margin"), ({"threshold": float("inf")}, "threshold"),
                          ({"exclude": [[0]]}, "exclude")):
        with pytest.raises(ValueError, match=match):
            mine_hard_negatives(x, x, x, 2, **kwargs)
    with pytest.raises(ValueError, match="positives"):
        mine_hard_negatives(x, x[:3], x, 2)
    with pytest.raises(ValueError, match="k"):
        mine_hard_negatives(x, x, x, 0)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "contrastkit", "mine", *map(str, args), "--quiet"],
                          capture_output=True, text=True)


def test_cli_writes_negatives_and_refuses_bad_input(minilm_path, tmp_path):
    texts = [("How do I bake bread?", "Mix flour, water, yeast; knead and bake.", 1),
             ("bread baking steps", "Knead the dough, let it rise, then bake it.", 1),
             ("How to make a cake?", "Whisk eggs, sugar and flour, then bake.", 2),
             ("Fix a flat tyre", "Patch the inner tube and pump it up.", 3),
             ("Where is Paris?", "Paris is the capital of France.", 4)]
    rows = [{"anchor": a, "positive": p, "t": t} for a, p, t in texts]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "mined.jsonl"
    done = _cli(minilm_path, pairs, out, "-k", "2", "--group-column", "t", "--margin", "0")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    mined = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["t"] for r in mined] == [1, 1, 2, 3, 4]  # every input column kept
    assert rows[1]["positive"] not in mined[0]["negatives"]  # same group: not a negative
    assert rows[2]["positive"] == mined[0]["negatives"][0]  # the cake recipe is the hardest negative
    assert all(r["positive"] not in r["negatives"] and len(r["negatives"]) <= 2 for r in mined)
    csv_out = tmp_path / "mined.csv"
    assert _cli(minilm_path, pairs, csv_out, "-k", "1").returncode == 0
    assert "negatives" in csv_out.read_text().splitlines()[0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"anchor": "a", "positive": "b"}) + "\n" + json.dumps({"anchor": "c"}) + "\n")
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    for args, match in (((minilm_path, bad, tmp_path / "x.jsonl"), "positive: row 1"),
                        ((minilm_path, pairs, tmp_path / "x.jsonl", "--margin", "nan"), "margin"),
                        ((not_a_model, pairs, tmp_path / "x.jsonl"), "not a transformers model folder")):
        done = _cli(*args)
        assert done.returncode == 2 and match in done.stderr and done.stderr.count("\n") == 1, done.stderr
        assert not (tmp_path / "x.jsonl").exists()
