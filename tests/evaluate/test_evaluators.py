"""Evaluators: same numbers as the functions, prefixed keys, fixed primary metric, no state."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import contrastkit.evaluate as E
from tests.helpers import randint, randn


class Lookup(nn.Module):
    """A model over integer ids: a fixed embedding table, dropout showing train/eval mode."""

    def __init__(self, table):
        super().__init__()
        self.table = nn.Parameter(table.float())
        self.dropout = nn.Dropout(0.5)

    def forward(self, ids):
        return self.dropout(self.table[torch.as_tensor(ids)])


TABLE = randn(40, 6, seed=1).float()
IDS = torch.arange(40)


def test_geometry_evaluator():
    ev = E.GeometryEvaluator(IDS[:20], IDS[20:], batch_size=7)
    model = Lookup(TABLE).train()
    got = ev(model)
    assert model.training  # mode given back
    x, y = TABLE[:20].float(), TABLE[20:].float()
    assert got == {"geometry/uniformity": E.uniformity(x), "geometry/effective_rank": E.effective_rank(x),
                   "geometry/anisotropy": E.anisotropy(x), "geometry/alignment": E.alignment(x, y)}
    assert ev.primary_metric == "geometry/uniformity" and not ev.greater_is_better
    assert ev.evaluate_embeddings(x, y) == got
    ranked = E.GeometryEvaluator(IDS, primary="effective_rank", name="geo")
    assert ranked.primary_metric == "geo/effective_rank" and ranked.greater_is_better


def test_probe_evaluator_matches_functions():
    labels = randint(3, 40, seed=2)
    ev = E.ProbeEvaluator(IDS[:30], labels[:30], IDS[30:], labels[30:], probes=("knn", "ncm", "linear"), k=5)
    got = ev(lambda ids: TABLE[ids])
    data = (TABLE[:30], labels[:30], TABLE[30:], labels[30:])
    assert got == {"probe/knn_accuracy": E.knn_accuracy(*data, k=5),
                   "probe/ncm_accuracy": E.nearest_class_mean_probe(*data),
                   "probe/linear_probe_accuracy": E.linear_probe(*data)}
    assert ev.primary_metric == "probe/knn_accuracy" and ev.greater_is_better


def test_sts_retrieval_recommendation_anomaly_evaluators():
    embed = Lookup(TABLE).eval()
    gold = np.linspace(0, 5, 10)
    sts = E.STSEvaluator(IDS[:10], IDS[10:20], gold)(embed)
    assert sts == {"sts/spearman": E.sts_spearman(TABLE[:10], TABLE[10:20], gold),
                   "sts/pearson": E.sts_pearson(TABLE[:10], TABLE[10:20], gold)}

    relevant = [{i, i + 1} for i in range(5)]
    ev = E.RetrievalEvaluator(IDS[:5], IDS[10:40], relevant, ks=(1, 5))
    assert ev(embed) == {f"retrieval/{k}": v for k, v in
                         E.retrieval_metrics(TABLE[:5], TABLE[10:40], relevant, (1, 5)).items()}
    assert ev.primary_metric == "retrieval/ndcg@5"

    test, train = [{0}, {1, 2}, set(), {5}], [{3}, set(), {1}, {6}]
    rec = E.RecommendationEvaluator(IDS[:4], IDS[4:40], test, train, ks=(3,))
    assert rec(embed) == {f"recommendation/{k}": v for k, v in
                          E.recommendation_metrics(TABLE[:4], TABLE[4:40], test, train, (3,)).items()}
    assert rec.primary_metric == "recommendation/recall@3"

    labels = np.array([0, 1] * 5)
    anomaly = E.AnomalyEvaluator(IDS[:20], IDS[20:30], labels, k=3)(embed)
    assert anomaly == {"anomaly/auroc": E.anomaly_auroc(TABLE[:20], TABLE[20:30], labels, 3)}


def test_sequential_evaluator_merges():
    labels = randint(2, 40, seed=3)
    probe = E.ProbeEvaluator(IDS[:30], labels[:30], IDS[30:], labels[30:], k=3)
    seq = E.SequentialEvaluator([E.GeometryEvaluator(IDS), probe], primary=1)
    got = seq(lambda ids: TABLE[ids])
    assert set(got) == {"geometry/uniformity", "geometry/effective_rank", "geometry/anisotropy",
                        "probe/knn_accuracy"}
    assert seq.primary_metric == "probe/knn_accuracy" and seq.greater_is_better
    assert all(isinstance(v, float) and math.isfinite(v) for v in got.values())
    with pytest.raises(ValueError, match="distinct"):
        E.SequentialEvaluator([E.GeometryEvaluator(IDS), E.GeometryEvaluator(IDS)])


@pytest.mark.parametrize("build, match", [
    (lambda: E.GeometryEvaluator(IDS, IDS[:3]), "pair_inputs"),
    (lambda: E.GeometryEvaluator(IDS, primary="alignment"), "primary"),
    (lambda: E.GeometryEvaluator([]), "inputs"),
    (lambda: E.ProbeEvaluator(IDS, [0] * 39, IDS, [0] * 40), "train_labels"),
    (lambda: E.ProbeEvaluator(IDS, [0] * 40, IDS, [0] * 40), "train_labels"),
    (lambda: E.ProbeEvaluator(IDS[:4], [0, 1, 0, 1], IDS, [0] * 40, k=5), "k"),
    (lambda: E.ProbeEvaluator(IDS[:4], [0, 1, 0, 1], IDS, [0] * 40, k=2, probes=("svm",)), "probes"),
    (lambda: E.STSEvaluator(IDS, IDS, [1.0] * 3), "gold"),
    (lambda: E.RetrievalEvaluator(IDS[:2], IDS[:5], [{0}, {9}], ks=(1,)), r"relevant\[1\]"),
    (lambda: E.RetrievalEvaluator(IDS[:2], IDS[:5], [{0}, {1}], ks=(6,)), "ks"),
    (lambda: E.RecommendationEvaluator(IDS[:2], IDS[:5], [{0}], ks=(1,)), "test_items"),
    (lambda: E.AnomalyEvaluator(IDS[:5], IDS[:4], [0, 0, 0, 0]), "test_labels"),
    (lambda: E.GeometryEvaluator(IDS, batch_size=0), "batch_size"),
    (lambda: E.GeometryEvaluator(IDS, name=""), "name"),
])
def test_mistakes_surface_at_construction(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_embeddings():
    ev = E.GeometryEvaluator(IDS)
    with pytest.raises(ValueError, match="embed_fn"):
        ev(lambda ids: TABLE[ids][:, 0])
    with pytest.raises(ValueError, match="embeddings"):
        ev.evaluate_embeddings(TABLE[:5])
    with pytest.raises(ValueError, match="embeddings"):
        ev.evaluate_embeddings(TABLE, TABLE)


def test_import_needs_no_optional_dependency_and_exports_everything():
    import subprocess
    import sys

    code = ("import sys, contrastkit.evaluate as E; "
            "assert not {'sklearn', 'scipy', 'faiss'} & {m.split('.')[0] for m in sys.modules}, 'optional'; "
            "assert all(hasattr(E, n) for n in E.__all__)")
    subprocess.run([sys.executable, "-c", code], check=True)
    for name in ("alignment", "uniformity", "effective_rank", "knn_accuracy", "linear_probe", "sts_spearman",
                 "retrieval_metrics", "auroc"):
        assert name in E.__all__
