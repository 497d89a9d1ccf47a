"""Train / validation / test: selection reads validation only; the table names the selected step."""

import json

import pytest
import torch

from contrastkit.cli import main
from contrastkit.recipes import load_recipe, train
from contrastkit.recipes.splits import load_splits
from contrastkit.report.table import format_table, trained_columns
from contrastkit.train.config import ConfigError
from tests.recipes.tiny import write_tiny


def test_validation_is_drawn_from_training_and_test_stays_the_same(tmp_path):
    plain, _ = load_recipe(str(write_tiny(tmp_path)))
    split, _ = load_recipe(str(write_tiny(tmp_path)), ["data.validation_fraction=0.2"])
    before, after = load_splits(plain), load_splits(split)
    assert before.validation is None and torch.equal(before.test.images, after.test.images)
    assert len(after.validation) == 40 and len(after.train) + 40 == len(before.train)
    rows = lambda d: {tuple(x.flatten().tolist()) for x in d.images}  # noqa: E731
    assert rows(after.validation).isdisjoint(rows(after.train))
    assert rows(after.validation) <= rows(before.train)


def test_best_metric_without_validation_is_refused(tmp_path):
    message = r"train\.best_metric = 'knn_accuracy': selection needs a validation"
    with pytest.raises(ConfigError, match=message):
        load_recipe(str(write_tiny(tmp_path)), ['train.best_metric="knn_accuracy"'])


def test_selected_checkpoint_is_evaluated_on_test_and_named(tmp_path, monkeypatch):
    overrides = ["data.validation_fraction=0.2", 'train.best_metric="knn_accuracy"', "train.eval_every=5",
                 "train.max_steps=20", f"run.output_dir='{tmp_path / 'runs'}'"]
    config, name = load_recipe(str(write_tiny(tmp_path)), overrides)
    watched = []
    from contrastkit.train import trainer as trainer_module

    original = trainer_module.Trainer._after_eval

    def record(self, metrics):
        watched.append((self.step, metrics["knn_accuracy"]))
        return original(self, metrics)

    monkeypatch.setattr(trainer_module.Trainer, "_after_eval", record)
    result = train(config, name, quiet=True)
    best_step = max(watched, key=lambda item: (item[1], -item[0]))[0]
    assert result.selection["selected_step"] == best_step and result.selection["last_step"] == 20
    saved = json.loads((result.run_dir.path / "selection.json").read_text())
    assert saved["selected_step"] == best_step
    columns = trained_columns(result.final, result.selection)
    header = format_table(result.final, result.baselines, columns).splitlines()[0]
    assert f"step {best_step}" in header
    if best_step != 20:
        assert "last step (20)" in header and len(columns) == 2


def test_user_files_as_validation_and_test(tmp_path, capsys):
    rows = [{"q": f"q {i}", "a": f"a {i}"} for i in range(40)]
    for part, chunk in (("train", rows[:24]), ("val", rows[24:32]), ("test", rows[32:])):
        (tmp_path / f"{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chunk))
    toml = tmp_path / "p.toml"
    toml.write_text(f"""
[data]
path = "{tmp_path / 'train.jsonl'}"
validation_path = "{tmp_path / 'val.jsonl'}"
test_path = "{tmp_path / 'test.jsonl'}"
fields = {{ anchor = "q", positive = "a" }}
""")
    config, _ = load_recipe(str(toml))
    splits = load_splits(config)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (24, 8, 8)
    assert main(["train", str(toml), "--quiet", "--set", "train.max_steps=1", "--set", "train.batch_size=8",
                 "--set", "encoder.name='mlp'", "--set", "eval.baselines=false"]) == 2
    assert "encoder" in capsys.readouterr().err  # texts cannot go through an MLP: one line, before training
