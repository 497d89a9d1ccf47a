"""The public contract of DESIGN.md section 3: names, defaults, docstrings, side-effect-free imports."""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import pytest
import torch

import contrastkit
import contrastkit.losses as losses

# name -> (constructor defaults that DESIGN.md fixes, forward parameter names in order)
CATALOGUE = {
    "InfoNCE": ({"temperature": 0.07, "symmetric": False}, ["query", "key"]),
    "NTXent": ({"temperature": 0.5}, ["z1", "z2"]),
    "SupCon": ({"temperature": 0.1}, ["features", "labels"]),
    "DCL": ({"temperature": 0.1}, ["z1", "z2"]),
    "DCLW": ({"temperature": 0.1, "sigma": 0.5}, ["z1", "z2"]),
    "DebiasedContrastive": ({"temperature": 0.5, "tau_plus": 0.1}, ["z1", "z2"]),
    "HardNegativeContrastive": ({"temperature": 0.5, "tau_plus": 0.1, "beta": 1.0}, ["z1", "z2"]),
    "CLIPLoss": ({"temperature": 0.07, "learnable_temperature": True}, ["a", "b"]),
    "SigLIP": ({"temperature": 0.1, "bias": -10.0}, ["a", "b"]),
    "MultiViewInfoNCE": ({}, ["views"]),
    "MVDHEL": ({}, ["views"]),
    "PolyView": ({}, ["views"]),
    "MeanShifted": ({"temperature": 0.25}, ["z1", "z2", "center"]),
    "TripletMargin": ({"margin": 0.2}, ["anchor", "positive", "negative"]),
    "NCE": ({"num_noise": 5, "temperature": 0.1, "variant": "nce"},
            ["text", "label_embeddings", "labels", "noise_samples"]),
    "SyCL": ({"temperature": 0.05, "distance": "wasserstein"}, ["query", "documents", "relevance"]),
    "GML": ({"temperature": 0.1}, ["query", "labels", "key", "key_labels"]),
    "SCAV": ({"temperature": 0.1, "symmetric": False}, ["a", "b"]),
    "CLAIF": ({"temperature": 0.05, "smoothing": "all"}, ["z1", "z2", "scores", "hard_negative"]),
}


def _defaults(fn):
    params = inspect.signature(fn).parameters
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_catalogue_entry_matches_contract(name):
    cls = getattr(losses, name)
    assert name in losses.__all__
    assert issubclass(cls, torch.nn.Module)
    defaults, forward_args = CATALOGUE[name]
    found = _defaults(cls.__init__)
    for key, value in defaults.items():
        assert found.get(key) == value, f"{name}.{key}: default {found.get(key)!r} != {value!r}"
    positional = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
    assert positional[: len(forward_args)] == forward_args
    doc = inspect.getdoc(cls) or ""
    assert ".. math::" in doc, f"{name}: docstring lacks the formula"
    assert any(tag in doc for tag in ("arXiv", "20")), f"{name}: docstring lacks the citation"


def test_loss_functions_are_exported():
    for name in ("alignment", "uniformity"):
        if not hasattr(losses, name):
            pytest.skip("alignment/uniformity not merged yet")
        assert callable(getattr(losses, name))


def test_every_module_imports():
    for info in pkgutil.walk_packages(contrastkit.__path__, "contrastkit."):
        importlib.import_module(info.name)


def test_every_all_name_exists():
    for info in pkgutil.walk_packages(contrastkit.__path__, "contrastkit."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{info.name}.__all__ lists missing {name}"


def test_import_has_no_side_effects_and_needs_no_optional_dependency():
    code = (
        "import os, sys, warnings, torch, numpy; before = dict(os.environ); filters = list(warnings.filters);"
        "import contrastkit, contrastkit.losses, contrastkit.engine, contrastkit.evaluate, contrastkit.scale;"
        "assert dict(os.environ) == before, 'environment changed';"
        "assert list(warnings.filters) == filters, 'warning filters changed';"
        "heavy = {'transformers', 'sklearn', 'faiss', 'matplotlib', 'pandas', 'pyarrow'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(os.path.dirname(__file__), "..", "src")])
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
