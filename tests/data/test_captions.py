"""Caption generation from labels, Fashion-MNIST (image, caption, label) rows, ImageCaptionData."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch

from contrastkit.data import (
    CaptionSpec,
    ImageCaptionData,
    fashion_mnist_captions,
    generate_captions,
    load_fashion_mnist,
    rows_kept,
)
from contrastkit.data.fashion_mnist import DEBIAN_DIR

RECIPE = Path(__file__).parents[2] / "src/contrastkit/recipes/clip-fashion-mnist.toml"
TABLE = {"class_names": ["cat", "dog", "bird"], "templates": ["a photo of {}.", "{} outside"],
         "synonyms": {"dog": ["a dog", "a puppy"]}, "held_out_classes": ["bird"]}


def test_captions_use_a_template_and_a_name_of_the_class():
    spec = CaptionSpec.from_mapping(TABLE)
    labels = np.array([0, 1, 2, 1] * 50)
    captions = generate_captions(labels, spec, seed=3)
    names = spec.names()
    assert names == [["cat"], ["a dog", "a puppy"], ["bird"]]
    made = {(t.replace("{}", n), c) for c, ns in enumerate(names) for n in ns for t in spec.templates}
    assert all((text, y) in made for text, y in zip(captions, labels))
    # Every template and every synonym is drawn (200 draws, 2 templates, 2 dog names).
    assert {c for c, y in zip(captions, labels) if y == 1} == {t.replace("{}", n) for n in names[1]
                                                              for t in spec.templates}


def test_captions_are_deterministic_per_seed():
    spec = CaptionSpec.from_mapping(TABLE)
    labels = np.arange(60) % 3
    assert generate_captions(labels, spec, 0) == generate_captions(labels, spec, 0)
    assert generate_captions(labels, spec, 0) != generate_captions(labels, spec, 1)


def test_held_out_rows_and_indices():
    spec = CaptionSpec.from_mapping(TABLE)
    assert spec.held_out_indices() == [2]
    assert rows_kept([0, 2, 1, 2, 0], spec.held_out_indices()).tolist() == [0, 2, 4]
    assert spec.zero_shot_templates() == spec.templates


@pytest.mark.parametrize("change, key", [
    ({"colour": "red"}, "captions.colour"),
    ({"templates": ["no placeholder"]}, r"templates\[0\]"),
    ({"templates": []}, "templates"),
    ({"class_names": ["cat"]}, "class_names"),
    ({"class_names": ["cat", "cat", "dog"]}, "class_names"),
    ({"synonyms": {"horse": ["a horse"]}}, "synonyms"),
    ({"synonyms": {"dog": []}}, "synonyms.dog"),
    ({"held_out_classes": ["fish"]}, "held_out_classes"),
    ({"held_out_classes": ["cat", "dog", "bird"]}, "held_out_classes"),
    ({"prompt_templates": ["{} and {}"]}, r"prompt_templates\[0\]"),
])
def test_bad_spec_names_the_key(change, key):
    with pytest.raises(ValueError, match=key):
        CaptionSpec.from_mapping({**TABLE, **change})


def test_bad_labels():
    spec = CaptionSpec.from_mapping(TABLE)
    with pytest.raises(ValueError, match="labels"):
        generate_captions([0, 3], spec, 0)
    with pytest.raises(ValueError, match="labels"):
        generate_captions([0.5], spec, 0)


def test_bundled_fashion_mnist_spec_is_valid():
    spec = CaptionSpec.from_mapping(tomllib.loads(RECIPE.read_text())["data"]["captions"])
    assert len(spec.class_names) == 10 and len(spec.held_out_classes) == 2
    assert all(len(names) >= 2 for names in spec.names())


def test_image_caption_data_fields_groups_and_subset():
    images = torch.rand(3, 1, 4, 4)
    data = ImageCaptionData(images, ["a", "b", "c", "d"], torch.tensor([0, 2, 0, 1]),
                            torch.tensor([5, 6, 5, 7]), ["x.png", "y.png", "z.png"])
    assert data.fields == ("image", "text", "group", "label")
    batch = data.batch(torch.tensor([3, 0]))
    assert torch.equal(batch["image"], images[[1, 0]])
    assert batch["text"] == ["d", "a"] and batch["group"].tolist() == [1, 0]
    assert batch["label"].tolist() == [7, 5]
    part = data.subset([1, 2])
    assert part.names == ["x.png", "z.png"] and part.image_index.tolist() == [1, 0]
    assert torch.equal(part.images, images[[0, 2]]) and part.captions == ["b", "c"]
    with pytest.raises(ValueError, match="captions: row 1"):
        ImageCaptionData(images, ["a", " "], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="image_index"):
        ImageCaptionData(images, ["a", "b"], torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="names"):
        ImageCaptionData(images, ["a"], torch.tensor([0]), names=["x"])


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_captions_hold_classes_out_of_training(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 10
    for split in ("train", "t10k"):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (40, 28, 28)))
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", labels)
    spec = CaptionSpec.from_mapping(tomllib.loads(RECIPE.read_text())["data"]["captions"])
    held = spec.held_out_indices()
    train = fashion_mnist_captions(spec, "train", seed=1, root=tmp_path)
    assert len(train) == 32 and not set(train.labels.tolist()) & set(held)
    test = fashion_mnist_captions(spec, "test", seed=1, root=tmp_path, max_samples=20)
    assert len(test) == 20 and set(test.labels.tolist()) == set(range(10))
    again = fashion_mnist_captions(spec, "test", seed=1, root=tmp_path, max_samples=20)
    assert test.captions == again.captions
    everything = fashion_mnist_captions(spec, "train", seed=1, root=tmp_path, hold_out=False)
    assert len(everything) == 40
    with pytest.raises(ValueError, match="does not exist"):
        fashion_mnist_captions(spec, "train", root=tmp_path / "missing")
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation", root=tmp_path)


@pytest.mark.skipif(not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_official_test_set():
    test = load_fashion_mnist("test")
    assert test.images.shape == (10000, 1, 28, 28)
    assert np.bincount(test.labels.numpy()).tolist() == [1000] * 10
