"""The frozen tower's caption cache: every distinct string encoded once, rows equal to the
uncached encoder's, emptied when weights load or the model moves, strings only."""

import pytest
import torch
from torch import nn

from contrastkit.encoders.model import ContrastiveModel
from contrastkit.encoders.text_cache import EmbeddingCache


class CountingEncoder(nn.Module):
    """A string's vector from its characters; records every batch it is called with."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.calls: list[list[str]] = []

    def forward(self, texts):
        self.calls.append(list(texts))
        codes = torch.tensor([[float(sum(map(ord, t))), float(len(t))] for t in texts])
        return codes * self.scale


def test_each_distinct_string_is_encoded_once_and_rows_equal_the_uncached_ones():
    encoder = CountingEncoder()
    cache = EmbeddingCache()
    texts = ["a bag", "a boot", "a bag", "a dress", "a boot"]
    assert torch.equal(cache(encoder, texts), encoder(texts))
    assert encoder.calls[0] == ["a bag", "a boot", "a dress"] and len(cache) == 3
    out = cache(encoder, ["a dress", "a coat", "a bag"])
    assert encoder.calls[2] == ["a coat"]  # only the new one
    assert torch.equal(out, encoder(["a dress", "a coat", "a bag"]))
    cache(encoder, ["a coat", "a bag"])
    assert len(encoder.calls) == 4  # everything cached: no call
    tensor = torch.ones(2, 3)
    assert torch.equal(cache(lambda x: x * 3, tensor), tensor * 3)  # not strings: passed through


def test_a_full_cache_still_answers_without_growing():
    encoder = CountingEncoder()
    cache = EmbeddingCache(max_entries=2)
    cache(encoder, ["a", "b"])
    out = cache(encoder, ["a", "c", "d"])
    assert len(cache) == 2 and torch.equal(out, encoder(["a", "c", "d"]))
    with pytest.raises(ValueError, match="max_entries"):
        EmbeddingCache(0)


def test_tower_cache_is_emptied_when_weights_load_or_the_model_moves():
    tower = ContrastiveModel(CountingEncoder(), nn.Linear(2, 3))
    tower.cache = EmbeddingCache()
    texts = ["x", "yy", "x"]
    first = tower(texts)
    assert torch.equal(first, tower.head(tower.encoder(texts)))  # the head runs on cached rows
    assert torch.equal(tower.embed(texts), tower.encoder(texts))
    state = {k: v.clone() for k, v in tower.state_dict().items()}
    state["encoder.scale"] = torch.tensor(5.0)
    tower.load_state_dict(state)
    assert len(tower.cache) == 0
    assert torch.equal(tower.embed(texts), tower.encoder(texts))  # the new weights, not the old rows
    tower.to(torch.float64)
    assert len(tower.cache) == 0


def test_frozen_minilm_tower_cached_equals_uncached(minilm_path):
    from contrastkit.encoders import TextEncoder

    encoder = TextEncoder(minilm_path, pooling="mean", max_length=32).eval()
    tower = ContrastiveModel(encoder)
    tower.requires_grad_(False)
    captions = ["a photo of a sneaker.", "a grey picture of running shoes.", "a bag",
                "a small picture of a very long and quite detailed ankle boot on a dark background."]
    batches = [captions[:3], captions[1:] + captions[:1], captions * 2]
    with torch.no_grad():
        plain = [tower(b) for b in batches]
        tower.cache = EmbeddingCache()
        cached = [tower(b) for b in batches]
    assert len(tower.cache) == 4
    for a, b in zip(plain, cached):  # padding to another length changes only rounding
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_recipe_builder_caches_frozen_towers_only():
    from contrastkit.recipes.build import build_model
    from contrastkit.train.config import validate_config

    mlp = {"name": "mlp", "output_dim": 4}
    config = validate_config({
        "data": {"name": "fields_table"},
        "loss": {"name": "CLIPLoss", "inputs": {"a": "anchor", "b": "positive"}},
        "towers": {"a": {"fields": ["anchor"], "encoder": mlp},
                   "b": {"fields": ["positive"], "encoder": mlp, "frozen": True}}})

    class Data:
        def __init__(self):
            self.fields, self.inputs = {"anchor": None, "positive": None}, torch.zeros(3, 5)

        def __len__(self):
            return 3

        def batch(self, index):
            return {"anchor": torch.zeros(len(index), 5), "positive": torch.zeros(len(index), 5)}

    model = build_model(config, Data())
    assert model.towers["b"].cache is not None and model.towers["a"].cache is None
