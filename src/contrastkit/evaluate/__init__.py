"""Metrics and evaluators for embeddings (DESIGN.md section 3).

Functions take tensors (any device) or NumPy arrays and return Python floats or dicts of floats;
the optional dependencies (scikit-learn, FAISS) are imported only by the functions that use them.
"""

from .geometry import alignment, anisotropy, effective_rank, singular_values, uniformity
from .probes import knn_accuracy, linear_probe, nearest_class_mean_probe

__all__ = [
    "alignment",
    "anisotropy",
    "effective_rank",
    "knn_accuracy",
    "linear_probe",
    "nearest_class_mean_probe",
    "singular_values",
    "uniformity",
]
