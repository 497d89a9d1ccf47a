"""``scale.predictor_hidden`` in the trainer: BYOL (predictor + momentum target) and SimSiam (predictor +
stop-gradient target), checked against the objective written out by hand, and resumed exactly."""

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from contrastkit.losses import InfoNCE, NegativeCosine
from contrastkit.recipes import build_components, load_recipe
from contrastkit.train.batching import step_generator
from contrastkit.train.config import ConfigError, OptimSection, ScaleSection, TrainSection
from contrastkit.train.rundir import RunDir
from contrastkit.train.trainer import Trainer
from tests.recipes.tiny import TINY_TOML
from tests.train.test_scaling import Points, noisy_views, straight_and_resumed


def make_trainer(tmp_path, scale, loss=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 4))
    return Trainer(model, noisy_views, loss or NegativeCosine(), Points(),
                   train=TrainSection(batch_size=16, max_steps=3),
                   optim=OptimSection(lr=0.05, warmup_steps=0),
                   run_dir=RunDir(tmp_path), device=torch.device("cpu"), scale=scale)


def by_hand(model, predictor, target_net, trainer, step):
    """The symmetric objective of step ``step``, from copies of the modules; returns (loss, grads)."""
    views = noisy_views(Points().x[trainer.sampler.indices(step)], step_generator(0, step, 0))
    model, predictor = copy.deepcopy(model), copy.deepcopy(predictor)
    outputs = [model(v) for v in views]
    if target_net is None:  # SimSiam: stop-gradient
        targets = [o.detach() for o in outputs]
    else:
        with torch.no_grad():
            targets = [copy.deepcopy(target_net)(v) for v in views]
    cos = nn.functional.cosine_similarity
    p1, p2 = predictor(outputs[0]), predictor(outputs[1])
    loss = -(cos(p1, targets[1]).mean() + cos(p2, targets[0]).mean()) / 2
    loss.backward()
    return loss.detach(), [p.grad for p in model.parameters()], [p.grad for p in predictor.parameters()]


@pytest.mark.parametrize("momentum", [0.9, None], ids=["byol", "simsiam"])
def test_predictor_step_is_the_symmetric_objective_of_both_views(tmp_path, momentum):
    trainer = make_trainer(tmp_path, ScaleSection(momentum=momentum, predictor_hidden=8))
    scaling = trainer.scaling
    model0, predictor0 = copy.deepcopy(trainer.model), copy.deepcopy(scaling.predictor)
    target0 = None if momentum is None else copy.deepcopy(scaling.momentum.encoder)
    expected, model_grads, predictor_grads = by_hand(model0, predictor0, target0, trainer, 0)
    loss = trainer.train_step()
    assert loss == pytest.approx(float(expected), abs=1e-6)
    # gradients reach the model through the online branch only, and the predictor trains
    for got, want in zip(trainer.model.parameters(), model_grads):
        torch.testing.assert_close(got.grad, want, rtol=1e-5, atol=1e-7)
    for got, want in zip(scaling.predictor.parameters(), predictor_grads):
        torch.testing.assert_close(got.grad, want, rtol=1e-5, atol=1e-7)
    assert any(not torch.equal(a, b) for a, b in zip(scaling.predictor.parameters(), predictor0.parameters()))
    if momentum is not None:  # the target is the EMA of encoder + head, updated after the step
        for k, k0, q in zip(scaling.momentum.encoder.parameters(), model0.parameters(),
                            trainer.model.parameters()):
            torch.testing.assert_close(k, 0.9 * k0 + 0.1 * q.detach())
        assert int(scaling.momentum.step) == 1
        # step 1 uses the moved target
        target1 = copy.deepcopy(scaling.momentum.encoder)
        expected, _, _ = by_hand(trainer.model, scaling.predictor, target1, trainer, 1)
        assert trainer.train_step() == pytest.approx(float(expected), abs=1e-6)


def test_predictor_step_works_through_gradcache_chunks(tmp_path):
    plain = make_trainer(tmp_path / "a", ScaleSection(momentum=0.9, predictor_hidden=8))
    cached = make_trainer(tmp_path / "b", ScaleSection(momentum=0.9, predictor_hidden=8, chunk_size=16))
    for _ in range(3):  # one chunk = the whole batch, so BatchNorm sees the same rows
        assert plain.train_step() == pytest.approx(cached.train_step(), abs=1e-6)
    for a, b in zip(plain.scaling.predictor.parameters(), cached.scaling.predictor.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_predictor_step_accepts_a_contrastive_loss(tmp_path):
    """MoCo v3's arrangement (predictor + momentum target + symmetric InfoNCE) runs through the same step."""
    trainer = make_trainer(tmp_path, ScaleSection(momentum=0.9, predictor_hidden=8), InfoNCE(temperature=0.2))
    assert trainer.train_step() > 0


BYOL_TINY = TINY_TOML.replace('name = "NTXent"\ntemperature = 0.5', 'name = "NegativeCosine"') + """
[scale]
momentum = 0.9
momentum_schedule = "cosine"
predictor_hidden = 16
"""


def test_byol_state_is_checkpointed_and_resumes_to_identical_weights(tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(BYOL_TINY)
    a, b = straight_and_resumed(recipe, ["train.max_steps=8", "train.checkpoint_every=4"], tmp_path)
    assert int(a["model.momentum.step"]) == 8 and "model.predictor.net.0.weight" in a
    # the optimizer's last entries are the predictor's parameters (Adam moments of its last layer)
    last = max(int(key.split(".")[1]) for key in a if key.startswith("optim."))
    assert a[f"optim.{last}.exp_avg"].shape == a["model.predictor.net.3.bias"].shape
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key  # weights, EMA target, predictor, optimizer moments


def test_predictor_config_errors_name_the_key(tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(BYOL_TINY)
    config, _ = load_recipe(str(recipe), ["scale.queue_size=64"])
    with pytest.raises(ConfigError, match=r"scale\.queue_size = 64: BYOL / SimSiam"):
        build_components(config)
    with pytest.raises(ConfigError, match="predictor_hidden"):
        load_recipe(str(recipe), ["scale.predictor_hidden=0"])


def ddp_worker(rank, world, port, out_dir):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        trainer = make_trainer(Path(out_dir) / f"run{rank}", ScaleSection(momentum=0.9, predictor_hidden=8))
        for _ in range(2):
            trainer.train_step()
        torch.save({"predictor": trainer.scaling.predictor.state_dict(), "model": trainer.model.state_dict(),
                    "indices": trainer.sampler.indices(0)}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.distributed
def test_predictor_stays_the_same_on_every_rank(tmp_path):
    """The predictor is outside the DDP wrapper: its gradients are averaged over the ranks explicitly."""
    import torch.multiprocessing as mp

    from tests.scale.test_distributed import free_port
    mp.start_processes(ddp_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert not torch.equal(a["indices"], b["indices"])  # the ranks saw different rows
    for part in ("model", "predictor"):
        for key in a[part]:
            if "running" in key or "num_batches" in key:
                continue  # BatchNorm statistics are each rank's own
            assert torch.equal(a[part][key], b[part][key]), (part, key)
