r"""One-class anomaly detection on top of a recipe run: kNN scores, AUROC, mean-shifted fine-tuning.

Recipes ``msc-fashion-mnist`` and ``clan-bio`` train their contrastive stage on normal rows only,
with the ordinary trainer (``contrastkit train``). This module scores the result: the anomaly score
of a test row is the mean cosine distance to its ``k`` nearest normal training features
(:func:`~contrastkit.evaluate.knn_anomaly_scores`), reported as AUROC (anomaly = positive).

Mean-Shifted Contrastive Loss (Reiss & Hoshen, AAAI 2023, arXiv:2106.03844) fine-tunes the
pretrained encoder with :class:`~contrastkit.losses.MeanShifted` around the center
:math:`c` = normalised mean of the pretrained, normalised features of the normal training set,
computed once before fine-tuning and held fixed, as the official code. That stage is a small loop
here (:func:`mean_shifted_finetune`) until the trainer can hold a loss center. The paper starts from
an ImageNet network; :func:`load_pretrained` starts from one contrastive run on unlabelled images
(e.g. ``simclr-fashion-mnist``) shared by all ten normal classes, :func:`one_class_msc` (the older
variant) from a ``msc-fashion-mnist`` run on the normal class's images only.
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
                          angular: bool = False, optimizer: str = "adam", weight_decay: float = 0.0,
                          seed: int = 0, callback=None) -> torch.nn.Module:
    """A copy of ``encoder`` fine-tuned with :class:`MeanShifted` on two ``views`` of batches of
    ``normal_inputs``, constant ``lr`` (``optimizer`` "adam" or "sgd"; the official code uses SGD
    1e-5, weight decay 5e-5, on an ImageNet ResNet). As there, the center is computed once, before
    the first step, and the network stays in eval mode (BatchNorm keeps its running statistics).
    ``callback(step, model)`` runs after every step (e.g. to score the model on a validation set)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
    optimizers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
    if optimizer not in optimizers:
        raise ValueError(f"optimizer: expected one of {sorted(optimizers)}, got {optimizer!r}")
    model = copy.deepcopy(encoder).eval()
    center = mean_shifted_center(embed(model, normal_inputs))
    loss_fn = MeanShifted(temperature, angular=angular)
    update = optimizers[optimizer](model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    n = len(normal_inputs)
    for step in range(1, steps + 1):
        index = torch.randint(n, (min(batch_size, n),), generator=generator)
        first, second = views(normal_inputs[index], generator)[:2]
        loss = loss_fn(model(first), model(second), center)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"mean-shifted loss is {float(loss)}")
        update.zero_grad(set_to_none=True)
        loss.backward()
        update.step()
        if callback is not None:
            callback(step, model)
    return model


def pooled(encoder: torch.nn.Module) -> torch.nn.Module:
    """A ``small_cnn`` encoder without its last linear map: the pooled convolutional features (the
    analogue of the paper's ResNet with ``fc`` removed). It shares the encoder's weights."""
    if not all(hasattr(encoder, part) for part in ("features", "pool")):
        raise ValueError(f"features: 'pooled' needs a small_cnn encoder, got {type(encoder).__name__}")
    return torch.nn.Sequential(encoder.features, encoder.pool, torch.nn.Flatten())


FEATURES = {"encoder": lambda encoder: encoder, "pooled": pooled}


def load_pretrained(run_dir) -> tuple[torch.nn.Module, object, object]:
    """``(encoder, views, config)`` of a finished image run (e.g. ``simclr-fashion-mnist``): the
    encoder MSC starts from and the augmentations it was pretrained with."""
    from pathlib import Path

    from .build import build_components
    from .inference import load_run_encoder
    from .runner import read_run_config

    if not Path(run_dir).is_dir():
        raise ValueError(f"pretrained: no run directory {run_dir}")
    config = read_run_config(run_dir)
    encoder, spec = load_run_encoder(run_dir, torch.device("cpu"))
    if spec.get("kind") != "image":
        raise ValueError(f"pretrained: the run {run_dir} does not hold an image encoder")
    return encoder, build_components(config).views, config


def one_class_split(config, normal_class: int, part: str, folder: str | None = None):
    """``(normal training images, evaluation images, anomaly labels)`` for ``normal_class``.

    ``part="test"``: all 6,000 training images of the class; the official 10,000 test images.
    ``part="validation"``: the class's images in the pretraining run's training split; that run's
    validation split (images the pretraining never saw), anomaly = any other class."""
    from ..data.one_class import check_normal_class, fashion_mnist_one_class, fashion_mnist_one_class_test
    from .splits import load_splits

    check_normal_class(normal_class)
    if part == "test":
        test = fashion_mnist_one_class_test(normal_class, folder)
        return fashion_mnist_one_class(normal_class, folder).inputs, test.inputs, test.labels.numpy()
    if part != "validation":
        raise ValueError(f"part: expected 'test' or 'validation', got {part!r}")
    splits = load_splits(config)
    if splits.validation is None or splits.train.labels is None:
        raise ValueError("pretrained: the run has no labelled validation split (data.validation_fraction, "
                         "data.labels_path) to select MSC settings on")
    train, validation = splits.train, splits.validation
    normal = train.inputs[train.labels == normal_class]
    return normal, validation.inputs, (validation.labels != normal_class).long().numpy()


def msc_aurocs(encoder, views, normal, inputs, anomaly, *, features: str = "encoder", k: int = 2,
               score_steps=(), **finetune) -> dict[str, float]:
    """AUROC of kNN on raw pixels, on the pretrained ``features`` and on them after MSC fine-tuning
    (``finetune``: :func:`mean_shifted_finetune` options); ``score_steps`` adds the AUROC after
    each of those steps (columns ``"MSC step S"``), for choosing the steps on a validation set."""
    if features not in FEATURES:
        raise ValueError(f"features: expected one of {sorted(FEATURES)}, got {features!r}")
    model = FEATURES[features](encoder)

    def score(net):
        return knn_auroc(embed(net, normal), embed(net, inputs), anomaly, k)

    result = {"raw pixels": knn_auroc(flat(normal), flat(inputs), anomaly, k), "pretrained": score(model)}
    wanted = set(score_steps)

    def callback(step, net):
        if step in wanted:
            result[f"MSC step {step}"] = score(net)

    result["after MSC"] = score(mean_shifted_finetune(model, normal, views, callback=callback, **finetune))
    return result


def one_class_msc(config, normal_class: int, *, msc_steps: int = 100, msc_lr: float = 1e-4, k: int = 2,
                  quiet: bool = True) -> dict[str, float]:
    """The per-class variant: pretrain the recipe ``config`` (``msc-fashion-mnist``) on the
    unlabelled images of ``normal_class`` only, through the trainer, then :func:`msc_aurocs` on
    the 10,000 Fashion-MNIST test images."""
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
    encoder, _ = load_run_encoder(run.run_dir.path, torch.device("cpu"))
    return msc_aurocs(encoder, views, train_data.inputs, test.inputs, test.labels.numpy(), k=k,
                      steps=msc_steps, lr=msc_lr, seed=config.run.seed)

