r"""Tabular anomaly detection with CLAN on ``bio_train``: the ``clan-bio`` study and its baselines.

The ``clan-bio`` recipe trains CLAN (Wilkie et al., IEEE CSR 2025, arXiv:2509.06550) on benign rows
with the ordinary trainer (``contrastkit train``); :func:`clan_bio` scores held-out rows with the
trained encoder and with two baselines fitted on the same benign rows, all on the same standardised
features:

- CLAN centroid (the official score): :math:`-\cos(\bar z, z)`, :math:`\bar z` = mean embedding of
  the benign training rows;
- CLAN kNN: mean cosine distance to the ``k`` nearest benign training embeddings;
- raw-feature kNN (cosine and Euclidean) and scikit-learn's IsolationForest (200 trees);
- the untrained encoder (the same MLP at the run's initialisation) with the CLAN kNN score.

The recipe selects its checkpoint on the validation rows (``[[eval.tasks]] name = "anomaly"``, the
CLAN kNN AUROC with the same ``k``, every ``train.eval_every`` steps); the test rows are read here only.

With ``data.transform = "quantile"`` every feature goes through one quantile-to-normal map fitted
on the benign training rows (:func:`~contrastkit.data.one_class.bio_quantiles`) before the
standardisation, for CLAN and both baselines alike.

``split="validation"`` scores the labelled validation rows (``data.validation_rows`` after the test
rows, disjoint from both the test rows and the training rows) for choosing settings;
``split="test"`` the fixed test rows.
"""

from __future__ import annotations

import numpy as np
import torch

from ..evaluate import auroc
from .anomaly import embed, knn_auroc

SPLITS = ("test", "validation")


def euclidean_knn_auroc(train_x, test_x, anomaly, k: int = 5) -> float:
    """AUROC of the mean Euclidean distance to the ``k`` nearest normal rows (scikit-learn)."""
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=k).fit(train_x.numpy()).kneighbors(test_x.numpy())
    return auroc(distances.mean(axis=1), np.asarray(anomaly))


def isolation_forest_auroc(train_x, test_x, anomaly, seed: int = 0) -> float:
    """AUROC of scikit-learn's IsolationForest (200 trees, one job) fitted on the normal rows."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=1).fit(train_x.numpy())
    return auroc(-forest.score_samples(test_x.numpy()), np.asarray(anomaly))


def centroid_auroc(train_z, test_z, anomaly) -> float:
    r"""AUROC of CLAN's official score :math:`-\cos(\bar z, z)`, :math:`\bar z` = mean of ``train_z``."""
    center = torch.nn.functional.normalize(train_z.double().mean(0), dim=0)
    scores = -(torch.nn.functional.normalize(test_z.double(), dim=1) @ center)
    return auroc(scores.numpy(), np.asarray(anomaly))


def held_out_rows(options: dict, split: str):
    """The unstandardised test or validation rows of ``bio_train`` for the recipe's data options,
    through the recipe's feature transform (fitted on its benign training rows)."""
    from ..data.one_class import (
        BIO_TRANSFORMS,
        bio_quantiles,
        bio_train_one_class,
        bio_train_one_class_test,
        bio_train_one_class_validation,
    )

    if split not in SPLITS:
        raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    transform = options.get("transform", "none")
    if transform not in BIO_TRANSFORMS:
        raise ValueError(f"data.transform: expected one of {', '.join(BIO_TRANSFORMS)}, got {transform!r}")
    test_rows, seed = options.get("test_rows", 20000), options.get("subset_seed", 0)
    validation_rows = options.get("validation_rows", 0)
    if split == "test":
        rows = bio_train_one_class_test(test_rows, seed, standardize=False)
    elif not validation_rows:
        raise ValueError("data.validation_rows: set it (> 0) to score the validation split")
    else:
        rows = bio_train_one_class_validation(validation_rows, test_rows, seed, standardize=False)
    if transform == "quantile":
        normal = bio_train_one_class(options.get("max_rows"), test_rows, seed, False, validation_rows)
        rows.features = bio_quantiles(normal.features)(rows.features)
    return rows


def clan_bio(config, *, k: int = 5, split: str = "test", quiet: bool = True) -> dict[str, float]:
    """Train the ``clan-bio`` recipe (CLAN on benign ``bio_train`` rows, through the trainer) and
    score the ``split`` rows: CLAN's centroid and kNN scores vs kNN on raw features vs IsolationForest."""
    from .build import build_model, load_data
    from .inference import load_run_encoder
    from .runner import train

    options = dict(config.data.options)
    if options.get("standardize", True) is not True:
        raise ValueError("data.standardize: the CLAN study scores standardised features; keep it true")
    held_out = held_out_rows(options, split)  # bad split / validation settings fail before training
    run = train(config, "clan-bio", quiet=quiet, write_report=False)
    raw_config = config.model_copy(deep=True)
    raw_config.data.model_extra["standardize"] = False
    train_raw, _ = load_data(raw_config)  # the run's training split, before its standardisation
    mean = train_raw.inputs.mean(0)
    std = train_raw.inputs.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    normal, test_x = (train_raw.inputs - mean) / std, (held_out.inputs - mean) / std
    anomaly = held_out.labels.numpy()
    encoder, _ = load_run_encoder(run.run_dir.path, torch.device("cpu"))
    untrained = build_model(config, train_raw)  # the run's own initialisation (seeded by run.seed)
    untrained = untrained.towers[untrained.default].encoder
    train_z, test_z = embed(encoder, normal), embed(encoder, test_x)
    return {
        "raw-feature kNN (cosine)": knn_auroc(normal, test_x, anomaly, k),
        "raw-feature kNN (Euclidean)": euclidean_knn_auroc(normal, test_x, anomaly, k),
        "IsolationForest": isolation_forest_auroc(normal, test_x, anomaly, config.run.seed),
        "untrained encoder (kNN)": knn_auroc(embed(untrained, normal), embed(untrained, test_x), anomaly, k),
        "CLAN centroid": centroid_auroc(train_z, test_z, anomaly),
        "CLAN kNN": knn_auroc(train_z, test_z, anomaly, k),
    }
