"""Evaluation contracts that mutation testing found open: errors name the argument at their start,
``chunk_size`` is passed on (and so validated) by every searching metric, cosines of short vectors,
boolean corpus indices, and ``SequentialEvaluator``'s default primary metric."""

import numpy as np
import pytest
import torch

from contrastkit.evaluate import (
    GeometryEvaluator,
    SequentialEvaluator,
    anomaly_auroc,
    knn_accuracy,
    knn_anomaly_scores,
    one_class_auroc,
    pair_cosines,
    recommendation_metrics,
    retrieval_metrics,
)
from tests.helpers import randn

X, Y = randn(6, 3, seed=1), [0, 1] * 3


@pytest.mark.parametrize("call, message", [
    (lambda: knn_accuracy(X, Y, torch.ones(4), [0, 1, 0, 1], k=2), r"^test_x"),
    (lambda: knn_anomaly_scores(X, torch.ones(4)), r"^test_x"),
    (lambda: one_class_auroc(X, [0, 1], X, Y), r"^train_y"),
    (lambda: retrieval_metrics(randn(2, 3), randn(5, 4), [{0}, {1}]), r"^corpus: .* queries's 3"),
    (lambda: recommendation_metrics(torch.ones(3), randn(5, 4), [[0], [1], [2]]), r"^user_embeddings"),
])
def test_errors_start_with_the_argument_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call", [
    lambda chunk: knn_accuracy(X, Y, X, Y, k=2, chunk_size=chunk),
    lambda chunk: knn_anomaly_scores(X, X, chunk_size=chunk),
    lambda chunk: anomaly_auroc(X, X, [0, 1] * 3, chunk_size=chunk),
    lambda chunk: recommendation_metrics(randn(3, 4), randn(5, 4, seed=2), [[0], [1], [2]], ks=(2,),
                                         chunk_size=chunk),
])
def test_chunk_size_is_passed_on_to_the_search(call):
    call(2)  # a valid chunk size runs
    with pytest.raises(ValueError, match=r"^chunk_size"):
        call(0)


def test_pair_cosines_of_short_vectors_are_exact():
    a = np.array([[1e-3, 0.0], [0.0, 2e-4], [3e-4, 4e-4]])
    b = np.array([[2e-3, 0.0], [0.0, -1e-4], [4e-4, 3e-4]])
    np.testing.assert_allclose(pair_cosines(a, b), [1.0, -1.0, 0.96], rtol=1e-12)


@pytest.mark.parametrize("bad", [True, np.bool_(False), 1.0])
def test_corpus_indices_must_be_ints_not_bools(bad):
    with pytest.raises(ValueError, match=r"^relevant\[1\]: index"):
        retrieval_metrics(randn(2, 3), randn(5, 3, seed=2), [{0}, {bad}], ks=(1,))


def test_sequential_evaluator_primary_defaults_to_the_first():
    first = GeometryEvaluator(["a", "b", "c"], primary="effective_rank", name="first")
    second = GeometryEvaluator(["a", "b", "c"], primary="uniformity", name="second")
    merged = SequentialEvaluator([first, second])
    assert merged.primary_metric == first.primary_metric and merged.greater_is_better is True
