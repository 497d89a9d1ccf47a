"""Trainer callbacks: objects with any of ``on_start``, ``on_step_end``, ``on_eval``, ``on_end``.

:class:`ProgressBar` shows a tqdm bar with ETA and the running loss on a terminal, and a short
progress line now and then when stderr is a file or pipe (:mod:`contrastkit.train.progress`);
silent under ``quiet`` and on every process but rank 0.
"""

from __future__ import annotations

import sys

from .progress import LineIterator, ProgressLines, is_terminal


class Callback:
    def on_start(self, trainer, step: int, total: int) -> None: ...

    def on_step_end(self, trainer, step: int, logs: dict) -> None: ...

    def on_eval(self, trainer, step: int, metrics: dict) -> None: ...

    def on_end(self, trainer, step: int) -> None: ...


class ProgressBar(Callback):
    def __init__(self, description: str = "train"):
        self.description = description
        self.bar = None

    def on_start(self, trainer, step: int, total: int) -> None:
        if not is_terminal(sys.stderr):
            self.bar = ProgressLines(total, self.description, initial=step, unit="steps")
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            initial=step,
            desc=self.description,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
            leave=True,
        )

    def on_step_end(self, trainer, step: int, logs: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", lr=f"{logs['lr']:.2e}", refresh=False)
            self.bar.update(step - self.bar.n)

    def on_eval(self, trainer, step: int, metrics: dict) -> None:
        if self.bar is not None:
            shown = {k: v for k, v in metrics.items() if k.endswith(("accuracy", "knn"))}
            if shown:
                self.bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4f}" for k, v in shown.items()))

    def on_end(self, trainer, step: int) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress(iterable, total: int | None = None, description: str = "", quiet: bool = False):
    """A tqdm-wrapped iterable on a terminal, progress lines now and then off one (plain iterable
    when ``quiet``)."""
    if quiet:
        return iterable
    if not is_terminal(sys.stderr):
        return LineIterator(iterable, total, description or "progress")
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=description, dynamic_ncols=True, file=sys.stderr, leave=False)
