"""What each image augmentation does, measured on known images: the geometric map read back from coordinate
ramps (rotation angle and direction, crop area, ratio and position, flip), intensity changes on constant and
two-level images, and the erased rectangle's area. Each drawn parameter must lie in its configured range and
cover it; rates are checked against binomial bounds."""

import math

import pytest
import torch

from contrastkit.views import ImageViews
from contrastkit.views import image as image_module
from tests.views.test_image_views import IDENTITY

OFF = IDENTITY  # every augmentation off
SIZE = 33  # odd: the centre pixel sits on the rotation centre


def one_view(images, seed=0, **options):
    (view,) = ImageViews(num_views=1, **{**OFF, **options})(images, torch.Generator().manual_seed(seed))
    return view


def ramps(n, size=SIZE):
    """``(n, 2, size, size)`` float64: channel 0 is the column index, channel 1 the row index, / (size-1)."""
    line = torch.arange(size, dtype=torch.float64) / (size - 1)
    grid = torch.stack([line.expand(size, size), line.view(size, 1).expand(size, size)])
    return grid.expand(n, 2, size, size).clone()


def sampling_maps(view, size=SIZE):
    """Read back, per image, the affine map from output to input coordinates (both in [-1, 1], x right,
    y down) by a least-squares plane fit of each ramp channel over the central pixels, which every crop
    and rotation used here keeps inside the image. Returns ``(A (n, 2, 2), c (n, 2))``: input = A out + c."""
    centres = (2 * torch.arange(size, dtype=torch.float64) + 1) / size - 1
    keep = centres.abs() <= 0.45
    y, x = torch.meshgrid(centres[keep], centres[keep], indexing="ij")
    design = torch.stack([x.flatten(), y.flatten(), torch.ones(x.numel(), dtype=torch.float64)], 1)
    # ramp value v = pixel index / (size-1) and pixel index = ((coordinate + 1) size - 1) / 2
    values = view[:, :, keep][:, :, :, keep].flatten(2)  # (n, 2, pixels)
    coordinate = (2 * values * (size - 1) + 1) / size - 1
    targets = coordinate.transpose(1, 2)  # (n, pixels, 2)
    solution = torch.linalg.lstsq(design.expand(len(view), -1, -1), targets).solution  # (n, 3, 2)
    return solution[:, :2].transpose(1, 2), solution[:, 2]


def decompose(A):
    """``A = R(angle) diag(flip * width, height)``: the crop's half-sizes, the angle in degrees, the flip."""
    width, height = A[:, :, 0].norm(dim=1), A[:, :, 1].norm(dim=1)
    angle = torch.rad2deg(torch.atan2(-A[:, 0, 1], A[:, 1, 1]))
    flip = torch.sign(torch.linalg.det(A))
    return width, height, angle, flip


def binomial_ok(count, n, p, sigmas=4.5):
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def test_the_ramp_reader_recovers_the_identity():
    A, c = sampling_maps(one_view(ramps(3)))
    torch.testing.assert_close(A, torch.eye(2, dtype=torch.float64).expand(3, 2, 2), atol=1e-9, rtol=0)
    torch.testing.assert_close(c, torch.zeros(3, 2, dtype=torch.float64), atol=1e-9, rtol=0)


def test_rotation_angles_are_uniform_within_max_rotation_and_the_map_is_rigid():
    A, c = sampling_maps(one_view(ramps(400), max_rotation=30.0))
    width, height, angle, flip = decompose(A)
    torch.testing.assert_close(width, torch.ones_like(width), atol=1e-9, rtol=0)  # a rotation: no scaling
    torch.testing.assert_close(height, torch.ones_like(height), atol=1e-9, rtol=0)
    assert (flip == 1).all() and c.abs().max() < 1e-9  # about the centre, never mirrored
    assert angle.abs().max() <= 30.0 + 1e-6
    assert angle.min() < -28 and angle.max() > 28  # the range is covered
    # uniform on [-30, 30]: mean 0 (sd 30/sqrt(3 n)), the fraction within +-15 degrees is 1/2
    assert abs(float(angle.mean())) < 4.5 * 30 / math.sqrt(3 * 400)
    assert binomial_ok(int((angle.abs() < 15).sum()), 400, 0.5)


@pytest.mark.parametrize("sign", [1, -1])
def test_a_positive_angle_turns_the_picture_counter_clockwise(monkeypatch, sign):
    """With the angle forced to +-max_rotation, a bright dot right of the centre moves up (positive:
    counter-clockwise as displayed, rows going down) or down, on the circle through it, by that angle."""
    original = image_module.ImageViews._affine
    angle_draw = {1: "high", -1: "low"}[sign]

    def forced(self, n, uniform):
        calls = iter(["high", "high", "high", "high", angle_draw, "high"])  # area, ratio, cx, cy, angle, flip

        def pick(low, high, size=(n,)):
            return torch.full(size, high if next(calls) == "high" else low, dtype=torch.float64)

        return original(self, n, pick)

    monkeypatch.setattr(image_module.ImageViews, "_affine", forced)
    image = torch.zeros(1, 1, SIZE, SIZE, dtype=torch.float64)
    centre, radius = SIZE // 2, 10
    image[0, 0, centre, centre + radius] = 1.0
    view = one_view(image, max_rotation=40.0)[0, 0]
    rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    mass = view.sum()
    row = float((view * rows).sum() / mass) - centre
    col = float((view * cols).sum() / mass) - centre
    assert math.hypot(row, col) == pytest.approx(radius, abs=0.5)
    assert math.degrees(math.atan2(-row, col)) == pytest.approx(sign * 40.0, abs=1.5)


