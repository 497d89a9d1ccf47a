r"""One-class anomaly detection on top of a recipe run: kNN scores, AUROC, mean-shifted fine-tuning.

Recipes ``msc-fashion-mnist`` and ``clan-bio`` train their contrastive stage on normal rows only,
with the ordinary trainer (``contrastkit train``). This module scores the result: the anomaly score
of a test row is the mean cosine distance to its ``k`` nearest normal training features
(:func:`~contrastkit.evaluate.knn_anomaly_scores`), reported as AUROC (anomaly = positive).

Mean-Shifted Contrastive Loss (Reiss & Hoshen, AAAI 2023, arXiv:2106.03844) fine-tunes the
pretrained encoder with :class:`~contrastkit.losses.MeanShifted` around the center
:math:`c` = normalised mean of the pretrained, normalised features of the normal training set,
computed once before fine-tuning and held fixed, as the official code. That stage is a small loop
here (:func:`mean_shifted_finetune`) until the trainer can hold a loss center.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..evaluate import auroc, knn_anomaly_scores
from ..losses import MeanShifted
from ..losses.mean_shifted import mean_shifted_center
from ..train.embedding import embed_all


def flat(inputs: torch.Tensor) -> torch.Tensor:
    return inputs.flatten(1).float()


def knn_auroc(train_features, test_features, anomaly, k: int = 2) -> float:
    """AUROC of the kNN anomaly score (k nearest normal training rows, cosine distance)."""
    return auroc(knn_anomaly_scores(train_features, test_features, k), np.asarray(anomaly))


def embed(encoder: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return embed_all(encoder, inputs, torch.device("cpu"), 512)


def mean_shifted_finetune(encoder: torch.nn.Module, normal_inputs: torch.Tensor, views, *, steps: int = 100,
                          batch_size: int = 64, lr: float = 1e-4, temperature: float = 0.25,
                          angular: bool = False, seed: int = 0) -> torch.nn.Module:
    """A copy of ``encoder`` fine-tuned with :class:`MeanShifted` on two ``views`` of batches of
    ``normal_inputs`` (Adam, constant ``lr``; the official code uses SGD 1e-5 with weight decay
    5e-5 on an ImageNet ResNet; a small CNN trained from scratch here needs a larger step)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
    model = copy.deepcopy(encoder).train()
    center = mean_shifted_center(embed(model, normal_inputs))
    loss_fn = MeanShifted(temperature, angular=angular)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n = len(normal_inputs)
    for _ in range(steps):
        index = torch.randint(n, (min(batch_size, n),), generator=generator)
        first, second = views(normal_inputs[index], generator)[:2]
        loss = loss_fn(model(first), model(second), center)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"mean-shifted loss is {float(loss)}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def one_class_msc(config, normal_class: int, *, msc_steps: int = 100, msc_lr: float = 1e-4, k: int = 2,
                  quiet: bool = True) -> dict[str, float]:
    """Pretrain the recipe ``config`` on ``normal_class`` (contrastive, unlabelled normal images,
    through the trainer), then fine-tune with MSC; AUROC on the 10,000 Fashion-MNIST test images
    for raw pixels, the pretrained encoder and the fine-tuned one."""
    from ..data.one_class import check_normal_class, fashion_mnist_one_class_test
    from .build import build_components, load_data
    from .inference import load_run_encoder
    from .runner import train

    check_normal_class(normal_class)
    config = config.model_copy(deep=True)
    config.data.model_extra["normal_class"] = normal_class
    run = train(config, f"msc-class{normal_class}", quiet=quiet, write_report=False)
    train_data, _ = load_data(config)
    views = build_components(config).views
    test = fashion_mnist_one_class_test(normal_class, config.data.options.get("path"))
    normal, anomaly = train_data.inputs, test.labels.numpy()
    encoder, _ = load_run_encoder(run.run_dir.path, torch.device("cpu"))
    tuned = mean_shifted_finetune(encoder, normal, views, steps=msc_steps, lr=msc_lr, seed=config.run.seed)
    return {
        "raw pixels": knn_auroc(flat(normal), flat(test.inputs), anomaly, k),
        "pretrained": knn_auroc(embed(encoder, normal), embed(encoder, test.inputs), anomaly, k),
        "after MSC": knn_auroc(embed(tuned, normal), embed(tuned, test.inputs), anomaly, k),
    }

