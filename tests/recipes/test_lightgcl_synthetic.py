"""The lightgcl-synthetic recipe: the generated graph, the graph loop end to end, its baselines and
re-evaluation, and the listing of the new recipes."""

import json

import numpy as np
import pytest

from contrastkit.cli import main
from contrastkit.data.synthetic import clustered_interactions
from contrastkit.recipes import build_components, load_recipe
from contrastkit.recipes.graph import GraphViews
from contrastkit.train.config import ConfigError

TINY = {"num_users": 60, "num_items": 48, "num_clusters": 4, "per_user": 8}


def test_generated_graph_is_seeded_clustered_and_validated():
    a, b = clustered_interactions(**TINY, seed=3), clustered_interactions(**TINY, seed=3)
    assert a.users.tolist() == b.users.tolist() and a.items.tolist() == b.items.tolist()
    assert clustered_interactions(**TINY, seed=4).items.tolist() != a.items.tolist()
    assert len(a) == 60 * 8 and len(set(zip(a.users.tolist(), a.items.tolist()))) == 480
    big = clustered_interactions(seed=0)
    users = np.asarray(big.user_ids)[big.users.numpy()]
    items = np.asarray(big.item_ids)[big.items.numpy()]
    share = float(np.mean(users % 8 == items % 8))
    assert 0.7 < share < 0.9  # far above the 1/8 of unclustered draws
    with pytest.raises(ValueError, match="per_user"):
        clustered_interactions(num_items=40, num_clusters=8, per_user=6)
    with pytest.raises(ValueError, match="in_cluster"):
        clustered_interactions(in_cluster=1.5)


def test_graph_recipe_builds_and_rejects_mismatched_components():
    config, _ = load_recipe("lightgcl-synthetic")
    parts = build_components(config)
    assert isinstance(parts.views, GraphViews) and parts.views.svd_rank == 5
    with pytest.raises(ConfigError, match=r"encoder\.name"):
        build_components(load_recipe("lightgcl-synthetic", ["encoder.name='mlp'"])[0])
    with pytest.raises(ConfigError, match="svd_rank"):
        build_components(load_recipe("lightgcl-synthetic", ["views.svd_rank=0"])[0])


def popularity_recall_at_20(train_pairs, test_pairs, num_items):
    """Naive reference: every user ranks unseen items by training count (ties: lower index)."""
    counts = np.zeros(num_items)
    for _, i in train_pairs:
        counts[i] += 1
    seen, held = {}, {}
    for u, i in train_pairs:
        seen.setdefault(u, set()).add(i)
    for u, i in test_pairs:
        held.setdefault(u, set()).add(i)
    order = sorted(range(num_items), key=lambda i: (-counts[i], i))
    recalls = []
    for u, items in held.items():
        top = [i for i in order if i not in seen.get(u, set())][:20]
        recalls.append(len(items & set(top)) / len(items))
    return float(np.mean(recalls))


@pytest.mark.slow
def test_lightgcl_recipe_trains_evaluates_and_reports_its_baselines(tmp_path, capsys):
    """The loop's bookkeeping on 8 steps; that training beats the baselines is
    tests/recipes/test_learning.py's job (8 steps do not move Recall@20)."""
    sets = [f"data.{k}={v}" for k, v in TINY.items()] + [
        "encoder.dim=16",
        "views.svd_rank=3",
        "loss.l2_weight=0.0",
        "train.batch_size=64",
        "train.max_steps=8",
        "train.log_every=1",
        "train.eval_every=4",
        "train.checkpoint_every=4",
        "train.report=false",
        f"run.output_dir='{tmp_path / 'runs'}'",
    ]
    argv = ["train", "lightgcl-synthetic", "--quiet", "--json"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    run_dir = result["run_dir"]
    assert set(result["final"]) == {"recall@20", "ndcg@20"}
    assert set(result["baselines"]) == {"popularity", "untrained encoder"}

    from contrastkit.recipes.graph import load_interactions

    config, _ = load_recipe("lightgcl-synthetic", sets)
    train, test = load_interactions(config)
    expected = popularity_recall_at_20(
        list(zip(train.users.tolist(), train.items.tolist())),
        list(zip(test.users.tolist(), test.items.tolist())),
        train.num_items,
    )
    assert result["baselines"]["popularity"]["recall@20"] == pytest.approx(expected, abs=1e-9)

    rows = [json.loads(line) for line in open(f"{run_dir}/metrics.jsonl")]
    steps = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in steps] == list(range(1, 9))
    for r in steps:  # l2_weight = 0: loss = BPR + 0.2 * contrastive, both logged
        assert r["loss"] == pytest.approx(r["bpr"] + 0.2 * r["contrastive"], rel=1e-5)
    assert [r["step"] for r in rows if r["kind"] == "eval"] == [4, 8]
    assert sorted(p.name for p in (tmp_path / "runs").glob("*/checkpoints/step-*.json")) == [
        "step-00000004.json", "step-00000008.json"]

    assert main(["eval", run_dir, "--json"]) == 0  # from the saved embeddings
    again = json.loads(capsys.readouterr().out)
    assert again == pytest.approx(result["final"])
    with pytest.raises(ConfigError, match="resume"):
        from contrastkit.recipes import train as run_recipe

        run_recipe(config, "again", resume_dir=run_dir, quiet=True)


def test_new_recipes_are_listed_with_descriptions(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in ("moco-digits", "scarf-breast-cancer", "lightgcl-synthetic"):
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert len(line.split(None, 1)[1]) > 20
