"""The lightgcl-synthetic recipe: the generated graph, the graph run on the one trainer end to end
(baselines, validation selection, re-evaluation, resume), and the listing of the new recipes."""

import json

import numpy as np
import pytest
import torch

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


def popularity_recall_at_20(train_pairs, test_pairs, num_items, known_pairs=()):
    """Naive reference: every user ranks unseen items by training count (ties: lower index); the
    user's training and ``known_pairs`` (validation) items are excluded."""
    counts = np.zeros(num_items)
    for _, i in train_pairs:
        counts[i] += 1
    seen, held = {}, {}
    for u, i in [*train_pairs, *known_pairs]:
        seen.setdefault(u, set()).add(i)
    for u, i in test_pairs:
        held.setdefault(u, set()).add(i)
    order = sorted(range(num_items), key=lambda i: (-counts[i], i))
    recalls = []
    for u, items in held.items():
        top = [i for i in order if i not in seen.get(u, set())][:20]
        recalls.append(len(items & set(top)) / len(items))
    return float(np.mean(recalls))


TINY_RUN = [f"data.{k}={v}" for k, v in TINY.items()] + [
    "data.validation_fraction=0.2",  # 7 training interactions per user: floor(0.2 * 7) = 1 for selection
    "encoder.dim=16",
    "views.svd_rank=3",
    "loss.l2_weight=0.0",
    "train.batch_size=64",
    "train.max_steps=8",
    "train.log_every=1",
    "train.eval_every=4",
    "train.checkpoint_every=4",
    "train.report=false",
]


