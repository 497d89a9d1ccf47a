"""Best-metric tracking and early stopping, with state that goes into every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class BestTracker:
    """Follows ``metric`` over evaluations; ``mode`` ``max`` or ``min``; after ``patience``
    evaluations without improvement (0 = never) it sets ``stop_reason``."""

    metric: str | None = None
    mode: str = "max"
    patience: int = 0
    value: float | None = None
    step: int | None = None
    bad_evals: int = 0
    stop_reason: str | None = None

    def update(self, metrics: dict[str, float], step: int) -> bool:
        """Record one evaluation; returns whether it is a new best."""
        if not self.metric:
            return False
        if self.metric not in metrics:
            raise ValueError(
                f"train.best_metric = {self.metric!r}: not among the evaluation metrics {sorted(metrics)}"
            )
        value = metrics[self.metric]
        if self.value is None or (value > self.value if self.mode == "max" else value < self.value):
            self.value, self.step, self.bad_evals = value, step, 0
            return True
        self.bad_evals += 1
        if self.patience and self.bad_evals >= self.patience:
            self.stop_reason = f"early stop: {self.metric} did not improve for {self.patience} evaluations"
        return False

    def state(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k in ("value", "step", "bad_evals", "stop_reason")}

    def load(self, state: dict) -> None:
        self.value, self.step = state["value"], state["step"]
        self.bad_evals, self.stop_reason = state["bad_evals"], state["stop_reason"]
