"""The contrastive objective catalogue: each loss a short formula over :mod:`contrastkit.engine`."""

from .clan import CLAN
from .clip import CLIPLoss
from .dhel import DHEL, KCL
from .infonce import InfoNCE
from .lightgcl import LightGCLContrastive, bpr_loss
from .macl import MACL
from .ntxent import NTXent
from .siglip import SigLIP
from .simcse import SupervisedSimCSE
from .supcon import SupCon
from .triplet import TripletMargin
from .weighted_infonce import WeightedInfoNCE

__all__ = [
    "CLAN",
    "DHEL",
    "KCL",
    "MACL",
    "CLIPLoss",
    "InfoNCE",
    "LightGCLContrastive",
    "NTXent",
    "SigLIP",
    "SupCon",
    "SupervisedSimCSE",
    "TripletMargin",
    "WeightedInfoNCE",
    "bpr_loss",
]
