"""Captions generated from class labels with templates and synonyms (UniMed-CLIP's label-to-caption idea).

The lists are data, kept in a recipe's ``[captions]`` table, never in code::

    [captions]
    class_names = ["T-shirt/top", "Trouser", ...]          # one per label index
    templates = ["a photo of {}.", "a grey picture of {}.", ...]
    held_out_classes = ["Sneaker", "Bag"]                   # never captioned in training
    [captions.synonyms]
    "Sneaker" = ["a sneaker", "running shoes", "a trainer"]

Each row's caption is one template (chosen uniformly) filled with one name of its class (one of
its synonyms, or the class name when it has none, chosen uniformly), drawn from a NumPy generator
seeded with ``seed``: the same labels and seed give the same captions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

KEYS = ("class_names", "templates", "synonyms", "held_out_classes", "prompt_templates")


@dataclass(frozen=True)
class CaptionSpec:
    """Class names, caption templates (``{}`` marks the name), synonyms per class name, the classes
    held out of training captions, and the zero-shot prompt templates (default: ``templates``)."""

    class_names: tuple[str, ...]
    templates: tuple[str, ...]
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    held_out_classes: tuple[str, ...] = ()
    prompt_templates: tuple[str, ...] = ()

    def __post_init__(self):
        _strings("class_names", self.class_names, minimum=2)
        if len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"class_names: repeated names in {list(self.class_names)}")
        for key in ("templates", "prompt_templates"):
            values = getattr(self, key)
            _strings(key, values, minimum=1 if key == "templates" else 0)
            for i, template in enumerate(values):
                if template.count("{}") != 1:
                    raise ValueError(f"{key}[{i}]: expected one '{{}}' placeholder, got {template!r}")
        if not isinstance(self.synonyms, Mapping):
            raise ValueError(f"synonyms: expected a table class name -> list of names, got "
                             f"{type(self.synonyms).__name__}")
        for name, names in self.synonyms.items():
            if name not in self.class_names:
                raise ValueError(f"synonyms: {name!r} is not one of class_names {list(self.class_names)}")
            _strings(f"synonyms.{name}", names, minimum=1)
        _strings("held_out_classes", self.held_out_classes, minimum=0)
        unknown = [c for c in self.held_out_classes if c not in self.class_names]
        if unknown:
            raise ValueError(f"held_out_classes: {unknown} not in class_names {list(self.class_names)}")
        if len(set(self.held_out_classes)) >= len(self.class_names):
            raise ValueError("held_out_classes: every class is held out; leave at least one")

    @classmethod
    def from_mapping(cls, table: Mapping) -> CaptionSpec:
        """Build from a ``[captions]`` TOML table; an unknown key raises ``ValueError`` naming it."""
        if not isinstance(table, Mapping):
            raise ValueError(f"captions: expected a table, got {type(table).__name__}")
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ValueError(f"captions.{unknown[0]}: unknown key (expected one of {KEYS})")
        if "class_names" not in table or "templates" not in table:
            raise ValueError("captions: needs class_names and templates")
        synonyms = table.get("synonyms", {})
        if isinstance(synonyms, Mapping):
            synonyms = {k: _as_tuple(v) for k, v in synonyms.items()}
        return cls(_as_tuple(table["class_names"]), _as_tuple(table["templates"]), synonyms,
                   _as_tuple(table.get("held_out_classes", ())), _as_tuple(table.get("prompt_templates", ())))

    def names(self) -> list[list[str]]:
        """Per class index, the names a caption may use: its synonyms when listed (they replace the
        class name, so they can carry their own article: "a sneaker", "running shoes"), else the
        class name itself."""
        return [list(dict.fromkeys(self.synonyms.get(c, (c,)))) for c in self.class_names]

    def held_out_indices(self) -> list[int]:
        return sorted({self.class_names.index(c) for c in self.held_out_classes})

    def zero_shot_templates(self) -> tuple[str, ...]:
        return self.prompt_templates or self.templates


def generate_captions(labels, spec: CaptionSpec, seed: int) -> list[str]:
    """One caption per label (``0 <= label < len(spec.class_names)``), deterministic per ``seed``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"labels: expected a 1-D sequence of integers, got shape {labels.shape}, "
                         f"dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(spec.class_names)):
        raise ValueError(f"labels: expected values in [0, {len(spec.class_names)}) (one per class name), "
                         f"got [{labels.min()}, {labels.max()}]")
    names = spec.names()
    generator = np.random.default_rng(seed)
    template_pick = generator.integers(len(spec.templates), size=labels.size)
    name_pick = generator.random(labels.size)  # scaled by each row's number of names
    return [spec.templates[t].replace("{}", names[y][int(u * len(names[y]))])
            for y, t, u in zip(labels.tolist(), template_pick.tolist(), name_pick.tolist())]


def rows_kept(labels, held_out: Sequence[int]) -> np.ndarray:
    """Indices of the rows whose label is not held out (the training rows)."""
    return np.flatnonzero(~np.isin(np.asarray(labels), list(held_out)))


def _as_tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _strings(key: str, values, minimum: int) -> None:
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or len(values) < minimum:
        raise ValueError(f"{key}: expected a list of at least {minimum} strings, got {values!r}")
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key}[{i}]: expected a non-empty string, got {value!r}")
