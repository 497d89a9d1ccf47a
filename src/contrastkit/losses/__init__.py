"""The contrastive objective catalogue: each loss a short formula over :mod:`contrastkit.engine`."""

from .clan import CLAN
from .clip import CLIPLoss
from .dcl import DCL, DCLW
from .debiased import DebiasedContrastive, HardNegativeContrastive
from .dhel import DHEL, KCL
from .geometry import alignment, uniformity
from .infonce import InfoNCE
from .lightgcl import LightGCLContrastive, bpr_loss
from .macl import MACL
from .mean_shifted import MeanShifted, mean_shifted_center
from .multiview import MVDHEL, MultiViewInfoNCE, PolyView
from .ntxent import NTXent
from .pairwise_clip import PairwiseCLIP
from .siglip import SigLIP
from .simcse import SupervisedSimCSE
from .supcon import SupCon
from .triplet import TripletMargin
from .weighted_infonce import WeightedInfoNCE

__all__ = [
    "CLAN",
    "DCL",
    "DCLW",
    "DHEL",
    "KCL",
    "MACL",
    "MVDHEL",
    "CLIPLoss",
    "DebiasedContrastive",
    "HardNegativeContrastive",
    "InfoNCE",
    "LightGCLContrastive",
    "MeanShifted",
    "MultiViewInfoNCE",
    "NTXent",
    "PairwiseCLIP",
    "PolyView",
    "SigLIP",
    "SupCon",
    "SupervisedSimCSE",
    "TripletMargin",
    "WeightedInfoNCE",
    "alignment",
    "bpr_loss",
    "mean_shifted_center",
    "uniformity",
]
