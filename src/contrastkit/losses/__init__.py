"""The contrastive objective catalogue: each loss a short formula over :mod:`contrastkit.engine`."""

from .barlow_twins import BarlowTwins
from .claif import CLAIF
from .clan import CLAN
from .clip import CLIPLoss
from .cluster_ns import ClusterNS
from .cpl import CPL
from .dcl import DCL, DCLW
from .dclr import DCLR
from .debiased import DebiasedContrastive, HardNegativeContrastive
from .dhel import DHEL, KCL
from .geometry import alignment, uniformity
from .gml import GML
from .infonce import InfoNCE
from .lightgcl import LightGCLContrastive, bpr_loss
from .macl import MACL
from .mean_shifted import MeanShifted, mean_shifted_center
from .moco_hnf import MoCoHNF
from .multiview import MVDHEL, MultiViewInfoNCE, PolyView
from .nce import NCE
from .negative_cosine import NegativeCosine
from .nnclr import NNCLR
from .ntxent import NTXent
from .pairwise_clip import PairwiseCLIP
from .scav import SCAV
from .siglip import SigLIP
from .simcse import SupervisedSimCSE
from .simctg import SimCTG
from .supcon import SupCon
from .swav import SwAV
from .sycl import SyCL
from .triplet import TripletMargin
from .vicreg import VICReg
from .weighted_infonce import WeightedInfoNCE

__all__ = [
    "CLAIF",
    "CLAN",
    "CPL",
    "DCL",
    "DCLR",
    "DCLW",
    "DHEL",
    "GML",
    "KCL",
    "MACL",
    "MVDHEL",
    "NCE",
    "NNCLR",
    "SCAV",
    "BarlowTwins",
    "CLIPLoss",
    "ClusterNS",
    "DebiasedContrastive",
    "HardNegativeContrastive",
    "InfoNCE",
    "LightGCLContrastive",
    "MeanShifted",
    "MoCoHNF",
    "MultiViewInfoNCE",
    "NTXent",
    "NegativeCosine",
    "PairwiseCLIP",
    "PolyView",
    "SigLIP",
    "SimCTG",
    "SupCon",
    "SupervisedSimCSE",
    "SwAV",
    "SyCL",
    "TripletMargin",
    "VICReg",
    "WeightedInfoNCE",
    "alignment",
    "bpr_loss",
    "mean_shifted_center",
    "uniformity",
]
