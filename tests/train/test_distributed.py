"""The trainer runs unchanged under torchrun (2 gloo processes on CPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.recipes.tiny import write_tiny

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.distributed
def test_torchrun_two_processes(tmp_path, capsys):
    recipe = write_tiny(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "contrastkit",
            "train",
            str(recipe),
            "--quiet",
            "--json",
            "--set",
            f"run.output_dir='{tmp_path / 'runs'}'",
            "--set",
            "train.max_steps=4",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # only rank 0 reports
    result = json.loads(lines[0])
    (run_dir,) = (tmp_path / "runs").glob("tiny-*")
    assert result["run_dir"] == str(run_dir)
    # rank 0 reports the metrics of the model it saved: one process re-evaluating the run agrees
    from contrastkit.cli import main

    assert main(["eval", str(run_dir), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["knn_accuracy"] == pytest.approx(result["final"]["knn_accuracy"], abs=1e-9)
    rows = [json.loads(r) for r in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4]  # written once, by rank 0
    assert (run_dir / "model" / "model.safetensors").is_file()
