"""Ready-made evaluators for each metric family (see :mod:`contrastkit.evaluate._evaluator` for
the protocol: ``evaluator(embed_fn) -> {"<name>/<metric>": float}``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import anomaly, geometry, linear, probes, retrieval, similarity
from ._checks import as_labels, as_vector, check_ks, check_positive_float, check_positive_int
from ._evaluator import EmbedFn, Evaluator, as_array, check_choice, check_inputs, check_length
from ._search import check_backend
from .recommendation import recommendation_metrics


class GeometryEvaluator(Evaluator):
    """Uniformity, effective rank and anisotropy of ``inputs``; alignment too when ``pair_inputs``
    (row ``i`` a positive of ``inputs[i]``) is given."""

    lower_is_better = frozenset({"uniformity", "alignment", "anisotropy"})

    def __init__(self, inputs, pair_inputs=None, *, t: float = 2, alpha: float = 2,
                 primary: str = "uniformity", name: str = "geometry", batch_size: int = 256):
        check_inputs("inputs", inputs)
        choices = ("uniformity", "effective_rank", "anisotropy")
        if pair_inputs is not None:
            choices += ("alignment",)
        super().__init__(name, check_choice("primary", primary, choices), batch_size)
        if pair_inputs is not None:
            check_length("pair_inputs", pair_inputs, len(inputs), "inputs")
        self.inputs = (inputs,) if pair_inputs is None else (inputs, pair_inputs)
        self.t, self.alpha = check_positive_float("t", t), check_positive_float("alpha", alpha)

    def metrics(self, x, y=None):
        out = {"uniformity": geometry.uniformity(x, self.t), "effective_rank": geometry.effective_rank(x),
               "anisotropy": geometry.anisotropy(x)}
        if y is not None:
            out["alignment"] = geometry.alignment(x, y, self.alpha)
        return out


PROBES = {"knn": "knn_accuracy", "linear": "linear_probe_accuracy", "ncm": "ncm_accuracy"}


class ProbeEvaluator(Evaluator):
    """Test accuracy of classification probes (``"knn"``, ``"linear"``, ``"ncm"``) trained on the
    embeddings of ``train_inputs``; keys ``knn_accuracy``, ``linear_probe_accuracy``, ``ncm_accuracy``.

    ``label_fractions`` (each in (0, 1]) adds the few-label setting: a linear probe fitted on that
    stratified share of the training labels (:func:`~contrastkit.evaluate.label_subset`), key
    ``linear_probe_accuracy@<fraction>`` (e.g. ``@0.01``)."""

    def __init__(self, train_inputs, train_labels, test_inputs, test_labels, *,
                 probes: Sequence[str] = ("knn",), k: int = 20, temperature: float = 0.07,
                 label_fractions: Sequence[float] = (), primary: str | None = None, name: str = "probe",
                 batch_size: int = 256):
        self.probes = tuple(check_choice("probes", p, tuple(PROBES)) for p in probes)
        if not self.probes:
            raise ValueError(f"probes: expected at least one of {tuple(PROBES)}")
        for fraction in label_fractions:
            linear.label_subset(np.zeros(1, dtype=np.int64), fraction)  # checks 0 < fraction <= 1
        self.label_fractions = tuple(float(f) for f in label_fractions)
        keys = [PROBES[p] for p in self.probes]
        keys += [f"linear_probe_accuracy@{f:g}" for f in self.label_fractions]
        super().__init__(name, check_choice("primary", primary or keys[0], keys), batch_size)
        check_inputs("train_inputs", train_inputs)
        check_inputs("test_inputs", test_inputs)
        classes, _ = as_labels("train_labels", as_array(train_labels), len(train_inputs))
        as_labels("test_labels", as_array(test_labels), len(test_inputs))
        if classes.size < 2:
            raise ValueError("train_labels: a probe needs at least 2 classes")
        self.k = check_positive_int("k", k, len(train_inputs), "the number of training inputs")
        self.temperature = check_positive_float("temperature", temperature)
        self.inputs = (train_inputs, test_inputs)
        self.train_labels, self.test_labels = as_array(train_labels), as_array(test_labels)

    def metrics(self, train_x, test_x):
        data = (train_x, self.train_labels, test_x, self.test_labels)
        run = {"knn": lambda: probes.knn_accuracy(*data, k=self.k, temperature=self.temperature),
               "linear": lambda: linear.linear_probe(*data),
               "ncm": lambda: probes.nearest_class_mean_probe(*data)}
        out = {PROBES[p]: run[p]() for p in self.probes}
        for fraction in self.label_fractions:
            out[f"linear_probe_accuracy@{fraction:g}"] = linear.linear_probe(*data, label_fraction=fraction)
        return out


class STSEvaluator(Evaluator):
    """Spearman and Pearson correlation of ``cos(a_i, b_i)`` with ``gold[i]``."""

    def __init__(self, inputs_a, inputs_b, gold, *, primary: str = "spearman", name: str = "sts",
                 batch_size: int = 256):
        super().__init__(name, check_choice("primary", primary, ("spearman", "pearson")), batch_size)
        check_inputs("inputs_a", inputs_a)
        check_length("inputs_b", inputs_b, len(inputs_a), "inputs_a")
        self.gold = as_vector("gold", as_array(gold), len(inputs_a))
        self.inputs = (inputs_a, inputs_b)

    def metrics(self, a, b):
        return {"spearman": similarity.sts_spearman(a, b, self.gold),
                "pearson": similarity.sts_pearson(a, b, self.gold)}


class RetrievalEvaluator(Evaluator):
    """:func:`~contrastkit.evaluate.retrieval_metrics` of ``queries`` against ``corpus``; primary
    metric ``ndcg@<largest k>`` unless given."""

    def __init__(self, queries, corpus, relevant, *, ks: Sequence[int] = (1, 10), primary: str | None = None,
                 backend: str = "exact", name: str = "retrieval", batch_size: int = 256):
        check_inputs("queries", queries)
        check_inputs("corpus", corpus)
        self.ks = check_ks(ks, len(corpus), "the corpus size")
        retrieval.relevance_grades(relevant, len(queries), len(corpus))
        keys = [f"{m}@{k}" for k in self.ks for m in ("recall", "mrr", "ndcg", "map")]
        super().__init__(name, check_choice("primary", primary or f"ndcg@{max(self.ks)}", keys), batch_size)
        self.relevant, self.backend = relevant, check_backend(backend)
        self.inputs = (queries, corpus)

    def metrics(self, queries, corpus):
        return retrieval.retrieval_metrics(queries, corpus, self.relevant, self.ks, backend=self.backend)


class RecommendationEvaluator(Evaluator):
    """:func:`~contrastkit.evaluate.recommendation_metrics` of ``users`` against ``items`` (inputs
    embedded by the same ``embed_fn``); primary metric ``recall@<largest K>`` unless given."""

    def __init__(self, users, items, test_items, train_items=None, *, ks: Sequence[int] = (10, 20),
                 cosine: bool = False, primary: str | None = None, name: str = "recommendation",
                 batch_size: int = 256):
        check_inputs("users", users)
        check_inputs("items", items)
        check_length("test_items", test_items, len(users), "users")
        if train_items is not None:
            check_length("train_items", train_items, len(users), "users")
        self.ks = check_ks(ks, len(items), "the number of items")
        keys = [f"{m}@{k}" for k in self.ks for m in ("recall", "ndcg")]
        super().__init__(name, check_choice("primary", primary or f"recall@{max(self.ks)}", keys), batch_size)
        self.test_items, self.train_items, self.cosine = test_items, train_items, bool(cosine)
        self.inputs = (users, items)

    def metrics(self, users, items):
        return recommendation_metrics(users, items, self.test_items, self.train_items, self.ks,
                                      cosine=self.cosine)


class AnomalyEvaluator(Evaluator):
    """AUROC of kNN cosine-distance scores of ``test_inputs`` against normal ``train_inputs``
    (``test_labels``: 1 = anomaly)."""

    def __init__(self, train_inputs, test_inputs, test_labels, *, k: int = 2, name: str = "anomaly",
                 batch_size: int = 256):
        super().__init__(name, "auroc", batch_size)
        check_inputs("train_inputs", train_inputs)
        check_inputs("test_inputs", test_inputs)
        self.k = check_positive_int("k", k, len(train_inputs), "the number of training inputs")
        self.test_labels = as_vector("test_labels", as_array(test_labels), len(test_inputs))
        if not np.isin(self.test_labels, (0.0, 1.0)).all() or np.unique(self.test_labels).size != 2:
            raise ValueError("test_labels: expected 0 (normal) and 1 (anomaly) values, both present")
        self.inputs = (train_inputs, test_inputs)

    def metrics(self, train_x, test_x):
        return {"auroc": anomaly.anomaly_auroc(train_x, test_x, self.test_labels, self.k)}


class SequentialEvaluator:
    """Runs several evaluators and merges their dicts; the primary metric is the ``primary``-th
    evaluator's."""

    def __init__(self, evaluators: Sequence[Evaluator], primary: int = 0):
        self.evaluators = tuple(evaluators)
        if not self.evaluators:
            raise ValueError("evaluators: expected at least one evaluator")
        names = [e.name for e in self.evaluators]
        if len(set(names)) != len(names):
            raise ValueError(f"evaluators: names must be distinct (keys would collide), got {names}")
        if not isinstance(primary, int) or not 0 <= primary < len(self.evaluators):
            raise ValueError(f"primary: expected an index in [0, {len(self.evaluators)}), got {primary!r}")
        self.primary_metric = self.evaluators[primary].primary_metric
        self.greater_is_better = self.evaluators[primary].greater_is_better

    def __call__(self, embed_fn: EmbedFn) -> dict[str, float]:
        merged: dict[str, float] = {}
        for evaluator in self.evaluators:
            merged.update(evaluator(embed_fn))
        return merged
