"""Nothing in the project unpickles: every ``torch.load`` passes ``weights_only=True`` (issue 14
item 10 found one in tests/engine/test_triton.py), and no module uses ``pickle.load(s)``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                yield owner.id, node.func.attr, node


def test_every_torch_load_is_weights_only_and_nothing_calls_pickle_load():
    offenders = []
    for path in sorted(p for folder in ("src", "tests", "benchmarks", "scripts")
                       for p in (ROOT / folder).rglob("*.py")):
        for owner, attr, node in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if owner == "torch" and attr == "load":
                weights_only = [k for k in node.keywords if k.arg == "weights_only"]
                if not weights_only or not (isinstance(weights_only[0].value, ast.Constant)
                                            and weights_only[0].value.value is True):
                    offenders.append(f"{where}: torch.load without weights_only=True")
            if owner in ("pickle", "cPickle", "dill") and attr in ("load", "loads", "Unpickler"):
                offenders.append(f"{where}: {owner}.{attr}")
    assert not offenders, offenders
