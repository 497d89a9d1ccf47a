"""Zero-shot classification and prompt/image retrieval: a hand-built case and a naive loop reference."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import contrastkit.evaluate as E
from tests.helpers import randint, randn


def naive_zero_shot(images, labels, prompts, owner, num_classes, unseen, ks, ndcg_k):
    """Loops in float64, written from CLIP's prompt-ensembling description (Radford et al. 2021)."""
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    images = [unit(np.asarray(x, dtype=np.float64)) for x in images]
    prompts = [unit(np.asarray(p, dtype=np.float64)) for p in prompts]
    weights = [unit(sum(p for p, o in zip(prompts, owner) if o == c)) for c in range(num_classes)]

    def best(x, classes):
        scores = [float(x @ weights[c]) for c in classes]
        return classes[int(np.argmax(scores))]  # argmax keeps the first (lowest) index on ties

    everything = list(range(num_classes))
    pred = [best(x, everything) for x in images]
    out = {"accuracy": np.mean([p == y for p, y in zip(pred, labels)])}
    if unseen:
        seen_rows = [i for i, y in enumerate(labels) if y not in unseen]
        unseen_rows = [i for i, y in enumerate(labels) if y in unseen]
        out["seen_accuracy"] = np.mean([pred[i] == labels[i] for i in seen_rows])
        out["unseen_accuracy"] = np.mean([pred[i] == labels[i] for i in unseen_rows])
        out["unseen_accuracy_among_unseen"] = np.mean([best(images[i], sorted(unseen)) == labels[i]
                                                       for i in unseen_rows])
        s, u = out["seen_accuracy"], out["unseen_accuracy"]
        out["harmonic_mean"] = 0.0 if s + u == 0 else 2 * s * u / (s + u)
    for direction, queries, q_class, corpus, c_class in (
            ("text_to_image", prompts, owner, images, labels),
            ("image_to_text", images, labels, prompts, owner)):
        per_query = {}
        for q, qc in zip(queries, q_class):
            if qc not in c_class:
                continue
            scores = [float(q @ c) for c in corpus]
            order = sorted(range(len(corpus)), key=lambda j: (-scores[j], j))
            rel = [c_class[j] == qc for j in order]
            n_rel = sum(c == qc for c in c_class)
            for k in ks:
                per_query.setdefault(f"recall@{k}", []).append(sum(rel[:k]) / n_rel)
                per_query.setdefault(f"hit@{k}", []).append(float(any(rel[:k])))
                per_query.setdefault(f"precision@{k}", []).append(sum(rel[:k]) / k)
            dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rel[:ndcg_k]))
            ideal = sum(1 / math.log2(i + 2) for i in range(min(ndcg_k, n_rel)))
            per_query.setdefault(f"ndcg@{ndcg_k}", []).append(dcg / ideal)
        out.update({f"{direction}_{key}": np.mean(v) for key, v in per_query.items()})
    return out


def test_hand_built_case():
    # Three classes on the axes of the plane and a diagonal; two templates per class.
    prompts = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0], [-1.0, -1.0], [-2.0, -2.0]])
    owner = [0, 0, 1, 1, 2, 2]
    images = torch.tensor([[0.9, 0.1], [0.2, 1.0], [-1.0, -0.8], [1.0, -0.1], [0.3, 0.8]])
    labels = [0, 1, 2, 1, 2]  # images 3 and 4 sit nearest classes 0 and 1: 3 of 5 right
    got = E.zero_shot_metrics(images, labels, prompts, owner, 3, unseen_classes=[2], ks=(1, 2), ndcg_k=2)
    assert got["accuracy"] == pytest.approx(3 / 5)
    assert got["seen_accuracy"] == pytest.approx(2 / 3)
    assert got["unseen_accuracy"] == pytest.approx(1 / 2)
    assert got["unseen_accuracy_among_unseen"] == 1.0  # only class 2 to choose from
    assert got["harmonic_mean"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    # Prompt 0 ("class 0") ranks images 0, 3 first: both class 0 or 1; image 0 is its one relevant image.
    assert got["image_to_text_hit@1"] == pytest.approx(3 / 5)
    predictions = E.zero_shot_predictions(images, E.class_embeddings(prompts, owner, 3))
    assert predictions.tolist() == [0, 1, 2, 0, 1]
    assert E.confusion_matrix(labels, predictions, 3).tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]


@pytest.mark.parametrize("unseen", [(), (1, 3)])
def test_matches_naive_reference(unseen):
    images, prompts = randn(60, 5, seed=1), randn(12, 5, seed=2)
    labels = randint(4, 60, seed=3).numpy()
    owner = np.repeat(np.arange(4), 3)
    got = E.zero_shot_metrics(images, labels, prompts, owner, 4, unseen_classes=unseen, ks=(1, 5, 10))
    ref = naive_zero_shot(images.numpy(), labels.tolist(), prompts.numpy(), owner.tolist(), 4,
                          set(unseen), (1, 5, 10), 10)
    assert got.keys() == ref.keys()
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=1e-6), key


