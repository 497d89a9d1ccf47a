"""SIGKILL while a checkpoint's temporary file exists (issue 14, "keep it closed"): the previous
checkpoint stays the latest valid one, nothing torn is loaded, and the resumed run ends with the
weights of a run that was never killed."""

from __future__ import annotations

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

from contrastkit.cli import main
from contrastkit.train.checkpoint import list_checkpoints, load_checkpoint
from tests.recipes.tiny import write_tiny

ROOT = Path(__file__).resolve().parents[2]

# Trains the tiny recipe; while writing the temporary file of `step-<KILL>.<SUFFIX>` it records the
# temporary path in MARKER and waits, so the parent can kill it at exactly that moment.
SCRIPT = textwrap.dedent("""
    import pathlib, sys, time
    from contrastkit import _atomic
    from contrastkit.train import checkpoint
    from contrastkit.recipes import load_recipe, train

    out, recipe, suffix, kill, marker = sys.argv[1:6]
    original = _atomic.atomic_write

    def atomic_write(path, write):
        path = pathlib.Path(path)

        def stalled(tmp):
            write(tmp)
            if path.name == f"step-{int(kill):08d}.{suffix}":
                pathlib.Path(marker).write_text(str(tmp))
                time.sleep(120)
        return original(path, stalled)

    _atomic.atomic_write = checkpoint.atomic_write = atomic_write
    config, name = load_recipe(recipe, ["run.output_dir=" + repr(out)])
    train(config, name, quiet=True)
""")


def _env():
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}{os.pathsep}"
                                        f"{os.environ.get('PYTHONPATH', '')}"}


@pytest.fixture(scope="module")
def straight_weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("straight")
    recipe = write_tiny(root, extra="")
    recipe.write_text(recipe.read_text().replace("max_steps = 30", "max_steps = 10"))
    assert main(["train", str(recipe), "--quiet", "--set", f"run.output_dir='{root / 'runs'}'"]) == 0
    (run,) = (root / "runs").glob("tiny-*")
    return load_file(str(run / "model" / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["safetensors", "json"])
def test_sigkill_while_the_temporary_file_exists(tmp_path, capsys, straight_weights, suffix):
    recipe = write_tiny(tmp_path)
    recipe.write_text(recipe.read_text().replace("max_steps = 30", "max_steps = 10"))
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "runs"), str(recipe), suffix,
                              "8", str(marker)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while not marker.exists() and child.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), child.communicate(timeout=5)
        tmp = Path(marker.read_text())
        assert tmp.is_file() and tmp.name.endswith(".tmp")  # killed while the temporary file exists
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    (run,) = (tmp_path / "runs").glob("tiny-*")
    folder = run / "checkpoints"
    assert tmp.is_file()  # the torn temporary is still there ...
    assert list_checkpoints(folder) == [4]  # ... but step 8 is not a checkpoint; step 4 is the latest
    notes = []
    _, meta = load_checkpoint(folder, note=notes.append)
    assert meta["step"] == 4 and notes == []  # a temporary file is not a skipped checkpoint
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert not list(folder.glob(".*.tmp"))  # the next save cleared it
    resumed = load_file(str(run / "model" / "model.safetensors"))
    assert resumed.keys() == straight_weights.keys()
    for key, value in straight_weights.items():
        assert torch.equal(resumed[key], value), key
