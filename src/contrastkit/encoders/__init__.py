"""Encoders and projection heads, and saving/loading them as folders.

:class:`SmallCNN` (small images), :class:`MLP`, :class:`ProjectionHead` (SimCLR's g),
:class:`ContrastiveModel` (encoder + head), :func:`save_module` / :func:`load_module`; text
(Hugging Face + pooling, :class:`TextEncoder`) and user-item graph encoders. Importing this package
does not import ``transformers``; the text encoder does so when built.
"""

from .cnn import SmallCNN
from .graph import GraphEmbeddings, GraphEncoder, SVDView, normalized_adjacency, svd_view
from .mlp import MLP, ProjectionHead
from .model import ContrastiveModel
from .pooling import POOLINGS, avg_first_last_pool, cls_pool, max_pool, mean_pool
from .saving import SAVEABLE, load_module, module_config, register_saveable, save_module
from .small_transformer import small_transformer
from .text import TextEncoder

__all__ = [
    "MLP",
    "POOLINGS",
    "SAVEABLE",
    "ContrastiveModel",
    "GraphEmbeddings",
    "GraphEncoder",
    "ProjectionHead",
    "SVDView",
    "SmallCNN",
    "TextEncoder",
    "avg_first_last_pool",
    "cls_pool",
    "load_module",
    "max_pool",
    "mean_pool",
    "module_config",
    "normalized_adjacency",
    "register_saveable",
    "save_module",
    "small_transformer",
    "svd_view",
]
