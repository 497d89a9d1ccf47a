"""A pairs file trains end to end through the one trainer; config mistakes are named before training."""

import json

import pytest

from contrastkit.recipes import load_recipe, train
from contrastkit.train.config import ConfigError

PAIRS_TOML = """
[run]
seed = 0
threads = 1
output_dir = "{out}"

[data]
path = "{path}"
test_fraction = 0.25

[data.fields]
anchor = "question"
positive = "answer"
negatives = "wrong"

[encoder]
name = "small_transformer"
hidden_size = 32
num_layers = 1
num_heads = 2
max_length = 16

[loss]
name = "InfoNCE"
temperature = 0.05

[optim]
lr = 0.001

[train]
batch_size = 16
max_steps = 3
report = false
no_duplicates = true

[eval]
baselines = false
"""


def _pairs(tmp_path, n=64):
    path = tmp_path / "pairs.jsonl"
    rows = [{"question": f"what is item {i}", "answer": f"item {i} is thing {i % 7}",
             "wrong": [f"item {i + 1} is thing {(i + 3) % 7}"]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(tmp_path, extra=""):
    text = PAIRS_TOML.format(out=tmp_path / "runs", path=_pairs(tmp_path)) + extra
    (tmp_path / "pairs.toml").write_text(text)
    return load_recipe(str(tmp_path / "pairs.toml"))


def test_pairs_file_trains_and_reports_held_out_retrieval(tmp_path):
    config, name = _config(tmp_path)
    assert config.data.name == "file"
    result = train(config, name, quiet=True)
    assert result.steps == 3
    assert {"retrieval/recall@1", "retrieval/ndcg@10", "alignment"} <= set(result.final)


@pytest.mark.parametrize(("extra", "message"), [
    ('\n[loss.inputs]\nquery = "anchor"\nkey = "image"\n',
     r"loss\.inputs\.key = 'image': unknown field 'image'"),
])
def test_objective_naming_an_unknown_field_fails_before_training(tmp_path, extra, message):
    config, name = _config(tmp_path, extra)
    with pytest.raises(ValueError, match=message):
        train(config, name, quiet=True)
    assert not list((tmp_path / "runs").glob("*/checkpoints/*"))


def test_tower_no_field_uses_is_named(tmp_path):
    towers = ('[towers.text]\nfields = ["anchor", "positive"]\n'
              'encoder = {{ name = "small_transformer", hidden_size = 32, num_layers = 1, '
              'num_heads = 2 }}\n\n'
              '[towers.image]\nfields = ["image"]\nencoder = {{ name = "mlp" }}\n\n[unused]')
    text = PAIRS_TOML.replace('[encoder]\nname = "small_transformer"', towers)
    text = text.replace("[unused]\nhidden_size = 32\nnum_layers = 1\nnum_heads = 2\nmax_length = 16\n", "")
    (tmp_path / "t.toml").write_text(text.format(out=tmp_path / "runs", path=_pairs(tmp_path)))
    config, name = load_recipe(str(tmp_path / "t.toml"))
    with pytest.raises(ConfigError, match=r"towers\.image\.fields: field 'image' is not one the data yields"):
        train(config, name, quiet=True)