def test_crop_area_ratio_and_position_stay_in_their_ranges():
    scale, ratio = (0.2, 0.6), (0.5, 1.5)
    A, c = sampling_maps(one_view(ramps(500), crop_scale=scale, crop_ratio=ratio))
    width, height, angle, flip = decompose(A)
    assert angle.abs().max() < 1e-6 and (flip == 1).all()
    area, aspect = width * height, width / height  # fractions of the image's area and width / height
    assert area.min() >= scale[0] - 1e-9 and area.max() <= scale[1] + 1e-9
    assert aspect.min() >= ratio[0] - 1e-9 and aspect.max() <= ratio[1] + 1e-9
    assert area.min() < 0.22 and area.max() > 0.58  # both ends are reached
    assert aspect.min() < 0.55 and aspect.max() > 1.35
    # area uniform, ratio log-uniform: the medians sit at the middles
    assert binomial_ok(int((area < 0.4).sum()), 500, 0.5)
    assert binomial_ok(int((aspect.log() < 0.5 * math.log(0.5 * 1.5)).sum()), 500, 0.5)
    # the crop lies inside the image: |centre| + half-size <= 1 on both axes
    assert (c[:, 0].abs() + width <= 1 + 1e-9).all() and (c[:, 1].abs() + height <= 1 + 1e-9).all()
    assert c[:, 0].abs().max() > 0.5 * (1 - width).max()  # and is not always centred


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_flip_probability_and_flip_is_a_mirror_of_width(p):
    A, _ = sampling_maps(one_view(ramps(400), flip_prob=p))
    flip = decompose(A)[3]
    flipped = int((flip < 0).sum())
    assert binomial_ok(flipped, 400, p)
    mirror = torch.diag(torch.tensor([-1.0, 1.0], dtype=torch.float64))  # x -> -x, nothing else
    assert all((a - mirror).abs().max() < 1e-9 for a in A[flip < 0])


def test_brightness_shifts_a_constant_image_uniformly_within_the_range():
    view = one_view(torch.full((600, 1, 6, 6), 0.5), brightness=0.3)
    shift = view.flatten(1) - 0.5
    assert (shift.max(1).values - shift.min(1).values).max() < 1e-6  # one shift per image
    shift = shift[:, 0]
    assert shift.abs().max() <= 0.3 + 1e-6 and shift.min() < -0.28 and shift.max() > 0.28
    assert binomial_ok(int((shift > 0).sum()), 600, 0.5)
    assert binomial_ok(int((shift.abs() < 0.15).sum()), 600, 0.5)


def test_contrast_scales_deviations_from_the_mean_and_leaves_constant_images_alone():
    constant = one_view(torch.full((50, 1, 6, 6), 0.3), contrast=0.8)
    assert torch.allclose(constant, torch.tensor(0.3), atol=1e-6)
    two_level = torch.full((600, 1, 6, 6), 0.25)
    two_level[:, :, :, 3:] = 0.75
    view = one_view(two_level, contrast=0.4)
    factor = (view[:, 0, 0, 5] - view[:, 0, 0, 0]) / 0.5  # the gap between the two levels, rescaled
    torch.testing.assert_close(view.mean((1, 2, 3)), torch.full((600,), 0.5), atol=1e-6, rtol=0)  # mean kept
    assert factor.min() >= 0.6 - 1e-6 and factor.max() <= 1.4 + 1e-6
    assert factor.min() < 0.62 and factor.max() > 1.38
    assert binomial_ok(int((factor > 1).sum()), 600, 0.5)


def test_noise_has_the_configured_standard_deviation():
    view = one_view(torch.full((50, 1, 16, 16), 0.5), noise_std=0.05)
    noise = view - 0.5
    assert abs(float(noise.mean())) < 0.002 and float(noise.std()) == pytest.approx(0.05, rel=0.03)


@pytest.mark.parametrize("size", [8, 28])
def test_erasing_zeroes_one_rectangle_of_the_configured_area(size):
    scale = (0.1, 0.3)
    view = one_view(torch.ones(400, 1, size, size), erase_prob=1.0, erase_scale=scale)
    erased = view[:, 0] == 0
    rows, cols = erased.any(2), erased.any(1)
    height, width = rows.sum(1), cols.sum(1)
    assert (erased.sum((1, 2)) == height * width).all()  # the zeros fill their bounding box: a rectangle
    # side = round(sqrt(area) * size), area uniform in erase_scale
    low, high = round(math.sqrt(scale[0]) * size), round(math.sqrt(scale[1]) * size)
    assert (height == width).all() and height.min() >= low and height.max() <= high
    assert height.min() == low and height.max() == high
    area = height.double() * width / size**2
    assert abs(float(area.mean()) - sum(scale) / 2) < 0.03
    # a rectangle anywhere: every row and column is erased in some image
    assert rows.any(0).all() and cols.any(0).all()


def test_erase_probability():
    view = one_view(torch.ones(500, 1, 8, 8), erase_prob=0.3)
    assert binomial_ok(int((view == 0).flatten(1).any(1).sum()), 500, 0.3)
