"""The default evaluation of a run, assembled from :mod:`contrastkit.evaluate` evaluator objects.

For single-input data (:class:`held_out_evaluators`): a :class:`~contrastkit.evaluate.ProbeEvaluator`
(kNN and linear-probe accuracy, test rows classified from train rows) when both splits have labels;
a :class:`~contrastkit.evaluate.GeometryEvaluator` of the test embeddings (uniformity, effective rank);
and alignment of two fixed random views of each test row (another ``GeometryEvaluator`` on the view
pair), left out when the views are identical copies (text with dropout views: it would always be 0).
Data with pairs of fields is evaluated by :class:`~contrastkit.train.pair_evaluation.PairEvaluator`.

:class:`RunEvaluation` runs a list of evaluator objects and names their metrics: a built-in
evaluator's keys lose their ``name/`` prefix (``knn_accuracy``, ``alignment``, ... as always), the
evaluators of ``[[eval.tasks]]`` keep it (``sts/spearman``).
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


def flatten_inputs(inputs) -> torch.Tensor:
    """The raw-input baseline's ``embed_fn``: each input flattened to a vector."""
    return torch.as_tensor(inputs).flatten(1).float()


def _same(a, b) -> bool:
    return torch.equal(a, b) if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) else a == b


class RunEvaluation:
    """Args:
        builtin: ``{role: evaluator}`` of the default evaluation (``probe``, ``geometry``,
            ``alignment``); their metric keys are used without the evaluator's name.
        tasks: evaluators of ``[[eval.tasks]]`` (keys ``name/metric``).
        metrics: which default metrics to keep (names of :data:`METRIC_KEYS`).
        analysis_inputs: ``(test inputs, labels or None, view pair or None)`` for the report's arrays.
    Calling it with ``embed_fn`` returns ``{metric: float}``; ``metrics=`` restricts the default
    metrics for a cheaper periodic evaluation.
    """

    def __init__(self, builtin: dict, tasks=(), metrics=tuple(METRIC_KEYS), analysis_inputs=None):
        self.builtin, self.tasks, self.metrics = builtin, list(tasks), tuple(metrics)
        self.analysis_inputs = analysis_inputs

    def __call__(self, embed_fn: Callable, metrics=None) -> dict[str, float]:
        wanted = {METRIC_KEYS[m] for m in (self.metrics if metrics is None else metrics) if m in self.metrics}
        results: dict[str, float] = {}
        for evaluator in self.builtin.values():
            keep = wanted & set(evaluator.provides)
            if keep:
                prefix = evaluator.name + "/"
                results.update({key.removeprefix(prefix): value for key, value in evaluator(embed_fn).items()
                                if key.removeprefix(prefix) in keep})
        for task in self.tasks:
            results.update(task(embed_fn))
        return results

    def analysis(self, embed_fn: Callable) -> dict[str, np.ndarray]:
        """Arrays the report plots: test embeddings, their labels, and the two views' embeddings."""
        inputs, labels, pair = self.analysis_inputs
        out = {"embeddings": embed_fn(inputs).numpy()}
        if labels is not None:
            out["labels"] = np.asarray(labels)
        if pair is not None:
            out["view1"], out["view2"] = embed_fn(pair[0]).numpy(), embed_fn(pair[1]).numpy()
        return out


def held_out_evaluators(train_data, test_data, views: Callable | None, metrics, knn_k: int, seed: int,
                        tasks=()) -> RunEvaluation:
    """The default :class:`RunEvaluation` of single-input data (``inputs`` and ``labels``)."""
    unknown = sorted(set(metrics) - set(METRIC_KEYS))
    if unknown:
        raise ValueError(f"metrics: unknown {unknown}; expected names from {sorted(METRIC_KEYS)}")
    builtin = {}
    labelled = train_data.labels is not None and test_data.labels is not None
    probes = [p for m, p in (("knn", "knn"), ("linear_probe", "linear")) if m in metrics]
    if labelled and probes and len(torch.unique(train_data.labels)) >= 2:
        builtin["probe"] = evaluate.ProbeEvaluator(
            train_data.inputs, train_data.labels, test_data.inputs, test_data.labels, probes=probes,
            k=min(knn_k, len(train_data)), batch_size=512)
        builtin["probe"].provides = [METRIC_KEYS[m] for m in ("knn", "linear_probe") if m in metrics]
    builtin["geometry"] = evaluate.GeometryEvaluator(test_data.inputs, batch_size=512)
    builtin["geometry"].provides = ["uniformity", "effective_rank"]
    pair = None
    if views is not None and "alignment" in metrics:
        generator = torch.Generator().manual_seed(derived_seed(seed, 0, 0, 4))
        first, second = views(test_data.inputs, generator)[:2]
        if not _same(first, second):
            pair = (first, second)
            builtin["alignment"] = evaluate.GeometryEvaluator(first, second, name="views", batch_size=512)
            builtin["alignment"].provides = ["alignment"]
    return RunEvaluation(builtin, tasks, metrics, (test_data.inputs, test_data.labels, pair))
