"""The contrastive objective catalogue: each loss a short formula over :mod:`contrastkit.engine`."""

from .clip import CLIPLoss
from .infonce import InfoNCE
from .ntxent import NTXent
from .siglip import SigLIP
from .supcon import SupCon
from .triplet import TripletMargin

__all__ = [
    "CLIPLoss",
    "InfoNCE",
    "NTXent",
    "SigLIP",
    "SupCon",
    "TripletMargin",
]
