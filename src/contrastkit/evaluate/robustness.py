"""Robustness of frozen embeddings to image corruptions: probes trained on clean training images,
scored on the clean test images and on each corrupted copy (:mod:`.corruptions`), reporting the
accuracy drop per corruption and severity (the REOBench protocol, Li et al., 2025,
arXiv:2505.16793, with kNN and linear probes as the downstream tasks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from . import linear, probes
from ._checks import as_labels, check_positive_float, check_positive_int
from ._evaluator import EmbedFn, Evaluator, as_array, check_choice, check_inputs
from .corruptions import CORRUPTIONS, SEVERITIES, check_corruption, check_severity, corrupt

PROBE_KEYS = {"knn": "knn", "linear": "linear_probe"}


class CorruptedImages:
    """A lazy corrupted copy of ``images``: ``self[a:b]`` is ``corrupt(images[a:b], ...)`` with the
    seed ``seed + a``, so the copy is fixed for a fixed slicing (the evaluator's ``batch_size``)."""

    def __init__(self, images, corruption: str, severity: int, seed: int = 0):
        self.images, self.corruption, self.severity, self.seed = images, corruption, severity, seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: slice) -> torch.Tensor:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise ValueError("index: corrupted images are read in contiguous slices")
        start = index.indices(len(self.images))[0]
        return corrupt(self.images[index], self.corruption, self.severity, seed=self.seed + start)


class RobustnessEvaluator(Evaluator):
    """Clean and corrupted test accuracy of kNN / linear probes fitted on clean training embeddings.

    Keys (``P`` = ``knn`` or ``linear_probe``, ``c`` a corruption, ``s`` a severity):
    ``P_accuracy`` (clean), ``P_accuracy/c@s``, ``P_drop/c@s`` (clean minus corrupted),
    ``P_drop/c`` (mean over severities) and ``P_drop/mean`` (mean over all), the primary metric
    being the first probe's mean drop (lower is better).

    Args:
        train_inputs, train_labels, test_inputs, test_labels: images ``(N, C, H, W)`` in [0, 1].
        corruptions: names from :data:`~contrastkit.evaluate.corruptions.CORRUPTIONS`.
        severities: among 1, 2, 3.
        probes: ``"knn"`` and / or ``"linear"``.
        k, temperature: of the kNN vote; seed: of the corruptions and the probe's split.
    """

    lower_is_better = frozenset({"knn_drop/mean", "linear_probe_drop/mean"})

    def __init__(self, train_inputs, train_labels, test_inputs, test_labels, *,
                 corruptions: Sequence[str] = CORRUPTIONS, severities: Sequence[int] = SEVERITIES,
                 probes: Sequence[str] = ("knn", "linear"), k: int = 20, temperature: float = 0.07,
                 seed: int = 0, name: str = "robustness", batch_size: int = 256):
        self.corruptions = tuple(check_corruption(c) for c in corruptions)
        self.severities = tuple(check_severity(s) for s in severities)
        self.probes = tuple(check_choice("probes", p, tuple(PROBE_KEYS)) for p in probes)
        if not self.corruptions or not self.severities or not self.probes:
            raise ValueError("corruptions, severities, probes: expected at least one of each")
        super().__init__(name, f"{PROBE_KEYS[self.probes[0]]}_drop/mean", batch_size)
        check_inputs("train_inputs", train_inputs)
        check_inputs("test_inputs", test_inputs)
        as_labels("train_labels", as_array(train_labels), len(train_inputs))
        as_labels("test_labels", as_array(test_labels), len(test_inputs))
        self.k = check_positive_int("k", k, len(train_inputs), "the number of training inputs")
        self.temperature = check_positive_float("temperature", temperature)
        self.seed = seed
        self.train_labels, self.test_labels = as_array(train_labels), as_array(test_labels)
        self.cases = [(c, s) for c in self.corruptions for s in self.severities]
        corrupted = [CorruptedImages(test_inputs, c, s, seed) for c, s in self.cases]
        self.inputs = (train_inputs, test_inputs, *corrupted)

    def _scorer(self, train_x):
        fitted = (linear.fit_linear_probe(train_x, self.train_labels, seed=self.seed)
                  if "linear" in self.probes else None)

        def score(test_x) -> dict[str, float]:
            out = {}
            if "knn" in self.probes:
                out["knn"] = probes.knn_accuracy(train_x, self.train_labels, test_x, self.test_labels,
                                                 k=self.k, temperature=self.temperature)
            if fitted is not None:
                out["linear_probe"] = fitted.accuracy(test_x, self.test_labels)
            return out

        return score

    def metrics(self, train_x, test_x, *corrupted_x):
        score = self._scorer(train_x)
        return self._table(score(test_x), [score(x) for x in corrupted_x])

    def __call__(self, embed_fn: EmbedFn) -> dict[str, float]:
        """As the base class, but one corrupted test set is embedded at a time (memory stays at
        two test sets however many corruptions are asked for)."""
        module = embed_fn if isinstance(embed_fn, torch.nn.Module) else None
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            with torch.no_grad():
                score = self._scorer(self.embed(embed_fn, self.inputs[0]))
                clean = score(self.embed(embed_fn, self.inputs[1]))
                corrupted = [score(self.embed(embed_fn, images)) for images in self.inputs[2:]]
        finally:
            if module is not None:
                module.train(was_training)
        return {f"{self.name}/{key}": value for key, value in self._table(clean, corrupted).items()}

    def _table(self, clean: dict, corrupted: list[dict]) -> dict[str, float]:
        out = {f"{p}_accuracy": v for p, v in clean.items()}
        for p in clean:
            drops = {}
            for (c, s), scores in zip(self.cases, corrupted):
                out[f"{p}_accuracy/{c}@{s}"] = scores[p]
                out[f"{p}_drop/{c}@{s}"] = clean[p] - scores[p]
                drops.setdefault(c, []).append(clean[p] - scores[p])
            for c, values in drops.items():
                out[f"{p}_drop/{c}"] = float(np.mean(values))
            out[f"{p}_drop/mean"] = float(np.mean([v for values in drops.values() for v in values]))
        return out
