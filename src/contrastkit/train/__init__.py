"""Training: the config schema, the loop, checkpoints, run directories, callbacks, distributed helpers.

:class:`Config` / :func:`validate_config` / :class:`ConfigError`, :class:`Trainer`,
:func:`save_checkpoint` / :func:`load_checkpoint`, :class:`RunDir`, :class:`ProgressBar`,
:class:`Objective` (a loss called from named fields), :func:`learning_rate`.
"""

from .callbacks import Callback, ProgressBar
from .checkpoint import list_checkpoints, load_checkpoint, prune_checkpoints, save_checkpoint
from .config import Config, ConfigError, apply_overrides, validate_config
from .objectives import Objective
from .rundir import RunDir
from .schedule import learning_rate
from .trainer import Trainer

__all__ = [
    "Callback",
    "Config",
    "ConfigError",
    "Objective",
    "ProgressBar",
    "RunDir",
    "Trainer",
    "apply_overrides",
    "learning_rate",
    "list_checkpoints",
    "load_checkpoint",
    "prune_checkpoints",
    "save_checkpoint",
    "validate_config",
]
