"""The ``contrastkit`` command: train, sweep, eval, embed, search, mine, predict, report, recipes.

Errors in the input (config, paths, files) end with exit code 2 and one line on stderr; add
``--debug`` for the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_CORPUS = "embeddings.npy"


class CommandError(Exception):
    """Bad command-line usage (exit code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage + message
        raise CommandError(f"{message} (see `{self.prog} --help`)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback on errors"
    )


def build_parser() -> Parser:
    parser = Parser(prog="contrastkit", description="Contrastive learning: train, evaluate, embed, search.")
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    train = commands.add_parser("train", help="train a recipe or a TOML config (or --resume a run)")
    train.add_argument("recipe", nargs="?", help="built-in recipe name or path to a .toml config")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (repeatable)",
    )
    train.add_argument(
        "--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint"
    )
    train.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    sweep = commands.add_parser(
        "sweep", help="train a grid of --set overrides x seeds and compare them (csv, markdown, plot)"
    )
    sweep.add_argument("recipe", help="built-in recipe name or path to a .toml config")
    sweep.add_argument(
        "--grid", action="append", default=[], metavar="SECTION.KEY=V1,V2",
        help="values of one key (repeatable; cells are the product; 'a.x+b.y=1+2,3+4' links keys)",
    )
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override applied to every cell (repeatable)")
    sweep.add_argument("--seeds", type=int, default=1, help="runs per cell, seeds run.seed + 0..N-1")
    sweep.add_argument("--metric", default="knn_accuracy", help="final metric compared")
    sweep.add_argument("--output", help="sweep folder (default runs/sweep-RECIPE); rerun to resume")
    evaluate = commands.add_parser(
        "eval", help="evaluate a run's trained encoder and print the metrics table"
    )
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--task", help="an evaluation task on --data: retrieval, sts, classification")
    evaluate.add_argument("--data", help="the task's file (jsonl / csv / tsv / parquet)")
    evaluate.add_argument("--tower", help="evaluate this tower of a several-tower run")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    embed = commands.add_parser("embed", help="embed a file or folder into .npy or .parquet")
    embed.add_argument("run_dir")
    embed.add_argument("input", help="image folder or file, .npz, IDX (.gz); texts: .txt (one per line), "
                       "or a jsonl / csv / parquet `text` column")
    embed.add_argument(
        "output",
        nargs="?",
        help="output .npy (with a .names.txt sidecar) or .parquet "
        "(default: RUN_DIR/embeddings.npy, which `search` uses by default)",
    )
    search = commands.add_parser("search", help="top-k nearest corpus items for a query")
    search.add_argument("run_dir")
    search.add_argument("query", help="an image file, a text (text tower), or the name of a corpus row")
    search.add_argument(
        "--corpus", help="embeddings written by `contrastkit embed`, or an image folder / caption table "
        "(text or caption column) embedded on the fly (default: RUN_DIR/embeddings.npy)"
    )
    search.add_argument("--corpus-tower", help="embed an image folder / caption table with this tower")
    search.add_argument("-k", "--k", type=int, default=5, help="results to show (default 5)")
    search.add_argument("--tower", help="embed the query with this tower (e.g. text queries, image corpus)")
    embed.add_argument("--tower", help="embed with this tower of a several-tower run")
    search.add_argument("--json", action="store_true", help="print the results as JSON")
    mine = commands.add_parser("mine", help="add mined hard negatives to a pairs file")
    mine.add_argument("model", help="a run directory or a text model folder")
    mine.add_argument("pairs", help="jsonl / csv / parquet file with anchor and positive columns")
    mine.add_argument("output", nargs="?", help="where to write (default: replace PAIRS atomically)")
    mine.add_argument("-k", "--k", type=int, default=5, help="negatives per row (default 5)")
    mine.add_argument("--margin", type=float, default=0.0, help="drop candidates above positive score-MARGIN")
    mine.add_argument("--threshold", type=float, help="drop candidates above this cosine similarity")
    mine.add_argument("--faiss", action="store_true", help="search with FAISS instead of exact chunks")
    for name in ("anchor", "positive", "group"):
        mine.add_argument(f"--{name}-column", default=None if name == "group" else name, metavar="NAME")
    predict = commands.add_parser("predict", help="labels and probabilities from a few-shot text run")
    predict.add_argument("run_dir")
    predict.add_argument("input", help=".txt (one text per line) or a jsonl / csv / parquet `text` column")
    predict.add_argument("output", nargs="?", help="predictions .jsonl (default: RUN_DIR/predictions.jsonl)")
    report = commands.add_parser("report", help="write the PNG plots and HTML report of a run")
    report.add_argument("run_dir")
    zero_shot = commands.add_parser("zero-shot", help="zero-shot table of an image-text run")
    zero_shot.add_argument("run_dir")
    zero_shot.add_argument("--json", action="store_true", help="print the metrics as JSON")
    recipes = commands.add_parser("recipes", help="list the built-in recipes")
    recipes.add_argument("--components", action="store_true", help="also list registered components")
    recipes.add_argument("--keys", action="store_true", help="list every config key with its default")
    for sub in (train, sweep, evaluate, embed, search, mine, predict, report, zero_shot, recipes):
        _common(sub)
    return parser


