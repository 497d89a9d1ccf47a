"""Resume falls back to the newest valid checkpoint with a one-line note, and a checkpoint JSON can
only name a tensor file inside its own folder (issue 14 items 5 and 6)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from torch import nn

from contrastkit.train import checkpoint as ckpt


def _save(folder, steps=(100, 200, 300)):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in steps:
        with torch.no_grad():
            model.weight.fill_(step)
        ckpt.save_checkpoint(folder, step, model, optimizer, {"step": step})
    return folder


def _load_noting(folder, **kwargs):
    notes = []
    tensors, meta = ckpt.load_checkpoint(folder, note=notes.append, **kwargs)
    return tensors, meta, notes


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_latest_falls_back_to_the_previous_with_one_note(tmp_path):
    # it stopped --resume (exit 2) although valid older checkpoints existed
    _save(tmp_path)
    _flip_a_byte(tmp_path / "step-00000300.safetensors")
    tensors, meta, notes = _load_noting(tmp_path)
    assert meta["step"] == 200 and torch.all(tensors["model.weight"] == 200)
    assert len(notes) == 1 and "\n" not in notes[0]
    assert "step-00000300" in notes[0] and "SHA-256" in notes[0] and "step-00000200" in notes[0]


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.write_bytes(p.read_bytes()[:40]), "truncated"),
    (lambda p: p.unlink(), "missing"),
])
def test_truncated_or_missing_latest_is_skipped_with_a_note_not_silently(tmp_path, damage, reason):
    _save(tmp_path)
    damage(tmp_path / "step-00000300.safetensors")
    _, meta, notes = _load_noting(tmp_path)
    assert meta["step"] == 200
    assert len(notes) == 1 and "step-00000300" in notes[0] and reason in notes[0]


def test_several_bad_checkpoints_are_named_in_one_line(tmp_path):
    _save(tmp_path)
    _flip_a_byte(tmp_path / "step-00000300.safetensors")
    (tmp_path / "step-00000200.json").write_text("{not json")
    _, meta, notes = _load_noting(tmp_path)
    assert meta["step"] == 100
    assert len(notes) == 1 and "step-00000300" in notes[0] and "step-00000200" in notes[0]


def test_no_note_when_the_latest_is_valid(tmp_path):
    _save(tmp_path)
    _, meta, notes = _load_noting(tmp_path)
    assert meta["step"] == 300 and notes == []


def test_every_checkpoint_bad_raises_naming_each(tmp_path):
    _save(tmp_path, steps=(100, 200))
    for step in (100, 200):
        _flip_a_byte(tmp_path / f"step-{step:08d}.safetensors")
    with pytest.raises(ValueError, match=r"^folder: no valid checkpoint .*step-00000200.*step-00000100"):
        ckpt.load_checkpoint(tmp_path, note=lambda _: None)


def test_an_explicit_bad_step_raises_instead_of_falling_back(tmp_path):
    _save(tmp_path)
    _flip_a_byte(tmp_path / "step-00000300.safetensors")
    with pytest.raises(ValueError, match=r"^step: checkpoint step-00000300 .*SHA-256"):
        ckpt.load_checkpoint(tmp_path, step=300)


def _point_tensors_at(json_path, target):
    meta = json.loads(json_path.read_text())
    meta["tensors"] = str(target)
    json_path.write_text(json.dumps(meta))


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink"])
def test_a_json_pointing_at_another_runs_file_is_refused(tmp_path, how):
    # a JSON naming another run's (valid, checksum-matching) tensor file resumed from it
    mine, other = _save(tmp_path / "mine", steps=(100,)), _save(tmp_path / "other", steps=(100, 200))
    foreign = other / "step-00000200.safetensors"
    meta = json.loads((other / "step-00000200.json").read_text())
    json_path = mine / "step-00000200.json"
    json_path.write_text(json.dumps(meta))  # the foreign checkpoint's size and SHA-256
    if how == "relative":
        _point_tensors_at(json_path, os.path.relpath(foreign, mine))
    elif how == "absolute":
        _point_tensors_at(json_path, foreign.resolve())
    else:
        (mine / "linked.safetensors").symlink_to(foreign)
        _point_tensors_at(json_path, "linked.safetensors")
    assert ckpt.list_checkpoints(mine) == [100]
    _, meta, notes = _load_noting(mine)
    assert meta["step"] == 100
    assert len(notes) == 1 and "step-00000200" in notes[0] and "outside" in notes[0]
    with pytest.raises(ValueError, match=r"^step: .*outside"):
        ckpt.load_checkpoint(mine, step=200)
