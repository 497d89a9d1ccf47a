"""contrastkit.scale: GradCache, gathered negatives across processes, momentum encoder and queue."""

from .distributed import RankRows, all_gather_with_grad, gather_rows, rank, world_size
from .gradcache import GradCache

__all__ = [
    "GradCache",
    "RankRows",
    "all_gather_with_grad",
    "gather_rows",
    "rank",
    "world_size",
]
