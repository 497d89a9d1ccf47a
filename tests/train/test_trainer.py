"""The loop itself: determinism, gradient accumulation, clipping, early stop, best checkpoint."""

import copy

import pytest
import torch

from contrastkit.data import ImageData
from contrastkit.encoders import MLP, ContrastiveModel
from contrastkit.losses import NTXent
from contrastkit.train import RunDir, Trainer, list_checkpoints
from contrastkit.train.batching import EpochSampler
from contrastkit.train.config import OptimSection, TrainSection
from contrastkit.views import ImageViews


def _data(n=64):
    generator = torch.Generator().manual_seed(0)
    return ImageData(torch.rand(n, 1, 4, 4, generator=generator), torch.arange(n) % 4)


def _trainer(tmp_path, views=None, evaluators=(), train=None, optim=None, seed=0):
    torch.manual_seed(0)
    model = ContrastiveModel(MLP(16, [8], 6, batch_norm=False))
    train = TrainSection(
        **{"batch_size": 16, "max_steps": 4, "checkpoint_every": 100, "log_every": 1, **(train or {})}
    )
    optim = OptimSection(
        **{
            "name": "sgd",
            "lr": 0.1,
            "momentum": 0.0,
            "weight_decay": 0.0,
            "schedule": "constant",
            **(optim or {}),
        }
    )
    views = views or (lambda x, g: [x, x.flip(-1)])
    return Trainer(
        model,
        views,
        NTXent(0.5),
        _data(),
        train=train,
        optim=optim,
        run_dir=RunDir(tmp_path),
        device=torch.device("cpu"),
        seed=seed,
        evaluators=evaluators,
    )


def test_same_seed_same_weights(tmp_path):
    runs = []
    for name in ("a", "b"):
        trainer = _trainer(tmp_path / name, views=ImageViews())
        trainer.fit()
        runs.append(trainer.model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_gradient_accumulation_averages_micro_batch_gradients(tmp_path):
    trainer = _trainer(tmp_path, train={"max_steps": 1}, optim={"accumulate": 2})
    before = copy.deepcopy(trainer.model)
    sampler = EpochSampler(64, 16, seed=0)
    grads = []
    for micro in (0, 1):
        model = copy.deepcopy(before)
        x = _data().images[sampler.indices(micro)]
        z = model(torch.cat([x, x.flip(-1)])).chunk(2)
        NTXent(0.5)(*z).backward()
        grads.append([p.grad for p in model.parameters()])
    trainer.fit()
    for p0, p1, g0, g1 in zip(before.parameters(), trainer.model.parameters(), *grads):
        torch.testing.assert_close(p1, p0 - 0.1 * (g0 + g1) / 2)


def test_gradient_clipping_bounds_the_step(tmp_path):
    trainer = _trainer(tmp_path, train={"max_steps": 1}, optim={"grad_clip": 1e-3, "lr": 1.0})
    before = torch.cat([p.detach().flatten().clone() for p in trainer.model.parameters()])
    trainer.fit()
    after = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    assert trainer.last_logs["grad_norm"] > 1e-3  # clipping was active
    assert (after - before).norm() == pytest.approx(1e-3, rel=1e-4)


def test_early_stop_and_best_checkpoint(tmp_path):
    values = iter([0.5, 0.7, 0.6, 0.65, 0.1, 0.1])
    settings = {
        "max_steps": 20,
        "eval_every": 1,
        "best_metric": "score",
        "early_stop_patience": 2,
        "keep_last": 1,
    }
    trainer = _trainer(tmp_path, evaluators=[lambda embed: {"score": next(values)}], train=settings)
    trainer.fit()
    assert trainer.step == 4 and "early stop" in trainer.stop_reason
    assert trainer.best.step == 2 and trainer.best.value == 0.7
    assert list_checkpoints(tmp_path / "checkpoints") == [2, 4]  # last one + the best one
    assert RunDir(tmp_path).read_json(RunDir(tmp_path).best) == {"step": 2, "metric": "score", "value": 0.7}
    # resuming a run that had stopped early (e.g. killed while writing its report) does not train on
    again = _trainer(tmp_path, evaluators=[lambda embed: {"score": 0.0}], train=settings)
    assert again.resume() and again.stop_reason == trainer.stop_reason
    again.fit()
    assert again.step == 4 and again.best.step == 2


def test_unknown_best_metric_is_named(tmp_path):
    trainer = _trainer(
        tmp_path,
        evaluators=[lambda embed: {"score": 1.0}],
        train={"max_steps": 2, "eval_every": 1, "best_metric": "knn_accuracy"},
    )
    with pytest.raises(ValueError, match=r"train\.best_metric = 'knn_accuracy'"):
        trainer.fit()


def test_batch_larger_than_the_data_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"train\.batch_size = 128"):
        _trainer(tmp_path, train={"batch_size": 128})


def test_sampler_covers_each_epoch_without_repeats():
    sampler = EpochSampler(50, 8, seed=3)
    epoch = torch.cat([sampler.indices(m) for m in range(sampler.batches_per_epoch)])
    assert sampler.batches_per_epoch == 6 and len(set(epoch.tolist())) == 48
    ranks = [EpochSampler(50, 8, seed=3, rank=r, world_size=2).indices(0) for r in (0, 1)]
    assert set(ranks[0].tolist()).isdisjoint(ranks[1].tolist())
    assert torch.equal(torch.cat(ranks), torch.cat([sampler.indices(0), sampler.indices(1)]))


@pytest.mark.gpu
def test_cuda_bf16_autocast_run(tmp_path):
    trainer = _trainer(tmp_path, views=ImageViews())
    trainer = Trainer(
        trainer.model,
        ImageViews(),
        NTXent(0.5),
        _data(),
        train=trainer.settings,
        optim=trainer.optim,
        run_dir=RunDir(tmp_path / "cuda"),
        device=torch.device("cuda"),
        bf16=True,
    )
    trainer.fit()
    assert all(p.device.type == "cuda" and torch.isfinite(p).all() for p in trainer.model.parameters())
