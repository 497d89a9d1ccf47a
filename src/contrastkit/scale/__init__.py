"""contrastkit.scale: GradCache, gathered negatives across processes, momentum encoder and queue."""

from .distributed import RankRows, all_gather_with_grad, gather_rows, rank, world_size
from .gradcache import GradCache
from .momentum import MomentumEncoder
from .predictor import Predictor
from .queue import MemoryBank, Queue

__all__ = [
    "GradCache",
    "MemoryBank",
    "MomentumEncoder",
    "Predictor",
    "Queue",
    "RankRows",
    "all_gather_with_grad",
    "gather_rows",
    "rank",
    "world_size",
]
