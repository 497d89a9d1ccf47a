"""contrastkit.encoders: text (Hugging Face + pooling) and user-item graph encoders.

Importing this package does not import ``transformers``; the text encoder does so when built.
"""

from .graph import GraphEmbeddings, GraphEncoder, SVDView, normalized_adjacency, svd_view
from .pooling import POOLINGS, avg_first_last_pool, cls_pool, max_pool, mean_pool
from .small_transformer import small_transformer
from .text import TextEncoder

__all__ = [
    "POOLINGS",
    "GraphEmbeddings",
    "GraphEncoder",
    "SVDView",
    "TextEncoder",
    "avg_first_last_pool",
    "cls_pool",
    "max_pool",
    "mean_pool",
    "normalized_adjacency",
    "small_transformer",
    "svd_view",
]
