"""A tiny recipe (MLP on 200 digits) for tests that train: seconds, not minutes."""

from pathlib import Path

TINY_TOML = """
[run]
description = "tiny test recipe"
seed = 0
threads = 1

[data]
name = "digits"
max_samples = 200

[views]
name = "image"

[encoder]
name = "mlp"
hidden_dims = [32]
output_dim = 16

[head]
name = "projection"
hidden_dim = 16
output_dim = 8

[loss]
name = "NTXent"
temperature = 0.5

[optim]
lr = 0.01
warmup_steps = 3

[train]
batch_size = 32
max_steps = 30
log_every = 1
eval_every = 0
checkpoint_every = 4
keep_last = 2
report = false

[eval]
metrics = ["knn"]
baselines = false
"""


def write_tiny(folder: Path, extra: str = "") -> Path:
    """Write ``tiny.toml`` into ``folder`` (with ``extra`` TOML appended) and return its path."""
    path = Path(folder) / "tiny.toml"
    path.write_text(TINY_TOML + extra)
    return path
