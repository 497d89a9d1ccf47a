"""Metrics and evaluators for embeddings (DESIGN.md section 3).

Functions take tensors (any device) or NumPy arrays and return Python floats or dicts of floats;
the optional dependencies (scikit-learn, FAISS) are imported only by the functions that use them.
Evaluators (:mod:`contrastkit.evaluate.evaluators`) hold evaluation data and, called with an
embedding function, return ``{"<name>/<metric>": float}``.
"""

from ._evaluator import Evaluator
from .anomaly import anomaly_auroc, auroc, knn_anomaly_scores, one_class_auroc
from .evaluators import (
    AnomalyEvaluator,
    GeometryEvaluator,
    ProbeEvaluator,
    RecommendationEvaluator,
    RetrievalEvaluator,
    SequentialEvaluator,
    STSEvaluator,
)
from .geometry import alignment, anisotropy, effective_rank, singular_values, uniformity
from .linear import LinearProbe, fit_linear_probe, label_subset, linear_probe
from .probes import knn_accuracy, nearest_class_mean_probe
from .recommendation import recommendation_metrics
from .retrieval import retrieval_metrics
from .robustness import RobustnessEvaluator
from .similarity import pair_cosines, sts_pearson, sts_spearman

__all__ = [
    "AnomalyEvaluator",
    "Evaluator",
    "GeometryEvaluator",
    "LinearProbe",
    "ProbeEvaluator",
    "RecommendationEvaluator",
    "RetrievalEvaluator",
    "RobustnessEvaluator",
    "STSEvaluator",
    "SequentialEvaluator",
    "alignment",
    "anisotropy",
    "anomaly_auroc",
    "auroc",
    "effective_rank",
    "fit_linear_probe",
    "knn_accuracy",
    "knn_anomaly_scores",
    "label_subset",
    "linear_probe",
    "nearest_class_mean_probe",
    "one_class_auroc",
    "pair_cosines",
    "recommendation_metrics",
    "retrieval_metrics",
    "singular_values",
    "sts_pearson",
    "sts_spearman",
    "uniformity",
]
