"""The command line: exit codes and one-line messages on bad input, --debug tracebacks, listings."""

import subprocess
import sys
from pathlib import Path

import pytest

from contrastkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _error(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("contrastkit: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_recipes_lists_names_with_descriptions(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "simclr-digits" in out and "default job" in out


def test_keys_and_components_listings(capsys):
    assert main(["recipes", "--keys"]) == 0
    out = capsys.readouterr().out
    assert "[train]" in out and "batch_size (int, default 256)" in out and "grad_clip" in out
    assert main(["recipes", "--components"]) == 0
    out = capsys.readouterr().out
    assert "small_cnn" in out and "image_folder" in out and "NTXent" in out


def test_search_and_embed_errors(capsys, tmp_path):
    from tests.recipes.tiny import write_tiny

    recipe = write_tiny(tmp_path)
    args = [
        "train",
        str(recipe),
        "--quiet",
        "--set",
        f"run.output_dir='{tmp_path}'",
        "--set",
        "train.max_steps=1",
    ]
    assert main(args) == 0
    (run_dir,) = tmp_path.glob("tiny-*")
    assert "--corpus" in _error(capsys, ["search", str(run_dir), "x"])  # no embeddings yet
    assert "does not exist" in _error(capsys, ["embed", str(run_dir), str(tmp_path / "none"), "--quiet"])
    assert ".npy or .parquet" in _error(capsys, ["embed", str(run_dir), str(recipe), str(tmp_path / "o.csv")])


def test_unknown_recipe(capsys):
    assert "recipe 'no-such-recipe'" in _error(capsys, ["train", "no-such-recipe"])


def test_bad_override_value_and_key(capsys):
    assert "train.batch_size = -3" in _error(
        capsys, ["train", "simclr-digits", "--set", "train.batch_size=-3"]
    )
    assert "loss.temprature" in _error(capsys, ["train", "simclr-digits", "--set", "loss.temprature=0.1"])
    assert "expected section.key=value" in _error(capsys, ["train", "simclr-digits", "--set", "oops"])


def test_missing_data_path(capsys, tmp_path):
    line = _error(capsys, ["train", "simclr-digits", "--set", f"data.path='{tmp_path / 'nope'}'"])
    assert "data.path" in line and "does not exist" in line


def test_usage_errors(capsys):
    assert "invalid choice: 'fly'" in _error(capsys, ["fly"])
    assert "train: give a recipe" in _error(capsys, ["train"])
    assert "the following arguments are required: query" in _error(capsys, ["search", "run"])
    assert "give no recipe or --set" in _error(capsys, ["train", "simclr-digits", "--resume", "x"])


@pytest.mark.parametrize("command", ["eval", "report"])
def test_not_a_run_directory(capsys, tmp_path, command):
    assert "not a contrastkit run" in _error(capsys, [command, str(tmp_path)])


def test_resume_without_checkpoint(capsys, tmp_path):
    assert "not a contrastkit run" in _error(capsys, ["train", "--resume", str(tmp_path / "missing")])


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(ValueError, match="recipe 'nope'"):
        main(["train", "nope", "--debug"])


def test_python_dash_m_exit_code():
    env_path = f"{ROOT / 'src'}"
    done = subprocess.run(
        [sys.executable, "-m", "contrastkit", "train", "nope"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "contrastkit: error:" in done.stderr
