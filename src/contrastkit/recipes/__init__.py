"""Named end-to-end recipes (TOML files in this package) and the registries of components they use.

:func:`load_recipe` (name or path + overrides -> validated config), :func:`train` (run one),
:func:`evaluate_run`, :func:`run_sweep` (a grid of overrides x seeds), the registries
``DATA_SOURCES``, ``VIEWS``, ``ENCODERS``, ``HEADS`` (register a component with one line),
and :func:`embed_file` / :func:`search` for trained runs.
"""

from .build import build_components, build_model, load_data
from .catalogue import describe_recipes, load_recipe, recipe_names
from .inference import embed_file, load_run_encoder, search
from .registry import DATA_SOURCES, ENCODERS, HEADS, VIEWS, Registry
from .runner import RunResult, evaluate_run, read_run_config, train
from .sweep import SweepResult, run_sweep

__all__ = [
    "DATA_SOURCES",
    "ENCODERS",
    "HEADS",
    "VIEWS",
    "Registry",
    "RunResult",
    "SweepResult",
    "build_components",
    "build_model",
    "describe_recipes",
    "embed_file",
    "evaluate_run",
    "load_data",
    "load_recipe",
    "load_run_encoder",
    "read_run_config",
    "recipe_names",
    "run_sweep",
    "search",
    "train",
]
