"""Word-level text views: seeded, order/multiset properties, rates."""

import itertools
import math

import pytest
import torch

from contrastkit.views import TextViews, identity_views, span_cutoff, word_deletion, word_shuffle

SENTENCE = "the quick brown fox jumps over the lazy dog"


def _is_subsequence(short, long):
    it = iter(long)
    return all(word in it for word in short)


def test_identity_views_are_copies():
    texts = ["a b", "c"]
    views = identity_views(texts, num_views=3)
    assert views == [texts] * 3 and views[0] is not texts


def test_word_deletion_rate_order_and_never_empty():
    words = [f"w{k}" for k in range(4000)]
    out = word_deletion([" ".join(words)], p=0.25, generator=torch.Generator().manual_seed(0))[0].split()
    assert _is_subsequence(out, words)
    deleted = 1 - len(out) / len(words)
    assert abs(deleted - 0.25) < 4 * math.sqrt(0.25 * 0.75 / len(words))
    tiny = word_deletion(["one two"] * 200, p=0.99, generator=torch.Generator().manual_seed(1))
    assert all(len(t.split()) >= 1 for t in tiny)
    assert word_deletion([SENTENCE, ""], p=0.0) == [SENTENCE, ""]


def test_span_cutoff_removes_one_contiguous_span():
    words = SENTENCE.split()
    for seed in range(20):
        out = span_cutoff([SENTENCE], ratio=0.35, generator=torch.Generator().manual_seed(seed))[0].split()
        length = math.floor(0.35 * len(words))
        assert len(out) == len(words) - length
        assert any(words[:s] + words[s + length:] == out for s in range(len(words) - length + 1))
    assert span_cutoff(["single"], ratio=0.5) == ["single"]
    assert span_cutoff([SENTENCE], ratio=0.0) == [SENTENCE]
    assert len(span_cutoff(["a b"], ratio=0.9)[0].split()) == 1  # never the whole text


def test_word_shuffle_is_a_uniform_permutation():
    out = word_shuffle(["a b c"] * 3000, generator=torch.Generator().manual_seed(0))
    assert all(sorted(t.split()) == ["a", "b", "c"] for t in out)
    perms = [" ".join(p) for p in itertools.permutations("abc")]
    counts = torch.tensor([out.count(p) for p in perms], dtype=torch.float64)
    assert float(((counts - 500) ** 2 / 500).sum()) < 20.515  # chi-square, 5 dof, 0.1%


def test_seeded():
    texts = [SENTENCE] * 5
    for fn in (word_deletion, span_cutoff, word_shuffle):
        a = fn(texts, generator=torch.Generator().manual_seed(4))
        assert a == fn(texts, generator=torch.Generator().manual_seed(4))


def test_bad_inputs():
    with pytest.raises(ValueError, match="texts"):
        word_shuffle("not a list")
    with pytest.raises(ValueError, match="texts"):
        word_deletion(["ok", None])
    with pytest.raises(ValueError, match="p"):
        word_deletion(["a"], p=1.0)
    with pytest.raises(ValueError, match="ratio"):
        span_cutoff(["a"], ratio=-0.1)
    with pytest.raises(ValueError, match="num_views"):
        identity_views(["a"], num_views=0)


def test_text_views_apply_the_chain_to_each_view():
    texts = [SENTENCE, "one more sentence here"]
    assert TextViews()(texts) == [texts, texts]  # SimCSE: identical inputs, dropout differs
    views = TextViews({"word_shuffle": {}, "span_cutoff": {"ratio": 0.3}}, num_views=3)
    out = views(texts, torch.Generator().manual_seed(0))
    assert len(out) == 3 and all(len(v) == 2 for v in out)
    g = torch.Generator().manual_seed(0)
    shuffled = [word_shuffle(texts, generator=g) for _ in range(3)]  # each step over all views, in order
    assert out == [span_cutoff(view, ratio=0.3, generator=g) for view in shuffled]
    assert len({tuple(v) for v in out}) > 1  # the views differ
    with pytest.raises(ValueError, match="augmentations"):
        TextViews({"back_translation": {}})
    with pytest.raises(ValueError, match="p"):
        TextViews({"word_deletion": {"p": 2.0}})
