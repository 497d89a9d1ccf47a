"""A run killed with SIGKILL mid-epoch and resumed reaches the same final weights on CPU."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from contrastkit.train.checkpoint import list_checkpoints
from tests.recipes.tiny import write_tiny

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys, time
    from contrastkit.recipes import load_recipe, train
    from contrastkit.train.callbacks import Callback

    class Slow(Callback):  # gives the test time to kill the process mid-run
        def on_step_end(self, trainer, step, logs):
            time.sleep(float(sys.argv[2]))

    config, name = load_recipe(sys.argv[3], ["run.output_dir=" + sys.argv[1]])
    train(config, name, quiet=True, callbacks=[Slow()])
""")


def _run(out: Path, delay: float, recipe: Path):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(out), str(delay), str(recipe)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_identical_weights(tmp_path):
    recipe = write_tiny(tmp_path)
    recipe.write_text(recipe.read_text().replace("checkpoint_every = 4", "checkpoint_every = 3"))
    straight = _run(tmp_path / "straight", 0.0, recipe)
    killed = _run(tmp_path / "killed", 0.15, recipe)
    deadline = time.time() + 120
    run_dir = None
    while time.time() < deadline and killed.poll() is None:
        runs = list((tmp_path / "killed").glob("tiny-*"))
        steps = list_checkpoints(runs[0] / "checkpoints") if runs else []
        # 150 training rows / batch 32 = 4 steps per epoch; checkpoints every 3 steps:
        # 9, 15, ... are mid-epoch
        if steps and steps[-1] >= 8 and steps[-1] % 4 != 0:
            run_dir = runs[0]
            time.sleep(0.2)  # a little after a checkpoint: mid-epoch, mid-interval
            killed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    killed.wait()
    assert run_dir is not None and killed.returncode == -signal.SIGKILL, killed.stderr.read().decode()[-2000:]
    assert not (run_dir / "model").exists(), "the run finished before it was killed"
    assert max(list_checkpoints(run_dir / "checkpoints")) < 30

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    resumed = subprocess.run(
        [sys.executable, "-m", "contrastkit", "train", "--resume", str(run_dir), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert straight.wait(timeout=300) == 0, straight.stderr.read().decode()[-2000:]
    (straight_dir,) = (tmp_path / "straight").glob("tiny-*")
    a = load_file(str(straight_dir / "model" / "model.safetensors"))
    b = load_file(str(run_dir / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [r for r in (run_dir / "metrics.jsonl").read_text().splitlines() if '"kind": "train"' in r]
    assert len(steps) == len(set(steps))  # replayed steps are not logged twice


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_over(tmp_path, capsys):
    from contrastkit.cli import main

    recipe = write_tiny(tmp_path)
    args = [
        "train",
        str(recipe),
        "--quiet",
        "--set",
        f"run.output_dir='{tmp_path}'",
        "--set",
        "train.max_steps=5",
        "--set",
        "train.checkpoint_every=100",
    ]
    assert main(args) == 0
    (run_dir,) = tmp_path.glob("tiny-*")
    expected = load_file(str(run_dir / "model" / "model.safetensors"))
    for path in [*(run_dir / "checkpoints").iterdir(), *(run_dir / "model").iterdir()]:
        path.unlink()  # as if killed after a few logged steps, before any checkpoint
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 0
    got = load_file(str(run_dir / "model" / "model.safetensors"))
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len([r for r in rows if '"kind": "train"' in r]) == 5
