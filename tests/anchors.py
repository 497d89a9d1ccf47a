"""Load the anchor libraries' loss code for comparison tests, without their torchvision imports.

open_clip's and lightly's packages import torchvision at package level, and PyPI's torchvision does not
import beside the CPU torch wheel. Their loss files do not use it: open_clip's ``loss.py`` is loaded
on its own by file path; lightly's loss modules are loaded by file path with a stand-in for the
torchvision names its sub-packages import. Each loader returns ``None`` when the library is absent,
so tests can ``pytest.skip`` with a clear reason.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.metadata as metadata
import importlib.util
import sys
import types
from functools import cache


def _load_file(name: str, path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _locate(distribution: str, relative: str):
    try:
        path = metadata.distribution(distribution).locate_file(relative)
    except metadata.PackageNotFoundError:
        return None
    return path if path.exists() else None


@cache
def open_clip_loss():
    """open_clip's ``loss`` module (``ClipLoss``, ``SigLipLoss``), or ``None``."""
    path = _locate("open_clip_torch", "open_clip/loss.py")
    return None if path is None else _load_file("_anchor_open_clip_loss", path)


class _StubModule(types.ModuleType):
    """A module whose attributes are stubs: an empty class for capitalised names (so subclassing
    works), another stub module otherwise; calling a stub module raises."""

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        if item[:1].isupper():
            return type(item, (), {"__module__": self.__name__})
        return _StubModule(f"{self.__name__}.{item}")

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self.__name__} is a stand-in: torchvision is not installed")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve ``torchvision`` and its sub-modules to stubs."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


@contextlib.contextmanager
def _torchvision_stand_in():
    """Stub ``torchvision`` while a lightly module loads, then remove every trace of the stub so
    that later imports (transformers checks for torchvision) see the real environment."""
    if importlib.util.find_spec("torchvision") is not None:
        yield
        return
    finder = _StubFinder()
    sys.meta_path.append(finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]


@cache
def lightly_loss(module: str):
    """One of lightly's loss modules (e.g. ``"ntx_ent_loss"``, ``"dcl_loss"``), or ``None``."""
    path = _locate("lightly", f"lightly/loss/{module}.py")
    if path is None:
        return None
    with _torchvision_stand_in():
        return _load_file(f"_anchor_lightly_{module}", path)


@cache
def pml_losses():
    """``pytorch_metric_learning.losses``, or ``None``."""
    try:
        from pytorch_metric_learning import losses
    except ImportError:
        return None
    return losses
