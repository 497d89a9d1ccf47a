"""Train / validation / test splits of the configured data: shares of one source, or user files.

The test split is drawn first, exactly as before validation existed (same seed, same rows); the
validation share is then drawn from the rest, so ``validation_fraction`` is a share of all rows.
``data.validation_path`` / ``data.test_path`` read those splits from their own files with the same
source settings (e.g. the same ``[data.fields]`` mapping). A source whose data has a
``labelled_validation()`` (``bio_train_one_class`` with ``validation_rows``) gives its own validation
split, used when neither a share nor a file is set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import train_test_split
from ..train.config import Config, ConfigError
from .registry import DATA_SOURCES


@dataclass
class Splits:
    train: object
    validation: object | None
    test: object


def read_source(config: Config, path: str | None):
    options = dict(config.data.options)
    if path is not None:
        options["path"] = path
    data = DATA_SOURCES.build(config.data.name, options)
    if config.data.max_samples is not None and config.data.max_samples < len(data):
        data = data.subset(torch.arange(config.data.max_samples))
    return data


def load_splits(config: Config) -> Splits:
    section, seed = config.data, config.run.seed
    data = read_source(config, section.path)
    by_group = getattr(data, "held_out_splits", None)  # pairs: whole groups held out
    if by_group is not None and section.test_path is None and section.validation_path is None:
        try:
            return Splits(*by_group(section.test_fraction, section.validation_fraction, seed))
        except ValueError as err:
            raise ConfigError(str(err)) from err
    if section.test_path is not None:
        train, test = data, read_source(config, section.test_path)
        held_out = 0.0
    else:
        train, test = train_test_split(data, section.test_fraction, seed)
        held_out = section.test_fraction
    validation = None
    if section.validation_path is not None:
        validation = read_source(config, section.validation_path)
    elif section.validation_fraction > 0:
        train, validation = train_test_split(train, section.validation_fraction / (1 - held_out), seed + 1)
    elif hasattr(data, "labelled_validation"):  # a source's own labelled rows (bio_train_one_class)
        validation = data.labelled_validation()
    fit = getattr(type(train), "standardize_splits", None)  # tables: scaling from the train split only
    if fit is not None:
        scaled, test = fit(train, test)
        if validation is not None:
            _, validation = fit(train, validation)
        train = scaled
    return Splits(train, validation, test)
