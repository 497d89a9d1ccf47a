"""Edge-input cases for every public loss and evaluation function, and the rule each must follow:
a ``ValueError`` whose message starts with the name of an argument, or a finite result (with finite
gradients for losses); losses that cannot be negative are not; the reference and streaming engines
agree. Shared by ``tests/test_properties.py`` (hypothesis) and ``benchmarks/audit_edge_inputs.py``
(the counted audit of issue 14)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from contrastkit import evaluate, losses

DTYPES = {"fp32": torch.float32, "fp64": torch.float64, "bf16": torch.bfloat16}
SCALES = {"unit": 1.0, "tiny": 1e-30, "small": 1e-6, "huge": 1e30, "large": 1e6}
PATTERNS = ("random", "duplicated", "identical", "nonfinite")


@dataclass
class Case:
    """One input: ``n`` rows of dimension ``d``; ``dtypes`` the dtype of the first tensor and of the
    others (mixed when they differ); ``pattern`` of the rows; ``temperature`` (or margin / t)."""

    n: int
    d: int
    dtypes: tuple[str, str]
    scale: str
    pattern: str
    temperature: float
    seed: int = 0
    nonfinite: float = math.nan
    streaming_tile: int = 3
    notes: list = field(default_factory=list)

    def rows(self, count: int, which: int, generator: torch.Generator, shape=None) -> torch.Tensor:
        shape = (count, self.d) if shape is None else shape
        x = torch.randn(*shape, generator=generator, dtype=torch.float64)
        if self.pattern == "duplicated" and shape[0] > 1:
            x[1] = x[0]
        if self.pattern == "identical":
            x[:] = x[0].clone()
        x = x * SCALES[self.scale]
        if self.pattern == "nonfinite" and which == 0:
            x.view(-1)[0] = self.nonfinite
        return x.to(DTYPES[self.dtypes[0] if which == 0 else self.dtypes[1]])


@dataclass
class Keyword:
    """An input passed by keyword."""

    name: str
    value: torch.Tensor


def _two(case, g):
    return case.rows(case.n, 0, g), case.rows(case.n, 1, g)


# name -> (builder(case) -> module or function, inputs(case, generator) -> tuple, argument names,
#          cannot be negative, engine-backed)
def _views(case, g):
    return (case.rows(case.n, 0, g, (case.n, 3, case.d)),)


def _lightgcl(case, g):
    users, items = case.rows(case.n, 0, g), case.rows(case.n + 2, 1, g)
    index_u = torch.arange(case.n)
    index_i = torch.arange(case.n + 2)[: max(1, case.n)]
    return (users, case.rows(case.n, 1, g), index_u, items, case.rows(case.n + 2, 1, g), index_i)


def _listed(loss):
    """A loss taking one list of tensors, called with the tensors as separate arguments."""
    return lambda *tensors: loss(list(tensors))


T = "temperature"
LOSSES = {
    "InfoNCE": (lambda c: losses.InfoNCE(c.temperature), _two, ("query", "key"), True, True),
    "InfoNCE+negatives": (lambda c: losses.InfoNCE(c.temperature),
                          lambda c, g: (*_two(c, g), Keyword("negatives", c.rows(5, 1, g))),
                          ("query", "key", "negatives"), True, True),
    "InfoNCE+labels": (lambda c: losses.InfoNCE(c.temperature),
                       lambda c, g: (*_two(c, g), Keyword("labels", torch.arange(c.n) % 2)),
                       ("query", "key", "labels"), True, True),
    "NTXent": (lambda c: losses.NTXent(c.temperature), _two, ("z1", "z2"), True, True),
    "CLIPLoss": (lambda c: losses.CLIPLoss(c.temperature), _two, ("a", "b"), True, True),
    "SupCon": (lambda c: losses.SupCon(c.temperature), lambda c, g: (c.rows(c.n, 0, g, (c.n, 2, c.d)),),
               ("features",), True, True),
    "SigLIP": (lambda c: losses.SigLIP(c.temperature), _two, ("a", "b"), True, True),
    "DCL": (lambda c: losses.DCL(c.temperature), _two, ("z1", "z2"), False, True),
    "DCLW": (lambda c: losses.DCLW(c.temperature), _two, ("z1", "z2"), False, True),
    "DebiasedContrastive": (lambda c: losses.DebiasedContrastive(c.temperature), _two, ("z1", "z2"),
                            True, True),
    "HardNegativeContrastive": (lambda c: losses.HardNegativeContrastive(c.temperature), _two,
                                ("z1", "z2"), True, True),
    "DHEL": (lambda c: losses.DHEL(c.temperature), _two, ("z1", "z2"), False, True),
    "KCL": (lambda c: losses.KCL(t=c.temperature), _two, ("z1", "z2"), False, False),
    "KCL-riesz": (lambda c: losses.KCL(t=c.temperature, kernel="riesz"), _two, ("z1", "z2"), False, False),
    "KCL-gaussian_riesz": (lambda c: losses.KCL(t=-c.temperature, kernel="gaussian_riesz"), _two,
                           ("z1", "z2"), False, False),
    "MACL": (lambda c: losses.MACL(c.temperature), _two, ("z1", "z2"), False, True),
    "MeanShifted": (lambda c: losses.MeanShifted(c.temperature),
                    lambda c, g: (*_two(c, g), c.rows(1, 1, g)[0]), ("z1", "z2", "center"), False, True),
    "MultiViewInfoNCE": (lambda c: losses.MultiViewInfoNCE(c.temperature), _views, ("views",), True, True),
    "MVDHEL": (lambda c: losses.MVDHEL(c.temperature), _views, ("views",), False, True),
    "PolyView": (lambda c: losses.PolyView(c.temperature), _views, ("views",), False, True),
    "TripletMargin": (lambda c: losses.TripletMargin(margin=min(c.temperature, 1e6)),
                      lambda c, g: (*_two(c, g), c.rows(c.n, 1, g)), ("anchor", "positive", "negative"),
                      True, False),
    "CLAN": (lambda c: losses.CLAN(margin=min(c.temperature, 1e6)), _two, ("z", "z_aug"), True, False),
    "LightGCLContrastive": (lambda c: losses.LightGCLContrastive(c.temperature), _lightgcl,
                            ("users_svd", "users", "user_index", "items_svd", "items", "item_index"),
                            False, True),
    "WeightedInfoNCE": (lambda c: losses.WeightedInfoNCE(c.temperature),
                        lambda c, g: (*_two(c, g), torch.rand(c.n, generator=g) * SCALES[c.scale]),
                        ("query", "document", "weights"), True, True),
    "SupervisedSimCSE": (lambda c: losses.SupervisedSimCSE(c.temperature),
                         lambda c, g: (*_two(c, g), c.rows(c.n, 1, g)),
                         ("anchor", "positive", "hard_negative"), True, True),
    "NCE": (lambda c: losses.NCE(torch.full((3,), 1 / 3, dtype=torch.float64), 2, c.temperature),
            lambda c, g: (c.rows(c.n, 0, g), c.rows(3, 1, g), torch.arange(c.n) % 3),
            ("text", "label_embeddings", "labels"), True, False),
    "SyCL": (lambda c: losses.SyCL(c.temperature),
             lambda c, g: (c.rows(c.n, 0, g), c.rows(c.n, 1, g, (c.n, 3, c.d)),
                           torch.tensor([[2.0, 1.0, 0.0]]).expand(c.n, 3)),
             ("query", "documents", "relevance"), True, False),
    "SyCL-kl": (lambda c: losses.SyCL(c.temperature, distance="kl"),
                lambda c, g: (c.rows(c.n, 0, g), c.rows(c.n, 1, g, (c.n, 3, c.d)),
                              torch.tensor([[2.0, 1.0, 0.0]]).expand(c.n, 3)),
                ("query", "documents", "relevance"), True, False),
    "GML": (lambda c: losses.GML(torch.tensor([0.5, 0.5], dtype=torch.float64), c.temperature),
            lambda c, g: (c.rows(c.n, 0, g), torch.arange(c.n) % 2, c.rows(c.n + 1, 1, g),
                          torch.arange(c.n + 1) % 2),
            ("query", "labels", "key", "key_labels"), True, False),
    "SCAV": (lambda c: losses.SCAV(c.temperature),
             lambda c, g: (c.rows(c.n, 0, g, (c.n, 2, c.d)), c.rows(c.n, 1, g, (c.n, 2, c.d))),
             ("a", "b"), True, True),
    "CLAIF": (lambda c: losses.CLAIF(c.temperature),
              lambda c, g: (*_two(c, g), torch.rand(c.n, generator=g, dtype=torch.float64)),
              ("z1", "z2", "scores"), True, True),
    "ClusterNS": (lambda c: losses.ClusterNS(2, c.temperature), _two, ("anchor", "positive"), True, True),
    "DCLR": (lambda c: losses.DCLR(c.temperature, num_noise=4,
                                   generator=torch.Generator().manual_seed(c.seed)),
             # engine-compared since the streaming ceiling reads the logits, not their exp (it lost
             # exclusions at temperatures >= ~1e6 when exp(logit - shift) rounded equal in float32)
             _two, ("anchor", "positive"), True, True),
    "MoCoHNF": (lambda c: losses.MoCoHNF(c.temperature, top_k=2),
                lambda c, g: (*_two(c, g), c.rows(5, 1, g)), ("query", "key", "queue"), True, True),
    "NNCLR": (lambda c: losses.NNCLR(c.d, support_size=4, temperature=c.temperature), _two, ("z1", "z2"),
              True, True),
    "PairwiseCLIP": (lambda c: _listed(losses.PairwiseCLIP(c.temperature, learnable_temperature=False)),
                     lambda c, g: (*_two(c, g), c.rows(c.n, 1, g)), ("modalities", "modalities[0]",
                                                                     "modalities[1]", "modalities[2]"),
                     True, False),
    "SwAV": (lambda c: _listed(losses.SwAV(c.d, num_prototypes=3, temperature=c.temperature)),
             lambda c, g: (*_two(c, g), c.rows(c.n, 1, g)), ("crops", "crops[0]", "crops[1]", "crops[2]"),
             True, False),
    "SimCTG": (lambda c: losses.SimCTG(margin=min(c.temperature, 1e6)),
               lambda c, g: (c.rows(c.n, 0, g, (c.n, 3, c.d)),), ("hidden",), True, False),
    "CPL": (lambda c: losses.CPL(alpha=c.temperature),
            lambda c, g: (-c.rows(c.n, 0, g).abs(), -c.rows(c.n, 1, g).abs()), ("preferred", "rejected"),
            True, False),
    "BarlowTwins": (lambda c: losses.BarlowTwins(), _two, ("z1", "z2"), True, False),
    "VICReg": (lambda c: losses.VICReg(), _two, ("z1", "z2"), True, False),
    "NegativeCosine": (lambda c: losses.NegativeCosine(), _two, ("prediction", "target"), False, False),
    "alignment": (lambda c: (lambda x, y: losses.alignment(x, y, alpha=min(c.temperature, 8.0))), _two,
                  ("x", "y"), True, False),
    "uniformity": (lambda c: (lambda x: losses.uniformity(x, t=min(c.temperature, 1e3))),
                   lambda c, g: (c.rows(c.n, 0, g),), ("x",), False, False),
    "bpr_loss": (lambda c: losses.bpr_loss, lambda c, g: (*_two(c, g), c.rows(c.n, 1, g)),
                 ("users", "positive_items", "negative_items"), True, False),
    "mean_shifted_center": (lambda c: losses.mean_shifted_center, lambda c, g: (c.rows(c.n, 0, g),),
                            ("features",), False, False),
}

# Losses whose formula needs a negative: with one instance (and no extra negatives) they must raise,
# never return a constant (issue 14 item 3).
NEEDS_NEGATIVES = {"InfoNCE", "InfoNCE+labels", "NTXent", "CLIPLoss", "SupCon", "WeightedInfoNCE",
                   "DCL", "DCLW", "DebiasedContrastive", "HardNegativeContrastive", "DHEL", "KCL",
                   "KCL-riesz", "KCL-gaussian_riesz", "MACL", "MeanShifted", "MultiViewInfoNCE", "MVDHEL",
                   "PolyView", "uniformity", "SCAV", "CLAIF", "ClusterNS", "NNCLR", "PairwiseCLIP"}

# Losses whose value does not scale with 1 / temperature (margins, or no temperature at all).
NO_TEMPERATURE = {"TripletMargin", "CLAN", "SimCTG", "BarlowTwins", "VICReg", "NegativeCosine"}

# The constructor arguments a ValueError may also name.
OPTIONS = ("temperature", "margin", "t", "alpha", "weights", "tau_plus", "beta", "sigma", "num_clusters")


def rounding(case: Case, t: float | None = None) -> float:
    """Float32 rounding of a uniformity value at ``t`` (the loss uses ``min(temperature, 1e3)``)."""
    t = min(case.temperature, 1e3) if t is None else t
    return 64 * torch.finfo(torch.float32).eps * (1 + 2 * t)


class SilentWrong(AssertionError):
    """The rule was broken: a wrong type of error, a non-finite value or gradient, a negative value
    of a loss that cannot be negative, or engines that disagree."""


def names_an_argument(error: ValueError, allowed) -> bool:
    """The message starts with ``name:`` or ``name1, name2:`` (``name (...)`` too) of allowed names."""
    head = str(error).split(":", 1)[0]
    if head in allowed:
        return True
    return all(part.split(" (")[0] in allowed for part in head.split(", "))


def _finite(x) -> bool:
    if isinstance(x, torch.Tensor):
        return bool(torch.isfinite(x.detach().double()).all())
    if isinstance(x, dict):
        return all(_finite(v) for v in x.values())
    return bool(np.isfinite(np.asarray(x, dtype=np.float64)).all())


def checked_call(name: str, argnames, call, case: Case):
    """``("error", message)`` when ``call()`` raises a ValueError naming one of ``argnames``, else
    ``("value", result)``; :class:`SilentWrong` for any other exception, or a result on a non-finite input."""
    try:
        value = call()
    except ValueError as error:
        if not names_an_argument(error, argnames):
            raise SilentWrong(f"{name}: ValueError without an argument name: {error}") from error
        return "error", str(error)
    except Exception as error:
        raise SilentWrong(f"{name}: {type(error).__name__} instead of ValueError: {error}") from error
    if case.pattern == "nonfinite":
        raise SilentWrong(f"{name}: accepted a {case.nonfinite} input and returned {value}")
    return "value", value


def run_loss(name: str, case: Case, backend: str | None = None):
    """``("error", message)`` or ``("finite", value)``; raises :class:`SilentWrong` otherwise."""
    build, make, argnames, nonnegative, _ = LOSSES[name]
    g = torch.Generator().manual_seed(case.seed)
    inputs = make(case, g)
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) if isinstance(x, torch.Tensor)
              else Keyword(x.name, x.value.detach().clone().requires_grad_(x.value.is_floating_point()))
              for x in inputs]
    args = [x for x in leaves if not isinstance(x, Keyword)]
    kwargs = {x.name: x.value for x in leaves if isinstance(x, Keyword)}
    leaves = [*args, *kwargs.values()]

    def call():
        loss = build(case)
        if backend is not None:
            # tiles of 1-3 rows for small N; larger N (up to 3 x 65 rows) in tiles of >= 16 rows
            tile = case.streaming_tile if case.n <= 7 else max(case.streaming_tile, 16)
            loss.backend, loss.tile_size = backend, (tile if backend == "streaming" else None)
        return loss(*args, **kwargs)

    kind, value = checked_call(name, (*argnames, *OPTIONS), call, case)
    if kind == "error":
        return kind, value
    if case.n == 1 and name in NEEDS_NEGATIVES:
        raise SilentWrong(f"{name}: accepted one instance (no negative) and returned {value}")
    if not _finite(value):
        raise SilentWrong(f"{name}: non-finite value {value}")
    if name == "uniformity" and case.pattern == "identical" and float(value.detach()) < -rounding(case):
        raise SilentWrong(f"{name}: identical rows (a collapsed encoder) scored {float(value)}, not 0")
    if value.requires_grad:
        grads = torch.autograd.grad(value.sum(), [x for x in leaves if isinstance(x, torch.Tensor)
                                                  and x.requires_grad], allow_unused=True)
        if not all(gr is None or _finite(gr) for gr in grads):
            raise SilentWrong(f"{name}: non-finite gradient (value {float(value.detach())})")
    if nonnegative:
        logit_scale = 1.0 + (1.0 / case.temperature if name not in NO_TEMPERATURE else 0.0)
        tolerance = 64 * torch.finfo(torch.float32).eps * logit_scale
        if float(value.detach().double().min()) < -tolerance:
            raise SilentWrong(f"{name}: negative value {float(value)} of a loss that cannot be negative")
    return "finite", value.detach().double()


def check_engines_agree(name: str, case: Case) -> None:
    """The reference and the streaming backend (tile ``case.streaming_tile``) give the same value."""
    if not LOSSES[name][4]:
        return
    reference = run_loss(name, case, backend="reference")
    streaming = run_loss(name, case, backend="streaming")
    if reference[0] != streaming[0]:
        raise SilentWrong(f"{name}: reference gives {reference}, streaming {streaming}")
    if reference[0] == "finite":
        low = any(DTYPES[k] == torch.bfloat16 for k in case.dtypes)
        scale = 1.0 + 1.0 / case.temperature
        atol = (2e-2 if low else 1e-4) * scale
        if not torch.allclose(reference[1], streaming[1], rtol=1e-3, atol=atol):
            raise SilentWrong(f"{name}: reference {reference[1]} != streaming {streaming[1]}")


# ----- evaluation functions -----------------------------------------------------------------------

def _eval_inputs(case: Case, g: torch.Generator):
    x, y = case.rows(case.n, 0, g), case.rows(case.n, 1, g)
    labels = torch.arange(case.n) % 2
    return x, y, labels


def _bounded(low, high, tolerance=1e-5):  # metrics computed in float32 round by ~1e-7
    def check(value):
        return low - tolerance <= value <= high + tolerance
    return check


EVALUATIONS = {
    "alignment": (lambda x, y, lab, c: evaluate.alignment(x, y), ("x", "y"), _bounded(0, 4)),
    "uniformity": (lambda x, y, lab, c: evaluate.uniformity(x, t=2), ("x",), _bounded(-8, 0)),
    "effective_rank": (lambda x, y, lab, c: evaluate.effective_rank(x), ("x",),
                       lambda v: 1 - 1e-9 <= v),
    "anisotropy": (lambda x, y, lab, c: evaluate.anisotropy(x), ("x",), _bounded(-1, 1)),
    "singular_values": (lambda x, y, lab, c: evaluate.singular_values(x), ("x",), lambda v: (v >= 0).all()),
    "knn_accuracy": (lambda x, y, lab, c: evaluate.knn_accuracy(x, lab, y, lab, k=min(3, c.n)),
                     ("train_x", "train_y", "test_x", "test_y", "k"), _bounded(0, 1)),
    "nearest_class_mean_probe": (lambda x, y, lab, c: evaluate.nearest_class_mean_probe(x, lab, y, lab),
                                 ("train_x", "train_y", "test_x", "test_y"), _bounded(0, 1)),
    "sts_spearman": (lambda x, y, lab, c: evaluate.sts_spearman(x, y, np.arange(c.n, dtype=float)),
                     ("a", "b", "gold", "a, b (cosine similarities)"), _bounded(-1, 1)),
    "sts_pearson": (lambda x, y, lab, c: evaluate.sts_pearson(x, y, np.arange(c.n, dtype=float)),
                    ("a", "b", "gold", "a, b (cosine similarities)"), _bounded(-1, 1)),
    "pair_cosines": (lambda x, y, lab, c: evaluate.pair_cosines(x, y), ("a", "b"),
                     lambda v: (np.abs(v) <= 1 + 1e-9).all()),
    "retrieval_metrics": (lambda x, y, lab, c: evaluate.retrieval_metrics(
        x, y, [{i} for i in range(c.n)], ks=(1,)), ("queries", "corpus", "relevant", "ks"),
        lambda v: all(0 <= m <= 1 + 1e-9 for m in v.values())),
    "recommendation_metrics": (lambda x, y, lab, c: evaluate.recommendation_metrics(
        x, y, [[i] for i in range(c.n)], ks=(1,)),
        ("user_embeddings", "item_embeddings", "test_items", "train_items", "ks"),
        lambda v: all(0 <= m <= 1 + 1e-9 for m in v.values())),
    "auroc": (lambda x, y, lab, c: evaluate.auroc(x[:, 0].double(), lab), ("scores", "labels"),
              _bounded(0, 1)),
    "anomaly_auroc": (lambda x, y, lab, c: evaluate.anomaly_auroc(x, y, lab, k=1),
                      ("train_x", "test_x", "test_labels", "k"), _bounded(0, 1)),
    "knn_anomaly_scores": (lambda x, y, lab, c: evaluate.knn_anomaly_scores(x, y, k=1),
                           ("train_x", "test_x", "k"),
                           lambda v: ((v >= -1e-6) & (v <= 2 + 1e-6)).all()),
    "one_class_auroc": (lambda x, y, lab, c: evaluate.one_class_auroc(x, lab, y, lab, k=1),
                        ("train_x", "train_y", "test_x", "test_y", "k"),
                        lambda v: all(0 <= m <= 1 + 1e-9 for m in v.values())),
    "zero_shot_predictions": (lambda x, y, lab, c: evaluate.zero_shot_predictions(x, y),
                              ("image_embeddings", "class_embeddings"),
                              lambda v: ((v >= 0) & (v < max(1, len(v)))).all()),
    "zero_shot_metrics": (lambda x, y, lab, c: evaluate.zero_shot_metrics(
        x, lab, y, lab, 2, ks=(1,), ndcg_k=1), ("image_embeddings", "labels", "prompt_embeddings",
                                                "prompt_classes", "num_classes", "ks", "ndcg_k"),
        lambda v: all(0 <= m <= 1 + 1e-9 for m in v.values())),
}


def run_evaluation(name: str, case: Case):
    fn, argnames, in_range = EVALUATIONS[name]
    g = torch.Generator().manual_seed(case.seed)
    x, y, labels = _eval_inputs(case, g)
    kind, value = checked_call(name, argnames, lambda: fn(x, y, labels, case), case)
    if kind == "error":
        return kind, value
    if not _finite(value):
        raise SilentWrong(f"{name}: non-finite result {value}")
    if name == "uniformity" and case.pattern == "identical" and value < -rounding(case, t=2):
        raise SilentWrong(f"{name}: identical rows (a collapsed encoder) scored {value}, not 0")
    if not in_range(value):
        raise SilentWrong(f"{name}: {value} outside its range")
    return "finite", value
