"""The [scale] table in the trainer: GradCache, gathered negatives, MoCo (momentum encoder + queue)."""

import copy

import pytest
import torch
from torch import nn

from contrastkit.losses import InfoNCE, NTXent
from contrastkit.recipes import build_components, load_recipe, train
from contrastkit.train.batching import step_generator
from contrastkit.train.callbacks import Callback
from contrastkit.train.checkpoint import list_checkpoints, load_checkpoint
from contrastkit.train.config import OptimSection, ScaleSection, TrainSection
from contrastkit.train.rundir import RunDir
from contrastkit.train.trainer import Trainer
from tests.helpers import randn
from tests.recipes.tiny import write_tiny


class Points:
    """48 random 6-d points; ``batch`` returns ``{"anchor": inputs}`` like the trainer's data sources."""

    fields = ("anchor",)

    def __init__(self):
        self.x = randn(48, 6, seed=1, dtype=torch.float32)

    def __len__(self):
        return len(self.x)

    def batch(self, indices):
        return {"anchor": self.x[indices]}


def noisy_views(x, generator):
    return [x + 0.1 * torch.randn(x.shape, generator=generator) for _ in range(2)]


def make_trainer(tmp_path, loss, scale=None, steps=3):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4))  # no BatchNorm: chunks are exact
    return Trainer(model, noisy_views, loss, Points(), train=TrainSection(batch_size=16, max_steps=steps),
                   optim=OptimSection(lr=0.05, warmup_steps=0), run_dir=RunDir(tmp_path),
                   device=torch.device("cpu"), scale=scale)


def test_chunk_size_gives_the_same_training_as_plain_backprop(tmp_path):
    plain = make_trainer(tmp_path / "a", NTXent(temperature=0.5))
    cached = make_trainer(tmp_path / "b", NTXent(temperature=0.5), ScaleSection(chunk_size=5))
    assert cached.scaling is not None and plain.scaling is None
    for _ in range(3):
        assert abs(plain.train_step() - cached.train_step()) < 1e-6
    for a, b in zip(plain.model.parameters(), cached.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_moco_keys_come_from_the_momentum_encoder_and_fill_the_queue(tmp_path):
    trainer = make_trainer(tmp_path, InfoNCE(temperature=0.2), ScaleSection(momentum=0.9, queue_size=40))
    initial = copy.deepcopy(trainer.model)
    trainer.train_step()
    momentum, queue = trainer.scaling.momentum, trainer.scaling.queue
    # the keys of step 0: the momentum encoder (still the initial model) on the second view
    indices = trainer.sampler.indices(0)
    views = noisy_views(Points().x[indices], step_generator(0, 0, 0))
    keys, ids = queue.negatives()
    torch.testing.assert_close(keys, initial(views[1]).detach())
    assert torch.equal(ids, indices)
    # after the optimizer step: theta_k = 0.9 theta_k + 0.1 theta_q
    for k, k0, q in zip(momentum.encoder.parameters(), initial.parameters(), trainer.model.parameters()):
        torch.testing.assert_close(k, 0.9 * k0 + 0.1 * q.detach())
    trainer.train_step()
    trainer.train_step()
    assert len(queue) == 40 and int(momentum.step) == 3  # 3 x 16 keys pushed into 40 slots


def test_gather_distributed_reaches_the_loss():
    config, _ = load_recipe("simclr-digits", ["scale.gather_distributed=true"])
    assert build_components(config).loss.gather_distributed is True
    config, _ = load_recipe("simclr-digits")
    assert build_components(config).loss.gather_distributed is False


class StopAfter(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, step, logs):
        if step == self.step:
            raise KeyboardInterrupt  # a crash between checkpoints


def straight_and_resumed(recipe, sets, tmp_path):
    """Checkpoints ``(straight, resumed)`` of the recipe run 8 steps straight, and run again with a crash
    at step 6 (only the checkpoint of step 4 exists, the log stops at 6) and a resume to the end;
    ``sets`` must give ``train.max_steps=8`` and ``train.checkpoint_every=4``."""
    config, name = load_recipe(str(recipe), [f"run.output_dir={str(tmp_path / 'straight')!r}", *sets])
    straight = train(config, name, quiet=True).run_dir
    config, name = load_recipe(str(recipe), [f"run.output_dir={str(tmp_path / 'resumed')!r}", *sets])
    with pytest.raises(KeyboardInterrupt):
        train(config, name, quiet=True, callbacks=[StopAfter(6)])
    (resumed,) = (tmp_path / "resumed").glob("tiny-*")
    assert list_checkpoints(RunDir(resumed).checkpoints) == [4]
    assert max(r["step"] for r in RunDir(resumed).read_metrics() if r["kind"] == "train") == 6
    train(config, name, resume_dir=resumed, quiet=True)
    return load_checkpoint(straight.checkpoints)[0], load_checkpoint(RunDir(resumed).checkpoints)[0]


def test_moco_state_is_checkpointed_and_survives_resume(tmp_path):
    moco = ['loss.name="InfoNCE"', "loss.temperature=0.2", "scale.momentum=0.9", "scale.queue_size=48",
            'scale.momentum_schedule="cosine"', "train.max_steps=8", "train.checkpoint_every=4"]
    a, b = straight_and_resumed(write_tiny(tmp_path), moco, tmp_path)
    assert "model.queue.keys" in a and "model.momentum.step" in a and int(a["model.momentum.step"]) == 8
    assert a.keys() == b.keys()
    for key in a:
        if key.startswith("model."):
            assert torch.equal(a[key], b[key]), key
