"""Two-tower report figures on small inputs: temperature curve, confusion matrix, top-hit grid."""

import numpy as np
import pytest
import torch
from PIL import Image

from contrastkit.report.two_tower import confusion_matrix_plot, temperature_curve, top_hits, top_hits_grid


def _is_png(path):
    with Image.open(path) as image:
        return image.format == "PNG" and image.width > 100


def test_temperature_curve(tmp_path):
    rows = [{"kind": "train", "step": s, "loss": 1.0, "temperature": 0.07 * 0.9 ** s} for s in range(1, 6)]
    rows.append({"kind": "eval", "step": 5, "accuracy": 0.5})
    assert _is_png(temperature_curve(rows, tmp_path / "t.png"))
    assert temperature_curve([{"kind": "train", "step": 1, "loss": 1.0}], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_confusion_matrix_plot(tmp_path):
    counts = np.array([[5, 1, 0], [0, 3, 3], [2, 0, 4]])
    assert _is_png(confusion_matrix_plot(counts, ["shirt", "dress", "bag"], tmp_path / "c.png", unseen=[2]))
    with pytest.raises(ValueError, match="counts"):
        confusion_matrix_plot(counts, ["shirt", "dress"], tmp_path / "bad.png")


def test_top_hits_ranks_by_cosine_with_ties_to_the_lower_index():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0]])
    prompts = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    scores, indices = top_hits(images, prompts, 3)
    assert indices.tolist() == [[0, 2, 3], [1, 3, 0]]  # images 0 and 2 tie for prompt 0
    np.testing.assert_allclose(scores, [[1, 1, 2 ** -0.5], [1, 2 ** -0.5, 0]], atol=1e-12)
    with pytest.raises(ValueError, match="k"):
        top_hits(images, prompts, 5)
    with pytest.raises(ValueError, match="prompt_embeddings"):
        top_hits(images, torch.ones(2, 3), 1)


@pytest.mark.parametrize("channels", [1, 3])
def test_top_hits_grid(tmp_path, channels):
    images = torch.rand(8, channels, 6, 6)
    path = top_hits_grid(images, torch.randn(8, 4), torch.randn(3, 4), ["a red dress", "a bag", "boots"],
                         tmp_path / "grid.png", k=4)
    assert _is_png(path)
    with pytest.raises(ValueError, match="prompts"):
        top_hits_grid(images, torch.randn(8, 4), torch.randn(3, 4), ["one"], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="images"):
        top_hits_grid(torch.rand(8, 2, 6, 6), torch.randn(8, 4), torch.randn(1, 4), ["x"], tmp_path / "b.png")
