"""Checkpoint verification on realistic files (several MiB, an AdamW state beside the weights): a truncated
tensor file is never listed as complete, and a single flipped byte anywhere in it (header, the middle of a
tensor, the last byte) makes ``load_checkpoint`` refuse it, naming the file."""

import random

import pytest
import torch
from torch import nn

from contrastkit.train import checkpoint as ckpt

MIB = 1 << 20


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One checkpoint of a ~1.1 M-parameter model with its AdamW moments: ~13 MiB of tensors."""
    folder = tmp_path_factory.mktemp("big")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 512)).square().mean().backward()
    optimizer.step()
    ckpt.save_checkpoint(folder, 5, model, optimizer, {"note": "big"})
    weights = folder / "step-00000005.safetensors"
    assert weights.stat().st_size > 8 * MIB
    return folder, weights, weights.read_bytes()


@pytest.fixture
def restore(saved):
    folder, weights, original = saved
    yield folder, weights, original
    weights.write_bytes(original)


def test_the_intact_big_checkpoint_loads(restore):
    folder, _, _ = restore
    tensors, meta = ckpt.load_checkpoint(folder, 5)
    assert meta["step"] == 5 and tensors["optim.0.exp_avg"].shape == (1024, 512)


def flip_positions(size, count=12, seed=0):
    rng = random.Random(seed)
    fixed = [0, 7, 8, 200, size // 2, size - 1]  # header length, JSON header, tensor data, last byte
    return fixed + [rng.randrange(size) for _ in range(count - len(fixed))]


@pytest.mark.parametrize("index", range(12))
def test_one_flipped_byte_anywhere_is_refused(restore, index):
    folder, weights, original = restore
    position = flip_positions(len(original))[index]
    corrupted = bytearray(original)
    corrupted[position] ^= 1 << (position % 8)
    weights.write_bytes(bytes(corrupted))
    assert ckpt.list_checkpoints(folder) == [5]  # same size: only the checksum can tell
    with pytest.raises(ValueError, match=weights.name):
        ckpt.load_checkpoint(folder, 5)


@pytest.mark.parametrize("keep", [0, 1, 4096, 5 * MIB, -1])
def test_a_truncated_tensor_file_is_not_a_checkpoint(restore, keep):
    folder, weights, original = restore
    weights.write_bytes(original[:keep] if keep >= 0 else original[:-1])
    assert ckpt.list_checkpoints(folder) == []
    with pytest.raises(ValueError, match=rf"{weights.name} is \d+ bytes, the JSON records \d+ \(truncated\)"):
        ckpt.load_checkpoint(folder, 5)
    with pytest.raises(ValueError, match="no valid checkpoint"):
        ckpt.load_checkpoint(folder)


def test_an_appended_byte_is_refused(restore):
    folder, weights, original = restore
    weights.write_bytes(original + b"\0")
    assert ckpt.list_checkpoints(folder) == []


def test_unreadable_jsons_are_skipped_not_the_end_of_the_listing(tmp_path):
    """Ten complete checkpoints among ten JSONs that are torn, name missing tensors or lack keys: the
    listing has exactly the ten, whatever order the folder lists its files in."""
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, 21, 2):
        ckpt.save_checkpoint(tmp_path, step, model, optimizer, {})
    for step in range(2, 21, 2):
        body = ['{"tensors": "step-', '{"tensors": "gone.safetensors", "size": 1}', "{}", "[]", ""][step % 5]
        (tmp_path / f"step-{step:08d}.json").write_text(body)
    assert ckpt.list_checkpoints(tmp_path) == list(range(1, 21, 2))
