"""Image views: seeded, shape/range preserving, exact identity and flip, validated arguments."""

import pytest
import torch

from contrastkit.views import ImageViews

IDENTITY = {
    "crop_scale": (1.0, 1.0),
    "crop_ratio": (1.0, 1.0),
    "max_rotation": 0.0,
    "flip_prob": 0.0,
    "brightness": 0.0,
    "contrast": 0.0,
    "noise_std": 0.0,
    "erase_prob": 0.0,
}


def _images(n=6, c=1, h=8, w=8):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(1))


def test_same_seed_same_views_different_seed_different_views():
    views = ImageViews(num_views=3)
    a = views(_images(), torch.Generator().manual_seed(5))
    b = views(_images(), torch.Generator().manual_seed(5))
    c = views(_images(), torch.Generator().manual_seed(6))
    assert len(a) == 3 and all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[0], a[1])
    assert all(v.shape == (6, 1, 8, 8) and v.min() >= 0 and v.max() <= 1 for v in a)


def test_all_augmentations_off_is_the_identity():
    images = _images(c=3, h=7, w=9)
    (view,) = ImageViews(num_views=1, **IDENTITY)(images, torch.Generator().manual_seed(0))
    torch.testing.assert_close(view, images, atol=1e-6, rtol=0)


def test_flip_only_mirrors_width():
    images = _images()
    (view,) = ImageViews(num_views=1, **{**IDENTITY, "flip_prob": 1.0})(
        images, torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(view, images.flip(-1), atol=1e-6, rtol=0)


def test_crop_zooms_into_the_image():
    # a crop of a quarter of the area around the centre: the centre pixel's value spreads outwards
    images = torch.zeros(1, 1, 9, 9)
    images[0, 0, 4, 4] = 1.0
    views = ImageViews(num_views=1, **{**IDENTITY, "crop_scale": (0.25, 0.25)})
    (view,) = views(images, torch.Generator().manual_seed(0))
    assert view.sum() > images.sum() * 2


def test_erasing_zeroes_a_rectangle_and_noise_changes_pixels():
    images = torch.ones(4, 1, 8, 8)
    (erased,) = ImageViews(num_views=1, **{**IDENTITY, "erase_prob": 1.0})(
        images, torch.Generator().manual_seed(0)
    )
    zeros = (erased == 0).flatten(1).sum(1)
    assert torch.all(zeros >= 1) and torch.all(zeros < 64)
    (noisy,) = ImageViews(num_views=1, **{**IDENTITY, "noise_std": 0.1})(
        images * 0.5, torch.Generator().manual_seed(0)
    )
    assert 0.05 < (noisy - 0.5).std() < 0.15


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_views": 0}, "num_views"),
        ({"crop_scale": (0.9, 0.2)}, "crop_scale"),
        ({"flip_prob": 1.5}, "flip_prob"),
        ({"noise_std": -1}, "noise_std"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ImageViews(**kwargs)


def test_bad_images_are_rejected():
    with pytest.raises(ValueError, match="images"):
        ImageViews()(torch.rand(8, 8))


@pytest.mark.gpu
def test_cuda_views_match_cpu_geometry():
    images = _images()
    views = ImageViews(num_views=1, noise_std=0.0)
    (cpu,) = views(images, torch.Generator().manual_seed(3))
    (gpu,) = views(images.cuda(), torch.Generator().manual_seed(3))
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)
