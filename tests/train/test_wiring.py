"""Every configured setting reaches what it configures, seen only through the public surface: the TOML
config and ``contrastkit train --set``, the run directory's metrics.jsonl (one row per step with its ``lr``)
and checkpoint JSON (the optimizer's param groups), and the losses ``build_components`` returns.

The learning-rate reference is written here from the schedule's definition (linear warm-up
``peak (t + 1) / W``, then SGDR's cosine from ``peak`` down to ``min_lr_ratio * peak`` at the last step,
Loshchilov & Hutter, 2017, arXiv:1608.03983, Eq. 5), not imported from contrastkit.train.schedule.
"""

import json
import math

import pytest
import torch

from contrastkit.cli import main
from contrastkit.losses import InfoNCE, NTXent, SupCon
from contrastkit.recipes import build_components, load_recipe, train
from contrastkit.train.callbacks import Callback
from tests.helpers import randint, randn
from tests.recipes.tiny import write_tiny


def expected_lr(t, *, peak, total, warmup, schedule, min_ratio):
    """LR of optimizer step t (0-based)."""
    if t < warmup:
        return peak * (t + 1) / warmup
    if schedule == "constant":
        return peak
    decay_steps = max(total - warmup - 1, 1)
    floor = min_ratio * peak
    return floor + (peak - floor) * (1 + math.cos(math.pi * min((t - warmup) / decay_steps, 1.0))) / 2


