"""`contrastkit sweep`: grid parsing, validation before any run, tables, plot, resume."""

import csv
import math

import pytest

from contrastkit.cli import main
from contrastkit.recipes import runner
from contrastkit.recipes.sweep import grid_cells, parse_grid, run_sweep
from contrastkit.report.sweep_summary import mean_std
from contrastkit.train.config import ConfigError
from tests.recipes.tiny import write_tiny


def test_parse_grid_product_linked_keys_and_list_values():
    axes = parse_grid(["loss.name=NTXent,DCL", "views.num_views+train.batch_size=2+256,4+128",
                       "views.crop_scale=[0.5, 1.0],[0.3, 1.0]"])
    cells = grid_cells(axes)
    assert len(cells) == 2 * 2 * 2
    assert cells[0].values == {"loss.name": "NTXent", "views.num_views": 2, "train.batch_size": 256,
                               "views.crop_scale": [0.5, 1.0]}
    assert cells[-1].values == {"loss.name": "DCL", "views.num_views": 4, "train.batch_size": 128,
                                "views.crop_scale": [0.3, 1.0]}
    assert cells[0].overrides() == ['loss.name="NTXent"', "views.num_views=2", "train.batch_size=256",
                                    "views.crop_scale=[0.5, 1.0]"]


@pytest.mark.parametrize("item", ["loss.name", "loss.name=", "a+b=1,2", "=1"])
def test_parse_grid_rejects_malformed_items(item):
    with pytest.raises(ConfigError, match="--grid"):
        parse_grid([item])


def test_mean_std_is_the_sample_deviation():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert math.isnan(mean_std([1.0])[1])


@pytest.mark.parametrize(
    "grid, named",
    [("loss.temprature=0.1,0.2", "loss.temprature"), ("train.batchsize=8", "train.batchsize"),
     ("loss.name=NTXent,Nope", "Nope"), ("train.batch_size=8,0", "train.batch_size")],
)
def test_bad_grid_key_fails_before_any_run(tmp_path, monkeypatch, grid, named):
    def no_training(*args, **kwargs):
        raise AssertionError("a cell ran before the grid was checked")

    monkeypatch.setattr(runner, "train", no_training)
    with pytest.raises(ConfigError, match=f"--grid .*{named}"):
        run_sweep(str(write_tiny(tmp_path)), [grid], output_dir=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


def test_cli_bad_grid_is_one_line_exit_2(tmp_path, capsys):
    code = main(["sweep", str(write_tiny(tmp_path)), "--grid", "loss.temprature=0.1", "--output",
                 str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "loss.temprature" in err
    assert main(["sweep", str(write_tiny(tmp_path))]) == 2


@pytest.mark.slow
def test_sweep_runs_cells_writes_tables_and_resumes(tmp_path, monkeypatch):
    recipe = str(write_tiny(tmp_path))
    options = dict(seeds=2, overrides=["train.max_steps=3"], output_dir=tmp_path / "sweep")
    result = run_sweep(recipe, ["loss.name=NTXent,DCL"], **options)
    assert [r["cell"] for r in result.summary] == ["loss.name=NTXent", "loss.name=DCL"]
    seeds = {(r["cell"], r["seed"]) for r in result.runs}
    assert seeds == {(c, s) for c in ("loss.name=NTXent", "loss.name=DCL") for s in (0, 1)}
    for name in ("runs.csv", "summary.csv", "summary.md", "knn_accuracy.png"):
        assert (tmp_path / "sweep" / name).is_file(), name
    rows = list(csv.DictReader((tmp_path / "sweep" / "runs.csv").open()))
    assert len(rows) == 4 and {r["loss.name"] for r in rows} == {"NTXent", "DCL"}
    ntxent = [float(r["knn_accuracy"]) for r in rows if r["loss.name"] == "NTXent"]
    assert result.summary[0]["knn_accuracy_mean"] == pytest.approx(sum(ntxent) / 2)
    assert result.summary[0]["knn_accuracy_std"] == pytest.approx(mean_std(ntxent)[1])
    assert "| NTXent | 2 |" in (tmp_path / "sweep" / "summary.md").read_text()

    calls = []
    real_train = runner.train
    monkeypatch.setattr(runner, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    again = run_sweep(recipe, ["loss.name=NTXent,DCL", "optim.lr=0.01,0.02"], **options)
    # the lr=0.01 cells differ in slug from the first sweep, so all 8 runs are new ...
    assert len(calls) == 8 and len(again.summary) == 4
    calls.clear()
    run_sweep(recipe, ["loss.name=NTXent,DCL", "optim.lr=0.01,0.02"], **options)
    assert calls == []  # ... and a rerun skips every finished run
    with pytest.raises(ConfigError, match="metric 'nope'"):
        run_sweep(recipe, ["loss.name=NTXent"], **{**options, "seeds": 1}, metric="nope")


def test_summary_table_carries_each_baseline_of_the_metric():
    from contrastkit.report.sweep_summary import markdown_table, summarise

    runs = [{"cell": "w=0", "values": {"w": 0}, "seed": s, "seconds": 1.0, "run_dir": "x",
             "final": {"recall@20": v}, "baselines": {"popularity": {"recall@20": 0.17}}}
            for s, v in enumerate([0.2, 0.3])]
    summary = summarise([("w=0", {"w": 0})], runs, "recall@20")
    assert summary[0]["baseline: popularity"] == pytest.approx(0.17)
    text = markdown_table(summary, [("w=0", {"w": 0})], "recall@20")
    assert "baseline: popularity" in text
    assert "| 0 | 2 | 0.2500 ± 0.0707 | 0.2000 0.3000 | 0.1700 | 1.0 |" in text
    for run, base in zip(runs, (0.1, 0.2)):  # a baseline that changes with the seed gets its spread too
        run["baselines"] = {"base model": {"recall@20": base}}
    text = markdown_table(summarise([("w=0", {"w": 0})], runs, "recall@20"), [("w=0", {"w": 0})], "recall@20")
    assert "| 0.2000 0.3000 | 0.1500 ± 0.0707 | 1.0 |" in text
