"""[[eval.tasks]] on the user's files and `contrastkit eval RUN_DIR --task ... --data ...`."""

import json

import pytest

from contrastkit.cli import main
from contrastkit.recipes.eval_tasks import EVAL_TASKS, build_tasks
from contrastkit.train.config import Component, ConfigError
from tests.recipes.test_fields_run import _config


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _bag(texts):  # a deterministic stand-in embedding: letter counts
    import torch

    return torch.tensor([[t.count(c) for c in "abcdefghijklmnopqrstuvwxyz0123456789 "] for t in texts],
                        dtype=torch.float32) + 0.01


def test_tasks_compute_their_metrics(tmp_path):
    pairs = _write(tmp_path / "p.jsonl", [{"anchor": f"{w} {w}", "positive": w} for w in ("aa", "bb", "cc")])
    sts = _write(tmp_path / "s.jsonl", [{"sentence1": "aa", "sentence2": "aa", "score": 5},
                                        {"sentence1": "aa", "sentence2": "bb", "score": 0},
                                        {"sentence1": "ab", "sentence2": "aa", "score": 3}])
    cls = _write(tmp_path / "c.jsonl", [{"text": "a" * (i % 2 + 1) * 3, "label": i % 2} for i in range(40)])
    tasks = build_tasks([Component(name="retrieval", path=pairs), Component(name="sts", path=sts),
                         Component(name="classification", path=cls, k=2)])
    retrieval, similarity, probe = (task(_bag) for task in tasks)
    assert retrieval["retrieval/recall@1"] == 1.0 and retrieval["retrieval/mrr@1"] == 1.0
    assert similarity["sts/spearman"] == pytest.approx(1.0)
    assert probe["classification/knn_accuracy"] == 1.0


@pytest.mark.parametrize(("name", "rows", "message"), [
    ("sts", [{"sentence1": "a", "score": 1}], r"eval\.tasks \(sts\): columns: \['sentence2'\] not in"),
    ("retrieval", [{"anchor": "a", "answer": "b"}], r"eval\.tasks \(retrieval\): columns: \['positive'\]"),
    ("classification", [{"text": "a"}], r"eval\.tasks \(classification\): columns: \['label'\]"),
])
def test_a_file_without_its_columns_is_named(tmp_path, name, rows, message):
    path = _write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(ConfigError, match=message):
        EVAL_TASKS.build(name, {"path": path})


@pytest.mark.slow
def test_eval_command_scores_trained_and_untrained(tmp_path, capsys):
    config, name = _config(tmp_path)
    from contrastkit.recipes import train

    run = train(config, name, quiet=True).run_dir.path
    data = _write(tmp_path / "held.jsonl", [{"anchor": f"what is item {i}", "positive": f"item {i} is thing"}
                                             for i in range(12)])
    assert main(["eval", str(run), "--task", "retrieval", "--data", data, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"trained", "untrained encoder"}
    assert {"retrieval/recall@1", "retrieval/mrr@10", "retrieval/ndcg@10"} <= set(out["trained"])
    assert main(["eval", str(run), "--task", "retrieval", "--data", str(tmp_path / "none.jsonl")]) == 2
    assert "--data" in capsys.readouterr().err
