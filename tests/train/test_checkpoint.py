"""Checkpoints: round trip, a crash during save, pruning with the best kept, atomic writes."""

import json
import pickle

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from contrastkit import _atomic
from contrastkit.train import checkpoint as ckpt
from contrastkit.train.rundir import RunDir


def _model_and_optimizer(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    model(torch.randn(5, 4)).square().sum().backward()
    optimizer.step()
    return model, optimizer


def test_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    model, optimizer = _model_and_optimizer()
    torch.manual_seed(123)
    ckpt.save_checkpoint(tmp_path, 7, model, optimizer, {"best_value": 0.5})
    expected_draw = torch.rand(3)
    tensors, meta = ckpt.load_checkpoint(tmp_path)
    assert meta["step"] == 7 and meta["state"] == {"best_value": 0.5}
    other, other_optimizer = _model_and_optimizer(seed=1)
    other.load_state_dict(ckpt.model_state(tensors))
    other_optimizer.load_state_dict(ckpt.unpack_optimizer(tensors, meta["optimizer"]))
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    for (_, sa), (_, sb) in zip(
        optimizer.state_dict()["state"].items(), other_optimizer.state_dict()["state"].items()
    ):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    ckpt.restore_rng(tensors)
    assert torch.equal(torch.rand(3), expected_draw)


def test_crash_while_writing_tensors_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, optimizer = _model_and_optimizer()
    ckpt.save_checkpoint(tmp_path, 1, model, optimizer, {})

    def torn_save(tensors, filename, *args, **kwargs):
        with open(filename, "wb") as handle:
            handle.write(b"\x00" * 17)  # half-written file, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_file", torn_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path, 2, model, optimizer, {})
    assert ckpt.list_checkpoints(tmp_path) == [1]
    tensors, meta = ckpt.load_checkpoint(tmp_path)
    assert meta["step"] == 1 and "model.0.weight" in tensors
    assert not list(tmp_path.glob("*.tmp")) and not (tmp_path / "step-00000002.safetensors").exists()


def test_crash_between_tensors_and_json_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, optimizer = _model_and_optimizer()
    ckpt.save_checkpoint(tmp_path, 1, model, optimizer, {})

    def dies(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "atomic_write_json", dies)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(tmp_path, 2, model, optimizer, {})
    assert (tmp_path / "step-00000002.safetensors").exists()  # tensors written, JSON (the commit) not
    assert ckpt.list_checkpoints(tmp_path) == [1]
    assert ckpt.load_checkpoint(tmp_path)[1]["step"] == 1


def test_crash_inside_rename_leaves_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    _atomic.atomic_write_json(target, {"v": 1})

    def failing_replace(src, dst):
        raise OSError("killed")

    monkeypatch.setattr(_atomic.os, "replace", failing_replace)
    with pytest.raises(OSError):
        _atomic.atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_corrupted_tensor_file_is_detected(tmp_path):
    model, optimizer = _model_and_optimizer()
    ckpt.save_checkpoint(tmp_path, 3, model, optimizer, {})
    path = tmp_path / "step-00000003.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        ckpt.load_checkpoint(tmp_path)


def test_prune_keeps_last_k_and_the_best(tmp_path):
    model, optimizer = _model_and_optimizer()
    for step in (1, 2, 3, 4, 5):
        ckpt.save_checkpoint(tmp_path, step, model, optimizer, {})
    ckpt.prune_checkpoints(tmp_path, keep_last=2, protect={2})
    assert ckpt.list_checkpoints(tmp_path) == [2, 4, 5]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"step-0000000{s}.{ext}" for s in (2, 4, 5) for ext in ("json", "safetensors")
    ]


def test_loading_never_unpickles(tmp_path, monkeypatch):
    model, optimizer = _model_and_optimizer()
    ckpt.save_checkpoint(tmp_path, 1, model, optimizer, {})
    # the tensor file is plain safetensors and the rest is JSON
    assert safetensors.torch.load_file(str(tmp_path / "step-00000001.safetensors"))
    json.loads((tmp_path / "step-00000001.json").read_text())

    def refuse(*args, **kwargs):
        raise AssertionError("load_checkpoint unpickled something")

    for owner, name in [(torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"),
                        (pickle, "_Unpickler"), (np, "load")]:
        monkeypatch.setattr(owner, name, refuse)
    tensors, meta = ckpt.load_checkpoint(tmp_path)
    assert meta["step"] == 1
    for key, value in model.state_dict().items():
        assert torch.equal(tensors[f"model.{key}"], value), key


def test_metrics_skip_a_torn_last_line_and_truncate_on_resume(tmp_path):
    run = RunDir(tmp_path)
    for step in (1, 2, 3):
        run.append_metrics({"kind": "train", "step": step, "loss": 1.0})
    with open(run.metrics, "a") as handle:
        handle.write('{"kind": "train", "st')  # killed mid-line
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3]
    run.truncate_metrics(2)
    assert [r["step"] for r in run.read_metrics()] == [1, 2]
