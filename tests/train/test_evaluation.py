"""The run's default evaluation is made of contrastkit.evaluate evaluators and gives their numbers."""

import torch

from contrastkit import evaluate
from contrastkit.data import ImageData, TextData
from contrastkit.train.evaluation import held_out_evaluators


def _split():
    g = torch.Generator().manual_seed(0)
    train = ImageData(torch.rand(60, 1, 4, 4, generator=g), torch.arange(60) % 3)
    test = ImageData(torch.rand(30, 1, 4, 4, generator=g), torch.arange(30) % 3)
    return train, test


def test_metrics_equal_the_evaluate_functions_on_the_same_embeddings():
    train, test = _split()
    views = lambda x, generator: [x + 0.3 * torch.rand(x.shape, generator=generator) for _ in range(2)]  # noqa: E731
    embed = lambda x: torch.as_tensor(x).flatten(1) ** 2  # noqa: E731
    run = held_out_evaluators(train, test, views, ["knn", "linear_probe", "alignment", "uniformity",
                                                   "effective_rank"], knn_k=5, seed=0)
    metrics = run(embed)
    x_train, x_test = embed(train.images), embed(test.images)
    first, second = run.analysis_inputs[2]
    expected = {
        "knn_accuracy": evaluate.knn_accuracy(x_train, train.labels, x_test, test.labels, k=5),
        "linear_probe_accuracy": evaluate.linear_probe(x_train, train.labels, x_test, test.labels),
        "alignment": evaluate.alignment(embed(first), embed(second)),
        "uniformity": evaluate.uniformity(x_test),  # of the test rows, not of a view
        "effective_rank": evaluate.effective_rank(x_test),
    }
    assert metrics == expected
    assert set(run(embed, ["knn", "uniformity"])) == {"knn_accuracy", "uniformity"}


def test_identical_views_give_no_alignment():
    data = TextData([f"text {i}" for i in range(10)], torch.arange(10) % 2)
    run = held_out_evaluators(data, data, lambda x, g: [x, x], ["alignment", "uniformity"], 3, 0)
    embed = lambda texts: torch.tensor([[len(t), t.count("1") + 1.0] for t in texts])  # noqa: E731
    assert set(run(embed)) == {"uniformity"}