def test_a_class_with_no_test_image_is_skipped_as_a_query():
    images, prompts = randn(20, 4, seed=4), randn(6, 4, seed=5)
    labels = randint(2, 20, seed=6).numpy()  # class 2 has prompts but no image
    owner = np.array([0, 0, 1, 1, 2, 2])
    got = E.zero_shot_metrics(images, labels, prompts, owner, 3, ks=(1, 5), ndcg_k=5)
    ref = naive_zero_shot(images.numpy(), labels.tolist(), prompts.numpy(), owner.tolist(), 3, set(),
                          (1, 5), 5)
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=1e-6), key


class Tower(nn.Module):
    """Embeds ids from a fixed table; dropout shows that the evaluator switches to eval mode."""

    def __init__(self, table):
        super().__init__()
        self.table = table
        self.dropout = nn.Dropout(0.5)

    def forward(self, ids):
        return self.dropout(self.table[torch.as_tensor(ids)])


def test_evaluator_with_two_towers_equals_the_function():
    image_table = randn(30, 4, seed=7).float()
    names = ["shirt", ["trouser", "pants"], "bag"]
    templates = ["a photo of a {}.", "a grey {}"]
    prompts, owner = E.class_prompts(names, templates)
    assert prompts[:4] == ["a photo of a shirt.", "a grey shirt", "a photo of a trouser.", "a grey trouser"]
    assert owner.tolist() == [0, 0, 1, 1, 1, 1, 2, 2]
    text_table = {p: randn(4, seed=20 + i).float() for i, p in enumerate(prompts)}
    labels = randint(3, 30, seed=8)
    image_tower = Tower(image_table).train()
    text_tower = lambda batch: torch.stack([text_table[p] for p in batch])  # noqa: E731
    ev = E.ZeroShotEvaluator(torch.arange(30), labels, names, templates, unseen_classes=["bag"], ks=(1, 5),
                             ndcg_k=5, batch_size=7)
    got = ev({"image": image_tower, "text": text_tower})
    assert image_tower.training  # mode given back
    want = E.zero_shot_metrics(image_table, labels, torch.stack([text_table[p] for p in prompts]), owner, 3,
                               unseen_classes=[2], ks=(1, 5), ndcg_k=5)
    assert got == {f"zero_shot/{k}": v for k, v in want.items()}
    assert ev.primary_metric == "zero_shot/accuracy" and ev.greater_is_better
    with pytest.raises(ValueError, match="embed_fn"):
        ev({"image": image_tower})


@pytest.mark.parametrize("kwargs, name", [
    (dict(templates=["a photo"]), r"templates\[0\]"),
    (dict(templates="a {}"), "templates"),
    (dict(class_names=["one"]), "class_names"),
    (dict(class_names=["a", ""]), r"class_names\[1\]"),
    (dict(unseen_classes=["hat"]), "unseen_classes"),
    (dict(unseen_classes=[0, 1]), "unseen_classes"),
    (dict(unseen_classes=[5]), "unseen_classes"),
    (dict(labels=[0, 1, 3, 0]), "labels"),
    (dict(labels=[0, 0, 0, 0], unseen_classes=[1]), "labels"),
    (dict(ks=(9,)), "ks"),
    (dict(ndcg_k=9), "ndcg_k"),
    (dict(primary="seen_accuracy"), "primary"),
])
def test_evaluator_bad_input(kwargs, name):
    args = dict(images=torch.arange(4), labels=[0, 1, 1, 0], class_names=["a", "b"],
                templates=["x {}", "y {}"], ks=(1,), ndcg_k=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        E.ZeroShotEvaluator(**args)


def test_function_bad_input():
    x, p = randn(4, 3), randn(4, 3)
    with pytest.raises(ValueError, match="prompt_classes"):
        E.zero_shot_metrics(x, [0, 1, 0, 1], p, [0, 0, 0, 0], 2, ks=(1,))
    with pytest.raises(ValueError, match="labels"):
        E.zero_shot_metrics(x, [0, 1, 0], p, [0, 0, 1, 1], 2, ks=(1,))
    with pytest.raises(ValueError, match="prompt_embeddings"):
        E.zero_shot_metrics(x, [0, 1, 0, 1], randn(4, 2), [0, 0, 1, 1], 2, ks=(1,))
    with pytest.raises(ValueError, match="labels"):
        E.zero_shot_metrics(x, [0.0, 1.0, 0.0, 1.0], p, [0, 0, 1, 1], 2, ks=(1,))
