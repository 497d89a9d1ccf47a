"""Views of sentences for contrastive text training.

- :func:`identity_views`: unsupervised SimCSE (Gao, Yao, Chen, 2021, arXiv:2104.08821) feeds the same
  sentence twice; the two views differ only by the encoder's dropout masks, so the encoder must be in
  training mode (see :class:`~contrastkit.encoders.TextEncoder`).
- Word-level augmentations, each seeded by a ``torch.Generator`` and operating on whitespace-separated
  words (tokenizer-independent; words are re-joined with single spaces):

  * :func:`word_deletion`: each word deleted independently with probability ``p``; if every word would go,
    one uniformly chosen word is kept (EDA's random deletion, Wei & Zou, 2019, arXiv:1901.11196;
    also CLEAR's word deletion, Wu et al., 2020, arXiv:2012.15466).
  * :func:`span_cutoff`: one contiguous span of ``max(1, floor(ratio * L))`` words, at a uniform start,
    removed (the text form of Shen et al.'s span cutoff, 2020, arXiv:2009.13818); texts of one word
    are unchanged.
  * :func:`word_shuffle`: a uniform random permutation of the words (ConSERT's token shuffle, Yan et
    al., 2021, arXiv:2105.11741, applied to words).

Texts with no words (empty or whitespace only) are returned unchanged by every augmentation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError(f"texts: expected a list of strings, got {type(texts).__name__}")
    if any(not isinstance(t, str) for t in texts):
        raise ValueError("texts: expected strings only")
    return list(texts)


def _check_probability(name: str, p: float, *, closed: bool) -> float:
    ok = 0.0 <= p <= 1.0 if closed else 0.0 <= p < 1.0
    if not ok:
        raise ValueError(f"{name}: expected a probability in [0, 1{']' if closed else ')'}, got {p!r}")
    return float(p)


def identity_views(texts: Sequence[str], num_views: int = 2) -> list[list[str]]:
    """``num_views`` copies of ``texts`` (dropout noise in the encoder makes them different views)."""
    texts = _check_texts(texts)
    if int(num_views) != num_views or num_views < 1:
        raise ValueError(f"num_views: expected a positive integer, got {num_views!r}")
    return [list(texts) for _ in range(num_views)]


def word_deletion(texts: Sequence[str], p: float = 0.1, *,
                  generator: torch.Generator | None = None) -> list[str]:
    """Delete each word with probability ``p`` in ``[0, 1)``, keeping at least one word per text."""
    texts, p = _check_texts(texts), _check_probability("p", p, closed=False)
    out = []
    for text in texts:
        words = text.split()
        if not words:
            out.append(text)
            continue
        keep = torch.rand(len(words), generator=generator) >= p
        if not bool(keep.any()):
            keep[int(torch.randint(len(words), (1,), generator=generator))] = True
        out.append(" ".join(w for w, k in zip(words, keep.tolist()) if k))
    return out


def span_cutoff(texts: Sequence[str], ratio: float = 0.1, *,
                generator: torch.Generator | None = None) -> list[str]:
    """Remove one contiguous span of ``max(1, floor(ratio * L))`` words (``ratio`` in ``[0, 1)``, 0 = none).

    The span never covers the whole text: at most ``L - 1`` words go.
    """
    texts, ratio = _check_texts(texts), _check_probability("ratio", ratio, closed=False)
    out = []
    for text in texts:
        words = text.split()
        if len(words) < 2 or ratio == 0.0:
            out.append(text)
            continue
        length = min(max(1, math.floor(ratio * len(words))), len(words) - 1)
        start = int(torch.randint(len(words) - length + 1, (1,), generator=generator))
        out.append(" ".join(words[:start] + words[start + length:]))
    return out


def word_shuffle(texts: Sequence[str], *, generator: torch.Generator | None = None) -> list[str]:
    """Permute the words of each text uniformly at random."""
    texts = _check_texts(texts)
    out = []
    for text in texts:
        words = text.split()
        if not words:
            out.append(text)
            continue
        order = torch.randperm(len(words), generator=generator).tolist()
        out.append(" ".join(words[i] for i in order))
    return out


TEXT_AUGMENTATIONS = {"word_deletion": word_deletion, "span_cutoff": span_cutoff,
                      "word_shuffle": word_shuffle}


class TextViews:
    """View generator ``views(texts, generator) -> num_views lists of texts``.

    Each view applies ``augmentations`` in order, a mapping from a name of :data:`TEXT_AUGMENTATIONS`
    to its keyword arguments, e.g. ``{"word_deletion": {"p": 0.1}}``. With no augmentation the views
    are identical copies: unsupervised SimCSE, where the encoder's dropout makes them differ.
    """

    def __init__(self, augmentations: Mapping[str, Mapping[str, Any]] | None = None, num_views: int = 2):
        augmentations = dict(augmentations or {})
        unknown = sorted(set(augmentations) - set(TEXT_AUGMENTATIONS))
        if unknown:
            raise ValueError(f"augmentations: unknown {unknown}; expected names from "
                             f"{sorted(TEXT_AUGMENTATIONS)}")
        for name, options in augmentations.items():  # validate the options once
            TEXT_AUGMENTATIONS[name](["a b"], **dict(options))
        identity_views([], num_views)
        self.augmentations, self.num_views = augmentations, int(num_views)

    def __call__(self, texts: Sequence[str], generator: torch.Generator | None = None) -> list[list[str]]:
        views = identity_views(texts, self.num_views)
        for name, options in self.augmentations.items():
            views = [TEXT_AUGMENTATIONS[name](view, generator=generator, **dict(options)) for view in views]
        return views