def train_tiny(tmp_path, *sets, epochs_decide=False):
    tmp_path.mkdir(parents=True, exist_ok=True)
    recipe = write_tiny(tmp_path)
    if epochs_decide:  # drop the tiny recipe's max_steps: train.epochs sets the length
        recipe.write_text(recipe.read_text().replace("max_steps = 30\n", ""))
    argv = ["train", str(recipe), "--quiet", "--set", f"run.output_dir='{tmp_path / 'runs'}'"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    (run_dir,) = (tmp_path / "runs").glob("tiny-*")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return run_dir, [r for r in rows if r["kind"] == "train"]


@pytest.mark.slow
@pytest.mark.parametrize("schedule, warmup, min_ratio", [
    ("cosine", 3, 0.1),
    ("cosine", 0, 0.0),
    ("constant", 4, 0.5),  # min_lr_ratio belongs to the cosine: no effect here
])
def test_logged_lr_of_every_step_follows_the_configured_schedule(tmp_path, schedule, warmup, min_ratio):
    total, peak = 12, 0.02
    _, rows = train_tiny(tmp_path, f"train.max_steps={total}", f"optim.lr={peak}",
                         f"optim.warmup_steps={warmup}", f"optim.schedule='{schedule}'",
                         f"optim.min_lr_ratio={min_ratio}", "train.checkpoint_every=100")
    assert [r["step"] for r in rows] == list(range(1, total + 1))  # log_every = 1
    expected = [expected_lr(t, peak=peak, total=total, warmup=warmup, schedule=schedule, min_ratio=min_ratio)
                for t in range(total)]
    assert [r["lr"] for r in rows] == pytest.approx(expected, rel=1e-12)
    if schedule == "cosine":
        assert rows[-1]["lr"] == pytest.approx(min_ratio * peak, abs=1e-15)


@pytest.mark.slow
def test_accumulation_counts_optimizer_steps_in_the_schedule_and_the_epochs(tmp_path):
    """epochs = 2 without max_steps: the run has 2 * (micro-batches per epoch // accumulate) optimizer steps,
    the schedule spans exactly those, and the logged epoch counts micro-batches."""
    common = ["train.epochs=2", "optim.warmup_steps=2", "optim.min_lr_ratio=0.25",
              "train.checkpoint_every=100"]
    _, plain = train_tiny(tmp_path / "plain", *common, "optim.accumulate=1", epochs_decide=True)
    micro_batches = len(plain) // 2  # per epoch
    assert micro_batches >= 3
    _, rows = train_tiny(tmp_path / "accumulated", *common, "optim.accumulate=2", epochs_decide=True)
    total = 2 * (micro_batches // 2)
    assert [r["step"] for r in rows] == list(range(1, total + 1))
    expected = [expected_lr(t, peak=0.01, total=total, warmup=2, schedule="cosine", min_ratio=0.25)
                for t in range(total)]
    assert [r["lr"] for r in rows] == pytest.approx(expected, rel=1e-12)
    assert [r["epoch"] for r in rows] == pytest.approx([2 * s / micro_batches for s in range(1, total + 1)])


@pytest.mark.slow
@pytest.mark.parametrize("sets, expected", [
    (["optim.name='adamw'", "optim.weight_decay=0.03", "optim.betas=[0.8, 0.95]"],
     {"weight_decay": 0.03, "betas": [0.8, 0.95], "decoupled_weight_decay": True}),
    (["optim.name='adam'", "optim.weight_decay=0.002", "optim.betas=[0.5, 0.9]"],
     {"weight_decay": 0.002, "betas": [0.5, 0.9], "decoupled_weight_decay": False}),
    (["optim.name='sgd'", "optim.weight_decay=0.01", "optim.momentum=0.7"],
     {"weight_decay": 0.01, "momentum": 0.7}),
])
def test_optimizer_settings_reach_the_optimizer(tmp_path, sets, expected):
    run_dir, _ = train_tiny(tmp_path, "train.max_steps=4", "train.checkpoint_every=4", "optim.lr=0.03",
                            "optim.warmup_steps=0", "optim.schedule='constant'", *sets)
    meta = json.loads((run_dir / "checkpoints" / "step-00000004.json").read_text())
    groups = meta["optimizer"]["param_groups"]
    for group in groups:
        assert group["lr"] == pytest.approx(0.03)
        for key, value in expected.items():
            if key == "decoupled_weight_decay" and key not in group:
                continue  # torch < 2.6 keeps AdamW apart from Adam: the class is not in the groups
            assert group[key] == pytest.approx(value), key
    assert ("nesterov" in groups[0]) == ("momentum" in expected)  # SGD's groups, not Adam's
    assert ("amsgrad" in groups[0]) == ("betas" in expected)


@pytest.mark.parametrize("recipe, sets, reference", [
    ("simclr-digits", ["loss.temperature=0.37"], NTXent(temperature=0.37)),
    ("moco-digits", ["loss.temperature=0.6", "loss.symmetric=true"],
     InfoNCE(temperature=0.6, symmetric=True)),
    ("supcon-digits", ["loss.temperature=0.3", "loss.base_temperature=0.07"],
     SupCon(temperature=0.3, base_temperature=0.07)),
])
def test_loss_settings_reach_the_loss(recipe, sets, reference):
    """The built loss computes what a directly constructed loss with those settings computes, and not what
    the recipe's defaults compute."""
    config, _ = load_recipe(recipe, sets)
    built = build_components(config).loss
    default = build_components(load_recipe(recipe)[0]).loss
    if isinstance(reference, SupCon):
        inputs = (randn(12, 2, 5, seed=1), randint(3, 12, seed=2))
    else:
        inputs = (randn(12, 5, seed=1), randn(12, 5, seed=2))
    value = built(*inputs)
    torch.testing.assert_close(value, reference(*inputs), rtol=1e-12, atol=1e-12)
    assert not torch.isclose(value, default(*inputs), rtol=1e-6)


class Recorder(Callback):
    """Records what the public callback hooks receive."""

    def __init__(self):
        self.calls = []

    def on_start(self, trainer, step, total):
        self.calls.append(("start", step, total))

    def on_step_end(self, trainer, step, logs):
        self.calls.append(("step", step, dict(logs)))

    def on_eval(self, trainer, step, metrics):
        self.calls.append(("eval", step, dict(metrics)))

    def on_end(self, trainer, step):
        self.calls.append(("end", step))


@pytest.mark.slow
def test_callbacks_see_every_step_with_its_logs_and_the_evaluations(tmp_path):
    recipe = write_tiny(tmp_path)
    sets = [f"run.output_dir={str(tmp_path / 'runs')!r}", "train.max_steps=6", "train.eval_every=3",
            "train.checkpoint_every=100"]
    config, name = load_recipe(str(recipe), sets)
    recorder = Recorder()
    train(config, name, quiet=True, callbacks=[recorder])
    kinds = [call[0] for call in recorder.calls]
    assert recorder.calls[0] == ("start", 0, 6) and recorder.calls[-1] == ("end", 6)
    steps = [call for call in recorder.calls if call[0] == "step"]
    assert [call[1] for call in steps] == [1, 2, 3, 4, 5, 6]
    assert all(call[2]["step"] == call[1] and {"loss", "lr"} <= set(call[2]) for call in steps)
    assert [call[1] for call in recorder.calls if call[0] == "eval"] == [3, 6]
    assert all("knn_accuracy" in call[2] for call in recorder.calls if call[0] == "eval")
    assert kinds.index("eval") == kinds.index("step") + 3  # after step 3's step-end


@pytest.mark.slow
@pytest.mark.parametrize("metrics, keys", [
    (["linear_probe"], {"linear_probe_accuracy"}),
    (["alignment", "effective_rank"], {"alignment", "effective_rank"}),
])
def test_the_configured_metrics_reach_the_evaluator(tmp_path, capsys, metrics, keys):
    recipe = write_tiny(tmp_path)
    recipe.write_text(recipe.read_text().replace('metrics = ["knn"]', f"metrics = {json.dumps(metrics)}"))
    argv = ["train", str(recipe), "--quiet", "--json", "--set", f"run.output_dir='{tmp_path / 'runs'}'",
            "--set", "train.max_steps=2", "--set", "train.checkpoint_every=100"]
    assert main(argv) == 0
    assert set(json.loads(capsys.readouterr().out)["final"]) == keys


@pytest.mark.slow
def test_accumulating_a_whole_epoch_gives_one_step_per_epoch(tmp_path):
    _, plain = train_tiny(tmp_path / "plain", "train.epochs=1", "train.checkpoint_every=100",
                          epochs_decide=True)
    _, rows = train_tiny(tmp_path / "whole", "train.epochs=2", f"optim.accumulate={len(plain)}",
                         "optim.warmup_steps=0", "train.checkpoint_every=100", epochs_decide=True)
    assert [r["step"] for r in rows] == [1, 2] and [r["epoch"] for r in rows] == pytest.approx([1.0, 2.0])


@pytest.mark.slow
def test_gradcache_chunks_train_a_supervised_loss_like_plain_backprop(tmp_path):
    """scale.chunk_size with SupCon (labels reach the loss through the chunked step): the same logged
    losses as plain backprop (BatchNorm off: with it, chunks see other batch statistics)."""
    sets = ["loss.name='SupCon'", "loss.temperature=0.5", "train.max_steps=4", "train.checkpoint_every=100",
            "encoder.batch_norm=false", "head.batch_norm=false"]
    _, plain = train_tiny(tmp_path / "plain", *sets)
    _, chunked = train_tiny(tmp_path / "chunked", *sets, "scale.chunk_size=12")
    assert [r["loss"] for r in chunked] == pytest.approx([r["loss"] for r in plain], rel=1e-5)
