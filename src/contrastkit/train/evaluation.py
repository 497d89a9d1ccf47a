"""Evaluators used during and after training: built with data, called with ``embed_fn``.

:class:`EmbeddingEvaluator` wires the metrics of :mod:`contrastkit.evaluate` to a train / test
split: kNN and linear-probe accuracy (test rows classified from train rows), alignment of two fixed
random views of each test row, uniformity and effective rank of the test embeddings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .. import evaluate
from .batching import derived_seed

METRIC_KEYS = {
    "knn": "knn_accuracy",
    "linear_probe": "linear_probe_accuracy",
    "alignment": "alignment",
    "uniformity": "uniformity",
    "effective_rank": "effective_rank",
}
GREATER_IS_BETTER = {
    "knn_accuracy": True,
    "linear_probe_accuracy": True,
    "alignment": False,
    "uniformity": False,
    "effective_rank": True,
}


def flatten_inputs(inputs) -> torch.Tensor:
    """The raw-input baseline's ``embed_fn``: each input flattened to a vector."""
    return torch.as_tensor(inputs).flatten(1).float()


class EmbeddingEvaluator:
    """Args:
        train_data, test_data: objects with ``inputs`` and ``labels`` (labels may be ``None``: the
            probes are then skipped).
        views: the training view generator, for the alignment pairs (``None`` skips alignment).
        metrics: names among ``knn, linear_probe, alignment, uniformity, effective_rank``.
        knn_k: neighbours of the kNN vote (capped at the training size).
        seed: seed of the alignment views (fixed, so every evaluation sees the same pairs).
    Calling it with ``embed_fn(inputs) -> (N, d)`` returns ``{metric key: float}``.
    """

    def __init__(
        self,
        train_data,
        test_data,
        views: Callable | None = None,
        metrics=("knn", "linear_probe", "alignment", "uniformity", "effective_rank"),
        knn_k: int = 20,
        seed: int = 0,
    ):
        unknown = sorted(set(metrics) - set(METRIC_KEYS))
        if unknown:
            raise ValueError(f"metrics: unknown {unknown}; expected names from {sorted(METRIC_KEYS)}")
        self.train_data, self.test_data, self.metrics = train_data, test_data, tuple(metrics)
        self.knn_k = min(knn_k, len(train_data))
        self.labelled = train_data.labels is not None and test_data.labels is not None
        self.view_pair = None
        if views is not None and "alignment" in metrics:
            generator = torch.Generator().manual_seed(derived_seed(seed, 0, 0, 4))
            first, second = views(test_data.inputs, generator)[:2]
            self.view_pair = (first, second)

    def __call__(self, embed_fn: Callable, metrics=None) -> dict[str, float]:
        wanted = self.metrics if metrics is None else tuple(m for m in metrics if m in self.metrics)
        results: dict[str, float] = {}
        test = embed_fn(self.test_data.inputs)
        if self.labelled and {"knn", "linear_probe"} & set(wanted):
            train = embed_fn(self.train_data.inputs)
            y_train, y_test = self.train_data.labels, self.test_data.labels
            if "knn" in wanted:
                results["knn_accuracy"] = evaluate.knn_accuracy(train, y_train, test, y_test, k=self.knn_k)
            if "linear_probe" in wanted:
                results["linear_probe_accuracy"] = evaluate.linear_probe(train, y_train, test, y_test)
        if "alignment" in wanted and self.view_pair is not None:
            results["alignment"] = evaluate.alignment(
                embed_fn(self.view_pair[0]), embed_fn(self.view_pair[1])
            )
        if "uniformity" in wanted:
            results["uniformity"] = evaluate.uniformity(test)
        if "effective_rank" in wanted:
            results["effective_rank"] = evaluate.effective_rank(test)
        return results

    def analysis(self, embed_fn: Callable) -> dict[str, np.ndarray]:
        """Arrays the report plots: test embeddings, their labels, and the two views' embeddings."""
        out = {"embeddings": embed_fn(self.test_data.inputs).numpy()}
        if self.test_data.labels is not None:
            out["labels"] = np.asarray(self.test_data.labels)
        if self.view_pair is not None:
            out["view1"] = embed_fn(self.view_pair[0]).numpy()
            out["view2"] = embed_fn(self.view_pair[1]).numpy()
        return out
