"""View generators per modality (image, text, tabular, graph); seeded, batched where possible.

The ``*Views`` classes follow the trainer's protocol ``views(batch, generator) -> list of views``.
"""

from .graph import dropout_edges
from .image import ImageViews
from .tabular import CLANViews, SCARFCorruption, SCARFViews, clan_augment
from .text import TEXT_AUGMENTATIONS, TextViews, identity_views, span_cutoff, word_deletion, word_shuffle

__all__ = [
    "TEXT_AUGMENTATIONS",
    "CLANViews",
    "ImageViews",
    "SCARFCorruption",
    "SCARFViews",
    "TextViews",
    "clan_augment",
    "dropout_edges",
    "identity_views",
    "span_cutoff",
    "word_deletion",
    "word_shuffle",
]
