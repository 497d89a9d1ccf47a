"""contrastkit.data: readers, splits and samplers (pandas/pyarrow are imported only when reading files)."""

from .bpr import BPRSampler
from .interactions import Interactions, interactions_from_ids, leave_out_split, read_interactions

__all__ = [
    "BPRSampler",
    "Interactions",
    "interactions_from_ids",
    "leave_out_split",
    "read_interactions",
]
