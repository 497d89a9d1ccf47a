"""Contracts of the view generators that the effect tests leave open (found by mutation testing): every
bad argument is named at the start of its error with what was expected, half-precision images keep their
dtype through every augmentation, the documented defaults, and seeded draws everywhere (also in word
deletion's keep-one-word fallback)."""

import pytest
import torch

from contrastkit.views import ImageViews, SCARFViews, span_cutoff, word_deletion

IMAGE_ARGUMENTS = [
    ({"num_views": 0}, r"^num_views: expected an int >= 1"),
    ({"crop_scale": (0.9, 0.2)}, r"^crop_scale: expected 0.001 <= min <= max <= 1.0"),
    ({"crop_ratio": (2.0, 1.0)}, r"^crop_ratio: expected 0.01 <= min <= max <= 100.0"),
    ({"max_rotation": -1.0}, r"^max_rotation: expected a finite value >= 0"),
    ({"max_rotation": float("inf")}, r"^max_rotation: expected a finite value >= 0"),
    ({"flip_prob": 1.5}, r"^flip_prob: expected a value in \[0, 1\]"),
    ({"brightness": -0.1}, r"^brightness: expected a finite value >= 0"),
    ({"contrast": 1.2}, r"^contrast: expected a value in \[0, 1\]"),
    ({"noise_std": -1}, r"^noise_std: expected a finite value >= 0"),
    ({"erase_prob": -0.5}, r"^erase_prob: expected a value in \[0, 1\]"),
    ({"erase_scale": (0.5, 1.5)}, r"^erase_scale: expected 0.0 <= min <= max <= 1.0"),
]


@pytest.mark.parametrize("kwargs, message", IMAGE_ARGUMENTS)
def test_image_view_arguments_are_named_with_the_expected_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageViews(**kwargs)


def test_bad_images_name_what_they_got():
    with pytest.raises(ValueError, match=r"^images: expected a floating \(N, C, H, W\) tensor, got list"):
        ImageViews()([[0.0]])
    with pytest.raises(ValueError, match=r"torch.Size\(\[8, 8\]\)"):
        ImageViews()(torch.rand(8, 8))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_images_keep_their_dtype_through_every_augmentation(dtype):
    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)).to(dtype)
    views = ImageViews(num_views=2, noise_std=0.1, erase_prob=1.0, flip_prob=0.5)
    for view in views(images, torch.Generator().manual_seed(1)):
        assert view.dtype == dtype and view.shape == images.shape


def test_unseeded_image_views_still_work_and_differ():
    a, b = ImageViews(num_views=2)(torch.rand(3, 1, 8, 8))
    assert not torch.equal(a, b)


def test_text_errors_name_the_argument_its_range_and_the_type():
    with pytest.raises(ValueError, match=r"^texts: expected a list of strings, got str"):
        word_deletion("one text")
    with pytest.raises(ValueError, match=r"^p: expected a probability in \[0, 1\), got 1.0"):
        word_deletion(["a b"], p=1.0)
    with pytest.raises(ValueError, match=r"^ratio: expected a probability in \[0, 1\), got -0.1"):
        span_cutoff(["a b"], ratio=-0.1)


def test_word_deletion_keeps_one_word_drawn_from_the_generator():
    """p close to 1 deletes every word of most texts: the kept word comes from the seeded generator, so
    the same seed gives the same texts whatever the global RNG, and the kept word varies."""
    texts = ["a b c d e f g h"] * 200
    torch.manual_seed(1)
    first = word_deletion(texts, p=0.999, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(2)
    second = word_deletion(texts, p=0.999, generator=torch.Generator().manual_seed(3))
    assert first == second and all(len(t.split()) >= 1 for t in first)
    assert len(set(first)) >= 6  # the kept word is uniform over 8


def test_scarf_views_default_corruption_rate_is_the_papers_0_6():
    train = torch.arange(40.0).view(4, 10)
    views = SCARFViews(train)
    assert views.corruption.corruption_rate == 0.6 and views.corruption.num_corrupted == 6
    clean, corrupted = views(train, torch.Generator().manual_seed(0))
    assert torch.equal(clean, train) and corrupted.shape == train.shape


def test_scarf_errors_name_what_they_got():
    views = SCARFViews(torch.zeros(4, 3), corruption_rate=0.5)
    with pytest.raises(ValueError, match=r"^x: expected a 2-D \(rows, features\) tensor, got list"):
        views.corruption([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"^x: expected 3 features, got 2"):
        views.corruption(torch.zeros(2, 2))
