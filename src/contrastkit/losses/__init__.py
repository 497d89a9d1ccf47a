"""The contrastive objective catalogue: each loss a short formula over :mod:`contrastkit.engine`."""

from .dcl import DCL, DCLW
from .debiased import DebiasedContrastive, HardNegativeContrastive
from .infonce import InfoNCE
from .mean_shifted import MeanShifted, mean_shifted_center
from .multiview import MVDHEL, MultiViewInfoNCE, PolyView
from .ntxent import NTXent

__all__ = [
    "DCL",
    "DCLW",
    "MVDHEL",
    "DebiasedContrastive",
    "HardNegativeContrastive",
    "InfoNCE",
    "MeanShifted",
    "MultiViewInfoNCE",
    "NTXent",
    "PolyView",
    "mean_shifted_center",
]
