"""Encoders and projection heads, and saving/loading them as folders.

:class:`SmallCNN` (small images), :class:`MLP`, :class:`ProjectionHead` (SimCLR's g),
:class:`ContrastiveModel` (encoder + head), :func:`save_module` / :func:`load_module`.
"""

from .cnn import SmallCNN
from .mlp import MLP, ProjectionHead
from .model import ContrastiveModel
from .saving import SAVEABLE, load_module, module_config, register_saveable, save_module

__all__ = [
    "MLP",
    "SAVEABLE",
    "ContrastiveModel",
    "ProjectionHead",
    "SmallCNN",
    "load_module",
    "module_config",
    "register_saveable",
    "save_module",
]
