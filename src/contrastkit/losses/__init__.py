"""The contrastive objective catalogue: each loss a short formula over :mod:`contrastkit.engine`."""

from .clip import CLIPLoss
from .dcl import DCL, DCLW
from .debiased import DebiasedContrastive, HardNegativeContrastive
from .infonce import InfoNCE
from .mean_shifted import MeanShifted, mean_shifted_center
from .multiview import MVDHEL, MultiViewInfoNCE, PolyView
from .ntxent import NTXent
from .siglip import SigLIP
from .supcon import SupCon
from .triplet import TripletMargin

__all__ = [
    "DCL",
    "DCLW",
    "MVDHEL",
    "CLIPLoss",
    "DebiasedContrastive",
    "HardNegativeContrastive",
    "InfoNCE",
    "MeanShifted",
    "MultiViewInfoNCE",
    "NTXent",
    "PolyView",
    "SigLIP",
    "SupCon",
    "TripletMargin",
    "mean_shifted_center",
]
