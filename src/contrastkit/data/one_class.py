"""One-class anomaly-detection data: the normal rows a detector trains on, and a labelled test set.

- Fashion-MNIST (Debian's ``dataset-fashion-mnist`` IDX files): class ``normal_class`` of the
  60,000 training images is the normal training set; all 10,000 official test images are the test
  set, anomaly = any other class (the one-class protocol of Reiss & Hoshen, 2023, arXiv:2106.03844).
- KDD-Cup-2004 ``bio_train`` (:func:`~contrastkit.data.widedeep.load_bio_train`): a fixed random
  ``test_rows`` rows are the test set (0.89% positives = anomalies), the next ``validation_rows``
  a labelled validation set; the benign rows after both are the normal training set.
"""

from __future__ import annotations

from pathlib import Path

import torch

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")


def check_normal_class(normal_class, classes: int = 10) -> int:
    if isinstance(normal_class, bool) or not isinstance(normal_class, int) or not 0 <= normal_class < classes:
        raise ValueError(f"normal_class: expected a class index 0..{classes - 1}, got {normal_class!r} "
                         "(no such class)")
    return normal_class


def fashion_mnist_split(path: str | None, part: str):
    from .idx import load_idx

    folder = Path(path or FASHION_MNIST_DIR)
    prefix = {"train": "train", "test": "t10k"}[part]
    images = folder / f"{prefix}-images-idx3-ubyte.gz"
    if not images.is_file():
        raise ValueError(f"path: no Fashion-MNIST IDX files in {folder} "
                         "(apt-get install dataset-fashion-mnist, or set data.path to their folder)")
    return load_idx(images, folder / f"{prefix}-labels-idx1-ubyte.gz")


def fashion_mnist_one_class(normal_class: int = 0, path: str | None = None, max_rows: int | None = None):
    """The training images of ``normal_class`` (6,000; the first ``max_rows`` if set), labelled 0."""
    check_normal_class(normal_class)
    data = fashion_mnist_split(path, "train")
    keep = torch.nonzero(data.labels == normal_class).flatten()
    if max_rows is not None:
        keep = keep[:max_rows]
    normal = data.subset(keep)
    normal.labels = torch.zeros(len(keep), dtype=torch.long)
    return normal


def fashion_mnist_one_class_test(normal_class: int, path: str | None = None):
    """The 10,000 test images with anomaly labels: 1 when the class is not ``normal_class``."""
    check_normal_class(normal_class)
    data = fashion_mnist_split(path, "test")
    data.labels = (data.labels != normal_class).long()
    return data


def _check_bio_rows(test_rows, validation_rows) -> None:
    for name, value, low in (("test_rows", test_rows, 1), ("validation_rows", validation_rows, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")


BIO_TRANSFORMS = ("none", "quantile")


def bio_train_one_class(max_rows: int | None = None, test_rows: int = 20000, subset_seed: int = 0,
                        standardize: bool = True, validation_rows: int = 0, transform: str = "none"):
    """Benign rows of ``bio_train`` after the test and validation rows (the first ``max_rows`` of
    them), labelled 0; ``transform="quantile"`` maps each feature through :func:`bio_quantiles`
    fitted on exactly these rows. With ``validation_rows`` the result's ``labelled_validation()``
    gives the labelled validation rows through the same map: the trainer's validation split
    (:func:`~contrastkit.recipes.splits.load_splits`), so a run can select its checkpoint on them."""
    from .widedeep import load_bio_train

    _check_bio_rows(test_rows, validation_rows)
    if transform not in BIO_TRANSFORMS:
        raise ValueError(f"transform: expected one of {', '.join(BIO_TRANSFORMS)}, got {transform!r}")
    data = load_bio_train(None, standardize, subset_seed)
    rest = data.subset(torch.arange(test_rows + validation_rows, len(data)))
    keep = torch.nonzero(rest.labels == 0).flatten()
    normal = rest.subset(keep if max_rows is None else keep[:max_rows])
    mapped = bio_quantiles(normal.features) if transform == "quantile" else None
    if mapped is not None:
        normal.features = mapped(normal.features)
    if validation_rows:
        normal.labelled_validation = lambda: _mapped_validation(validation_rows, test_rows, subset_seed,
                                                                standardize, mapped)
    return normal


def _mapped_validation(validation_rows, test_rows, subset_seed, standardize, mapped):
    rows = bio_train_one_class_validation(validation_rows, test_rows, subset_seed, standardize)
    if mapped is not None:
        rows.features = mapped(rows.features)
    return rows


def bio_quantiles(train_features: torch.Tensor):
    """A function mapping rows through scikit-learn's ``QuantileTransformer`` (1,000 quantiles or one
    per row if fewer, normal output, ``random_state=0``) fitted on ``train_features``: the same fit for
    the same rows, so training rows, held-out rows and every baseline share one transform.
    bio_train's features are heavy-tailed (its positives have 31% of their standardised values
    beyond 1.7)."""
    from sklearn.preprocessing import QuantileTransformer

    fitted = QuantileTransformer(n_quantiles=min(1000, len(train_features)), output_distribution="normal",
                                 random_state=0)
    fitted.fit(train_features.double().numpy())

    def apply(features: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(fitted.transform(features.double().numpy())).to(features.dtype)

    return apply


def bio_train_one_class_test(test_rows: int = 20000, subset_seed: int = 0, standardize: bool = True):
    """The ``test_rows`` test rows of ``bio_train`` (the first of its shuffled rows); label 1 =
    positive (anomaly)."""
    from .widedeep import load_bio_train

    _check_bio_rows(test_rows, 0)
    return load_bio_train(None, standardize, subset_seed).subset(torch.arange(test_rows))


def bio_train_one_class_validation(validation_rows: int, test_rows: int = 20000, subset_seed: int = 0,
                                   standardize: bool = True):
    """The ``validation_rows`` labelled rows right after the test rows: disjoint from the test rows
    and from every training row, for choosing settings without reading the test set."""
    from .widedeep import load_bio_train

    _check_bio_rows(test_rows, validation_rows)
    if validation_rows < 1:
        raise ValueError(f"validation_rows: expected an int >= 1, got {validation_rows!r}")
    data = load_bio_train(None, standardize, subset_seed)
    return data.subset(torch.arange(test_rows, test_rows + validation_rows))