@pytest.mark.slow
def test_lightgcl_recipe_trains_evaluates_and_reports_its_baselines(tmp_path, capsys):
    """The run's bookkeeping on 8 steps; that training beats the baselines is
    tests/recipes/test_learning.py's job (8 steps do not move Recall@20)."""
    sets = [*TINY_RUN, f"run.output_dir='{tmp_path / 'runs'}'"]
    argv = ["train", "lightgcl-synthetic", "--quiet", "--json"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    run_dir = result["run_dir"]
    assert set(result["final"]) == {"recall@20", "ndcg@20"}
    assert set(result["baselines"]) == {"popularity", "untrained encoder"}
    assert result["selection"]["metric"] == "recall@20"  # selected on the validation split

    from contrastkit.recipes.graph import load_interactions

    config, _ = load_recipe("lightgcl-synthetic", sets)
    train, validation, test = load_interactions(config)
    pairs = [list(zip(x.users.tolist(), x.items.tolist())) for x in (train, validation, test)]
    assert not set(pairs[0]) & set(pairs[1]) and not set(pairs[0]) & set(pairs[2])
    assert not set(pairs[1]) & set(pairs[2])
    expected = popularity_recall_at_20(pairs[0], pairs[2], train.num_items, known_pairs=pairs[1])
    assert result["baselines"]["popularity"]["recall@20"] == pytest.approx(expected, abs=1e-9)

    rows = [json.loads(line) for line in open(f"{run_dir}/metrics.jsonl")]
    assert [r["step"] for r in rows if r["kind"] == "train"] == list(range(1, 9))
    assert [r["step"] for r in rows if r["kind"] == "eval"] == [4, 8]
    assert all(set(r) >= {"recall@20", "ndcg@20"} for r in rows if r["kind"] == "eval")
    assert sorted(p.name for p in (tmp_path / "runs").glob("*/checkpoints/step-*.json")) == [
        "step-00000004.json", "step-00000008.json"]

    assert main(["eval", run_dir, "--json"]) == 0  # the selected checkpoint, re-read
    again = json.loads(capsys.readouterr().out)
    assert again == pytest.approx(result["final"])


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_graph_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    from contrastkit.recipes import train as run_recipe
    from contrastkit.train.callbacks import Callback
    from contrastkit.train.checkpoint import load_checkpoint

    class StopAt6(Callback):  # after the step-4 checkpoint, before the next one
        def on_step_end(self, trainer, step, logs):
            if step == 6:
                raise Interrupt

    # edge dropout: the propagation draws random numbers, which a resumed run must draw alike
    sets = [*TINY_RUN, "views.edge_dropout=0.2"]
    config, name = load_recipe("lightgcl-synthetic", [*sets, f"run.output_dir='{tmp_path / 'a'}'"])
    whole = run_recipe(config, name, quiet=True)
    config, name = load_recipe("lightgcl-synthetic", [*sets, f"run.output_dir='{tmp_path / 'b'}'"])
    with pytest.raises(Interrupt):
        run_recipe(config, name, quiet=True, callbacks=[StopAt6()])
    (run_dir,) = (tmp_path / "b").iterdir()
    resumed = run_recipe(config, name, quiet=True, resume_dir=run_dir)
    assert resumed.steps == whole.steps == 8
    a, _ = load_checkpoint(whole.run_dir.checkpoints, 8)
    b, _ = load_checkpoint(resumed.run_dir.checkpoints, 8)
    weights = [k for k in a if k.startswith("model.")]
    assert weights and all(torch.equal(a[k], b[k]) for k in weights)
    assert resumed.final == whole.final


def test_graph_objectives_sum_bpr_contrast_and_l2_with_the_configured_weights():
    """The trainer's total loss of a graph step equals LightGCL's formula, written out naively."""
    from contrastkit.data.graph_triples import GraphTriples
    from contrastkit.encoders.graph_tower import GraphTower
    from contrastkit.losses import LightGCLContrastive, bpr_loss
    from contrastkit.train.objectives import total_loss

    config, _ = load_recipe("lightgcl-synthetic", ["loss.contrastive_weight=0.3", "loss.l2_weight=0.01"])
    objectives = build_components(config).objectives
    assert [(o.name, o.weight) for o in objectives] == [("bpr", 1.0), ("contrastive", 0.3), ("l2", 0.01)]
    for objective in objectives:
        objective.bind(["graph"], [])
    data = GraphTriples(clustered_interactions(**TINY, seed=0), seed=0)
    tower = GraphTower(**{k: v for k, v in data.encoder_context().items()}, dim=8, svd_rank=3)
    triples = data.batch(torch.arange(32))["graph"]
    got = total_loss(objectives, {"graph": [tower(triples)]}, {})
    out = tower.graph()
    u, p, n = triples.unbind(1)
    want = (bpr_loss(out.user[u], out.item[p], out.item[n])
            + 0.3 * LightGCLContrastive(temperature=0.2)(out.user_svd, out.user, u, out.item_svd, out.item,
                                                          torch.cat([p, n]))
            + 0.01 * (tower.graph.user_embedding.square().sum() + tower.graph.item_embedding.square().sum()))
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    with pytest.raises(ConfigError, match="contrastive_weight"):
        build_components(load_recipe("lightgcl-synthetic", ["loss.contrastive_weight=-1"])[0])


def test_graph_negatives_are_a_function_of_the_rows_and_never_training_items():
    from contrastkit.data.graph_triples import GraphTriples

    train = clustered_interactions(**TINY, seed=0)
    data = GraphTriples(train, seed=5)
    rows = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    first, second = data.batch(rows)["graph"], data.batch(rows)["graph"]
    assert torch.equal(first, second)
    assert torch.equal(first[:, 0], train.users[rows]) and torch.equal(first[:, 1], train.items[rows])
    seen = set(zip(train.users.tolist(), train.items.tolist()))
    assert not any((u, n) in seen for u, n in zip(first[:, 0].tolist(), first[:, 2].tolist()))
    assert not torch.equal(GraphTriples(train, seed=6).batch(rows)["graph"][:, 2], first[:, 2])


def test_new_recipes_are_listed_with_descriptions(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in ("moco-digits", "scarf-breast-cancer", "lightgcl-synthetic"):
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert len(line.split(None, 1)[1]) > 20