def _check_run_dir(path: str) -> None:
    if not (Path(path) / "config.toml").is_file():
        raise ValueError(f"run directory {path!r}: not found or not a contrastkit run (no config.toml)")


def cmd_train(args) -> int:
    from .recipes.catalogue import load_recipe
    from .recipes.runner import read_run_config, train
    from .report import format_table

    if args.resume:
        if args.recipe or args.overrides:
            raise CommandError("--resume continues a run with its saved config: give no recipe or --set")
        _check_run_dir(args.resume)
        config, name = read_run_config(args.resume), Path(args.resume).name
    elif args.recipe:
        config, name = load_recipe(args.recipe, args.overrides)
    else:
        raise CommandError("train: give a recipe name or a .toml config (see `contrastkit recipes`)")
    from .train import distributed

    try:
        result = train(config, name, resume_dir=args.resume, quiet=args.quiet)
    finally:
        main_process = distributed.is_main()
        distributed.shutdown()
    if not main_process:  # under torchrun only rank 0 reports
        return 0
    if args.json:
        print(
            json.dumps(
                {
                    "run_dir": str(result.run_dir.path),
                    "final": result.final,
                    "baselines": result.baselines,
                    "selection": result.selection,
                    "seconds": result.seconds,
                }
            )
        )
        return 0
    from .report.table import trained_columns

    print(format_table(result.final, result.baselines, trained_columns(result.final, result.selection)))
    if any(task.name == "zero_shot" for task in config.eval.tasks or ()):  # its table is in the one above
        from .recipes.zero_shot import zero_shot_run

        zero_shot_run(result.run_dir.path, metrics=result.final)  # the confusion matrix, top-hit figures
    if result.stop_reason:
        print(result.stop_reason)
    print(f"run directory: {result.run_dir.path}  ({result.steps} steps, {result.seconds:.1f} s)")
    if (result.run_dir.report / "report.html").is_file():
        print(f"report: {result.run_dir.report / 'report.html'}")
    return 0


def cmd_sweep(args) -> int:
    from .recipes.sweep import run_sweep

    if not args.grid:
        raise CommandError("sweep: give at least one --grid SECTION.KEY=V1,V2")

    def say(message: str) -> None:
        if not args.quiet:
            print(f"contrastkit: {message}", file=sys.stderr, flush=True)

    result = run_sweep(args.recipe, args.grid, seeds=args.seeds, overrides=args.overrides,
                       metric=args.metric, output_dir=args.output, quiet=True, say=say)
    print((result.output_dir / "summary.md").read_text(encoding="utf-8"), end="")
    print(f"sweep folder: {result.output_dir}  (runs.csv, summary.csv, summary.md, {result.plot.name})")
    return 0


def cmd_eval(args) -> int:
    from .recipes.runner import evaluate_run
    from .report import format_table

    _check_run_dir(args.run_dir)
    if args.task or args.data:
        if not (args.task and args.data):
            raise CommandError("eval: --task and --data go together")
        from .recipes.eval_command import evaluate_task

        metrics, baselines = evaluate_task(args.run_dir, args.task, args.data, args.tower)
        payload = {"trained": metrics, **baselines}
        print(json.dumps(payload) if args.json else format_table(metrics, baselines))
        return 0
    metrics, baselines = evaluate_run(args.run_dir, args.quiet)
    print(json.dumps(metrics) if args.json else format_table(metrics, baselines))
    return 0


