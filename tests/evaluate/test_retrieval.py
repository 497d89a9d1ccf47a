"""Retrieval metrics: hand-computed cases (ties, several and graded relevant items), a naive
reference on random data, chunking and the FAISS backend."""

import math

import numpy as np
import pytest
import torch

from contrastkit.evaluate import retrieval_metrics
from tests.helpers import randn

L2, L3, L5 = math.log2(2), math.log2(3), math.log2(5)


def test_hand_computed_with_ties_and_graded_relevance():
    s = 1 / math.sqrt(2)
    corpus = np.array([[1, 0], [0, 1], [s, s], [-1, 0], [1, 0]], dtype=np.float32)
    queries = np.array([[2, 0], [0, 1]], dtype=np.float32)
    # query 0 ranks c0, c4 (tied at 1: lower index first), c2, c1, c3; relevant c4 (rank 2), c1 (rank 4)
    # query 1 ranks c1, c2, then c0, c3, c4 (tied at 0); relevant c2 (grade 1, rank 2), c0 (grade 3, rank 3)
    relevant = [{4, 1}, {2: 1.0, 0: 3.0}]
    got = retrieval_metrics(queries, corpus, relevant, ks=(1, 2, 4))
    expected = {
        "recall@1": 0.0, "recall@2": 0.5, "recall@4": 1.0,
        "mrr@1": 0.0, "mrr@2": 0.5, "mrr@4": 0.5,
        "ndcg@1": 0.0,
        "ndcg@2": 0.5 * ((1 / L3) / (1 + 1 / L3) + (1 / L3) / (3 + 1 / L3)),
        "ndcg@4": 0.5 * ((1 / L3 + 1 / L5) / (1 + 1 / L3) + (1 / L3 + 3 / 2) / (3 + 1 / L3)),
        "map@1": 0.0, "map@2": 0.25, "map@4": 0.5 * ((1 / 2 + 2 / 4) / 2 + (1 / 2 + 2 / 3) / 2),
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=1e-12, abs_tol=1e-12), key
    assert all(isinstance(v, float) for v in got.values())


def test_perfect_ranking_scores_one():
    corpus = torch.eye(4)
    got = retrieval_metrics(corpus.clone(), corpus, [{0}, {1}, {2: 2.0}, [3]], ks=(1, 3))
    assert all(math.isclose(v, 1.0) for v in got.values())
    # two relevant items ranked first: MAP@1 and nDCG@1 are 1 (divided by min(k, |R|)), recall@1 is 1/2
    two = retrieval_metrics(torch.tensor([[1.0, 1.0, 0.0]]), torch.eye(3), [{0, 1}], ks=(1, 2))
    assert two == {"recall@1": 0.5, "mrr@1": 1.0, "ndcg@1": 1.0, "map@1": 1.0,
                   "recall@2": 1.0, "mrr@2": 1.0, "ndcg@2": 1.0, "map@2": 1.0}


def ref_retrieval(queries, corpus, relevant, ks):
    """Per query: full sort by (-cosine, index) in float64, metrics by their definitions."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    sums = {}
    for i, rel in enumerate(relevant):
        grades = rel if isinstance(rel, dict) else {j: 1.0 for j in rel}
        positive = {j: g for j, g in grades.items() if g > 0}
        sims = c @ q[i]
        order = sorted(range(len(c)), key=lambda j: (-sims[j], j))
        for k in ks:
            top = order[:k]
            found = [r for r, j in enumerate(top, start=1) if j in positive]
            dcg = sum(positive.get(j, 0.0) / math.log2(r + 1) for r, j in enumerate(top, start=1))
            ideal = sorted(positive.values(), reverse=True)[:k]
            idcg = sum(g / math.log2(r + 1) for r, g in enumerate(ideal, start=1))
            precisions = [n / r for n, r in enumerate(found, start=1)]
            values = {"recall": len(found) / len(positive), "mrr": 1 / found[0] if found else 0.0,
                      "ndcg": dcg / idcg, "map": sum(precisions) / min(k, len(positive))}
            for name, v in values.items():
                sums[f"{name}@{k}"] = sums.get(f"{name}@{k}", 0.0) + v
    return {key: v / len(relevant) for key, v in sums.items()}


def random_relevance(num_queries, corpus_size, seed):
    rng = np.random.default_rng(seed)
    relevant = []
    for i in range(num_queries):
        items = rng.choice(corpus_size, size=rng.integers(1, 5), replace=False)
        if i % 2:
            relevant.append({int(j): float(rng.integers(0, 4)) for j in items} | {int(items[0]): 2.0})
        else:
            relevant.append({int(j) for j in items})
    return relevant


@pytest.mark.parametrize("chunk", [None, 1, 4])
def test_matches_naive_reference(chunk):
    queries, corpus = randn(13, 6, seed=1).numpy(), randn(40, 6, seed=2).numpy()
    relevant = random_relevance(13, 40, seed=3)
    ks = (1, 5, 10, 40)
    got = retrieval_metrics(torch.from_numpy(queries).float(), corpus, relevant, ks, chunk_size=chunk)
    expected = ref_retrieval(queries, corpus, relevant, ks)
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-12), key


def test_faiss_backend_gives_identical_results():
    pytest.importorskip("faiss")
    queries, corpus = randn(50, 16, seed=4), randn(300, 16, seed=5)
    relevant = random_relevance(50, 300, seed=6)
    exact = retrieval_metrics(queries, corpus, relevant, ks=(1, 10, 100))
    assert retrieval_metrics(queries, corpus, relevant, ks=(1, 10, 100), backend="faiss") == exact


@pytest.mark.parametrize("kwargs, match", [
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}]), "relevant"),
    (dict(queries=randn(2, 3), corpus=randn(5, 4), relevant=[{0}, {1}]), "corpus"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, {1}], ks=(6,)), "ks"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, {1}], ks=(0,)), "ks"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, {1}], ks=()), "ks"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, set()]), r"relevant\[1\]"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, {1: 0.0}]), r"relevant\[1\]"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, {5}]), r"relevant\[1\]"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, {1: -1.0}]), r"relevant\[1\]"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, 1]), r"relevant\[1\]"),
    (dict(queries=randn(0, 3), corpus=randn(5, 3), relevant=[]), "queries"),
    (dict(queries=randn(2, 3), corpus=randn(0, 3), relevant=[{0}, {1}]), "corpus"),
    (dict(queries=randn(2, 3), corpus=randn(5, 3), relevant=[{0}, {1}], backend="hnsw"), "backend"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        retrieval_metrics(**{"ks": (1, 2), **kwargs})


@pytest.mark.gpu
def test_cuda_inputs_give_the_cpu_result():
    queries, corpus = randn(20, 8, seed=1), randn(60, 8, seed=2)
    relevant = random_relevance(20, 60, seed=3)
    cpu = retrieval_metrics(queries, corpus, relevant, ks=(1, 10))
    gpu = retrieval_metrics(queries.cuda(), corpus.cuda(), relevant, ks=(1, 10))
    assert gpu == pytest.approx(cpu)
