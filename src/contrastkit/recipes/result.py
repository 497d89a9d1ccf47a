"""What a finished (or resumed) run returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..train.rundir import RunDir


@dataclass
class RunResult:
    run_dir: RunDir
    final: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    steps: int = 0
    stop_reason: str | None = None
    selection: dict | None = None  # selected / last step (see .finish)
