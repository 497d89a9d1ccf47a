"""contrastkit.views: view generators per modality (text, tabular, graph); seeded, batched where possible."""

from .graph import dropout_edges
from .tabular import SCARFCorruption, clan_augment
from .text import TEXT_AUGMENTATIONS, identity_views, span_cutoff, word_deletion, word_shuffle

__all__ = [
    "TEXT_AUGMENTATIONS",
    "SCARFCorruption",
    "clan_augment",
    "dropout_edges",
    "identity_views",
    "span_cutoff",
    "word_deletion",
    "word_shuffle",
]
