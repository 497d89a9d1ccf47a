"""The contrastive objective catalogue: each loss a short formula over :mod:`contrastkit.engine`."""

from .geometry import alignment, uniformity
from .infonce import InfoNCE
from .ntxent import NTXent

__all__ = [
    "InfoNCE",
    "NTXent",
    "alignment",
    "uniformity",
]
