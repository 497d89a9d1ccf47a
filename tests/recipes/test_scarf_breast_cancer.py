"""The scarf-breast-cancer recipe: tabular data sources, train-split standardisation, SCARF views
bound to the training table, and a few training steps end to end."""

import json
import math

import numpy as np
import pytest
import torch

from contrastkit.cli import main
from contrastkit.data import TableData, load_sklearn_table, load_table
from contrastkit.recipes import DATA_SOURCES, build_components, load_data, load_recipe
from contrastkit.recipes.splits import load_splits
from contrastkit.train.config import ConfigError


def test_recipe_builds_scarf_views_and_one_direction_infonce_at_temperature_one():
    config, _ = load_recipe("scarf-breast-cancer")
    parts = build_components(config)
    assert config.loss.name == "InfoNCE" and not parts.loss.symmetric
    assert parts.loss.temperature.value == pytest.approx(1.0)
    with pytest.raises(ValueError, match="views"):
        parts.views(torch.zeros(2, 30))  # the marginals come from the training split, bound later


def test_splits_are_standardised_with_training_statistics_only():
    config, _ = load_recipe("scarf-breast-cancer")
    splits = load_splits(config)
    train, validation, test = splits.train, splits.validation, splits.test
    raw = load_sklearn_table("breast_cancer", standardize=False).features.double().numpy()
    assert len(train) + len(validation) + len(test) == raw.shape[0] == 569 and train.features.shape[1] == 30
    train_raw = raw[[int(n) for n in train.names]]
    mean, std = train_raw.mean(axis=0), train_raw.std(axis=0)
    np.testing.assert_allclose(train.features.numpy(), (train_raw - mean) / std, atol=1e-4)
    for part in (validation, test):
        part_raw = raw[[int(n) for n in part.names]]
        np.testing.assert_allclose(part.features.numpy(), (part_raw - mean) / std, atol=1e-4)
    assert abs(test.features.mean().item()) > 1e-3  # test rows are not re-centred on themselves


def test_bound_scarf_views_replace_at_most_q_features_with_training_values():
    config, _ = load_recipe("scarf-breast-cancer")
    parts = build_components(config)
    train, test = load_data(config)
    parts.views.bind_data(train)
    anchor, positive = parts.views(test.features, torch.Generator().manual_seed(0))
    assert torch.equal(anchor, test.features)
    changed = positive != anchor
    q = math.floor(0.6 * 30)
    assert int(changed.sum(1).max()) <= q and changed.sum(1).float().mean() > q - 1
    for j in range(30):
        column = set(train.features[:, j].tolist())
        assert all(v in column for v in positive[changed[:, j], j].tolist())


def test_table_source_reads_csv_features_and_labels(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b,kind\n1,2,x\n3,4.5,y\n5,6,x\n")
    data = DATA_SOURCES.build("table", {"path": str(path), "label_column": "kind"})
    assert isinstance(data, TableData)
    assert data.features.tolist() == [[1, 2], [3, 4.5], [5, 6]] and data.labels.tolist() == [0, 1, 0]
    assert load_table(path, "kind", ["b"]).features.tolist() == [[2], [4.5], [6]]
    with pytest.raises(ValueError, match="label_column"):
        load_table(path, "missing")
    with pytest.raises(ValueError, match="not numeric"):
        load_table(path, feature_columns=["a", "kind"])
    with pytest.raises(ConfigError, match="dataset"):
        DATA_SOURCES.build("sklearn_table", {"dataset": "titanic"})


@pytest.mark.slow
def test_scarf_recipe_trains_and_reevaluates(tmp_path, capsys):
    sets = [
        "encoder.hidden_dims=[32]",
        "encoder.output_dim=16",
        "head.hidden_dims=[16]",
        "head.output_dim=16",
        "train.batch_size=64",
        "train.max_steps=5",
        "train.eval_every=0",
        "train.report=false",
        f"run.output_dir='{tmp_path / 'runs'}'",
    ]
    argv = ["train", "scarf-breast-cancer", "--quiet", "--json"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["baselines"]) == {"raw input", "untrained encoder"}
    assert result["baselines"]["raw input"]["effective_rank"] <= 30 + 1e-6
    final = result["final"]
    assert 0.5 <= final["linear_probe_accuracy"] <= 1 and final["effective_rank"] <= 16 + 1e-6
    assert main(["eval", result["run_dir"], "--json"]) == 0  # views re-bound to the training table
    again = json.loads(capsys.readouterr().out)
    assert again["knn_accuracy"] == pytest.approx(final["knn_accuracy"])
    assert again["alignment"] == pytest.approx(final["alignment"], rel=1e-4)