def cmd_embed(args) -> int:
    from .recipes.inference import embed_file
    from .train.distributed import local_device

    _check_run_dir(args.run_dir)
    output = args.output or str(Path(args.run_dir) / DEFAULT_CORPUS)
    rows, dim = embed_file(args.run_dir, args.input, output, local_device("auto"), args.quiet, args.tower)
    print(f"wrote {rows} embeddings of dimension {dim} to {output}")
    return 0


def cmd_search(args) -> int:
    from .recipes.inference import describe_json
    from .recipes.live_corpus import search_any
    from .train.distributed import local_device

    _check_run_dir(args.run_dir)
    corpus = args.corpus or str(Path(args.run_dir) / DEFAULT_CORPUS)
    rows = search_any(args.run_dir, args.query, corpus, args.k, local_device("auto"), args.tower,
                  args.corpus_tower)
    if args.json:
        print(describe_json(rows))
    else:
        for rank, (row, score, name) in enumerate(rows, 1):
            print(f"{rank:>3}  {score:7.4f}  {name}  (row {row})")
    return 0


def cmd_mine(args) -> int:
    from .recipes.mining import mine_file
    from .train.distributed import local_device

    counts = mine_file(args.model, args.pairs, args.output, k=args.k, margin=args.margin,
                       threshold=args.threshold, backend="faiss" if args.faiss else "exact",
                       anchor=args.anchor_column, positive=args.positive_column, group=args.group_column,
                       device=local_device("auto"), quiet=args.quiet)
    print(f"wrote {counts['negatives']} negatives for {counts['rows']} rows (corpus of {counts['corpus']} "
          f"positives; {counts['short_rows']} rows short of k) to {args.output or args.pairs}")
    return 0


def cmd_predict(args) -> int:
    from .recipes.predict import predict_file
    from .train.distributed import local_device

    _check_run_dir(args.run_dir)
    output = args.output or str(Path(args.run_dir) / "predictions.jsonl")
    rows = predict_file(args.run_dir, args.input, output, local_device("auto"))
    print(f"wrote {rows} predictions to {output}")
    return 0


def cmd_report(args) -> int:
    from .recipes.runner import limit_threads, read_run_config
    from .report import write_report

    _check_run_dir(args.run_dir)
    limit_threads(read_run_config(args.run_dir).run.threads)
    print(f"report: {write_report(args.run_dir)}")
    return 0


def cmd_zero_shot(args) -> int:
    from .recipes.runner import limit_threads, read_run_config
    from .recipes.zero_shot import zero_shot_run
    from .report import format_table

    _check_run_dir(args.run_dir)
    limit_threads(read_run_config(args.run_dir).run.threads)
    metrics = zero_shot_run(args.run_dir)
    print(json.dumps(metrics) if args.json else format_table(metrics, {}))
    return 0


def cmd_recipes(args) -> int:
    from .recipes.catalogue import describe_recipes

    if args.keys:
        from .train.config import config_reference

        print(config_reference())
        return 0
    recipes = describe_recipes()
    width = max(map(len, recipes))
    for name, description in recipes.items():
        print(f"{name.ljust(width)}  {description}")
    if args.components:
        from .recipes.build import losses
        from .recipes.registry import DATA_SOURCES, ENCODERS, HEADS, VIEWS

        for registry in (DATA_SOURCES, VIEWS, ENCODERS, HEADS):
            print(f"\n[{registry.section}] name =")
            for name, description in registry.describe().items():
                print(f"  {name.ljust(14)}  {description}")
        names = [n for n in losses.__all__ if isinstance(getattr(losses, n), type)]
        print("\n[loss] name =\n  " + ", ".join(names))
    return 0


COMMANDS = {
    "train": cmd_train,
    "sweep": cmd_sweep,
    "eval": cmd_eval,
    "embed": cmd_embed,
    "search": cmd_search,
    "mine": cmd_mine,
    "predict": cmd_predict,
    "report": cmd_report,
    "zero-shot": cmd_zero_shot,
    "recipes": cmd_recipes,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        args.quiet, args.debug = getattr(args, "quiet", False), getattr(args, "debug", False)
        if args.command is None:
            build_parser().print_help()
            return 2
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("contrastkit: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, OSError) as error:  # ConfigError is a ValueError
        if debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"contrastkit: error: {message}", file=sys.stderr)
        return 2
    except Exception as error:
        if debug:
            raise
        print(
            f"contrastkit: internal error: {type(error).__name__}: {' '.join(str(error).split())} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
