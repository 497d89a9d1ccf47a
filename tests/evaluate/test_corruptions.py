"""Each corruption's effect, checked against what it must do to a hand-made image."""

import math

import pytest
import torch

from contrastkit.evaluate.corruptions import CORRUPTIONS, LEVELS, corrupt, rotate


def grey(n=4, size=28, value=0.5):
    return torch.full((n, 1, size, size), value)


def test_noise_is_seeded_zero_mean_with_the_level_as_std():
    images = grey(8)
    stds = []
    for severity in (1, 2, 3):
        out = corrupt(images, "gaussian_noise", severity, seed=3)
        assert torch.equal(out, corrupt(images, "gaussian_noise", severity, seed=3))
        level = LEVELS["gaussian_noise"][severity - 1]
        noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(3))
        assert torch.allclose(out, (images + level * noise).clamp(0, 1))
        kept = (out > 0) & (out < 1)  # pixels the clamp left alone carry the noise unchanged
        assert torch.allclose((out - images)[kept], level * noise[kept], atol=1e-6)
        assert kept.float().mean() > 0.85
        stds.append((out - images).std().item())
    assert stds[0] == pytest.approx(0.1, rel=0.05) and stds[0] < stds[1] < stds[2]
    other_seed = corrupt(images, "gaussian_noise", 1, seed=4)
    assert not torch.equal(corrupt(images, "gaussian_noise", 1, seed=3), other_seed)


def test_blur_keeps_constants_and_spreads_an_impulse_with_the_level_as_std():
    assert torch.allclose(corrupt(grey(), "blur", 3), grey(), atol=1e-6)
    impulse = torch.zeros(1, 1, 29, 29)
    impulse[0, 0, 14, 14] = 1.0
    for severity, sigma in zip((1, 2, 3), LEVELS["blur"]):
        out = corrupt(impulse, "blur", severity)[0, 0].double()
        assert out.sum().item() == pytest.approx(1.0, abs=1e-6)  # radius 3 sigma: nothing reaches the edge
        offsets = torch.arange(29, dtype=torch.float64) - 14
        variance = (out.sum(dim=0) * offsets**2).sum().item()  # along x, marginal over y
        truncated = math.ceil(3 * sigma)  # the kernel is cut at 3 sigma (and renormalised)
        grid = torch.arange(-truncated, truncated + 1, dtype=torch.float64)
        weights = torch.exp(-0.5 * (grid / sigma) ** 2)
        assert variance == pytest.approx(float((weights * grid**2).sum() / weights.sum()), rel=1e-5)
        assert torch.allclose(out, out.T) and out[14, 14] == out.max()


def test_contrast_keeps_the_mean_and_scales_deviations():
    g = torch.Generator().manual_seed(0)
    images = 0.3 + 0.4 * torch.rand(5, 1, 28, 28, generator=g)  # stays in [0, 1] after scaling
    for severity, factor in zip((1, 2, 3), LEVELS["contrast"]):
        out = corrupt(images, "contrast", severity)
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        assert torch.allclose(out.mean(dim=(1, 2, 3), keepdim=True), mean, atol=1e-6)
        assert torch.allclose(out - mean, factor * (images - mean), atol=1e-6)


def test_rotation_by_90_degrees_is_rot90_and_the_level_is_the_angle():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(3, 1, 10, 10, generator=g)
    quarter = rotate(images, torch.full((3,), 90.0))
    assert torch.allclose(quarter, torch.rot90(images, 1, dims=(2, 3)), atol=1e-5)
    bar = torch.zeros(1, 1, 28, 28)
    bar[0, 0, 13:15, 4:24] = 1.0  # a horizontal bar through the centre
    for severity, angle in zip((1, 2, 3), LEVELS["rotation"]):
        out = corrupt(bar, "rotation", severity, seed=0)[0, 0]
        ys, xs = torch.nonzero(out > 0.5, as_tuple=True)
        slope = torch.linalg.lstsq(torch.stack([xs.double() - 13.5, torch.ones_like(xs.double())], 1),
                                   (ys.double() - 13.5).unsqueeze(1)).solution[0].item()
        assert abs(math.degrees(math.atan(abs(slope)))) == pytest.approx(angle, abs=3.0)


def test_occlusion_zeroes_one_square_of_the_level_side():
    images = grey(6, value=0.8)
    for severity, fraction in zip((1, 2, 3), LEVELS["occlusion"]):
        out = corrupt(images, "occlusion", severity, seed=5)
        side = round(fraction * 28)
        for image in out[:, 0]:
            zero = image == 0
            assert zero.sum().item() == side * side
            rows, cols = torch.nonzero(zero, as_tuple=True)
            assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
            assert torch.all(image[~zero] == 0.8)
    assert torch.equal(corrupt(images, "occlusion", 2, seed=1), corrupt(images, "occlusion", 2, seed=1))


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_every_corruption_keeps_shape_dtype_and_range_and_grows_with_severity(name):
    g = torch.Generator().manual_seed(2)
    images = torch.rand(16, 1, 28, 28, generator=g)
    changes = []
    for severity in (1, 2, 3):
        out = corrupt(images, name, severity, seed=0)
        assert out.shape == images.shape and out.dtype == images.dtype
        assert out.min() >= 0 and out.max() <= 1
        changes.append((out - images).abs().mean().item())
    assert changes[0] > 0 and changes[0] < changes[1] < changes[2]


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"corruption: unknown 'fog'"):
        corrupt(grey(), "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(grey(), "blur", 4)
    with pytest.raises(ValueError, match="images"):
        corrupt(torch.rand(28, 28), "blur", 1)
