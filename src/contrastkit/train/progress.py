"""Progress off a terminal: a short line now and then instead of a live bar.

On a terminal, :mod:`tqdm` redraws one line in place. Written to a file or a pipe (CI logs,
``make run | tee``) every redraw stays: thousands of carriage-return fragments per run. There a
:class:`ProgressLines` prints one plain line when progress reaches the next 10 %, at most once every
``min_interval`` seconds, plus one line every ``heartbeat`` seconds when progress is slow, and a last
line at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def is_terminal(stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


class ProgressLines:
    """``update(n)`` / ``set_postfix(**values)`` / ``write(text)`` / ``close()`` like a tqdm bar,
    printing ``"<description>: 300/1000 (30%), loss=0.41, 12 s, ETA 28 s"`` lines to ``stream``."""

    def __init__(self, total: int | None, description: str, initial: int = 0, unit: str = "",
                 stream=None, min_interval: float = 5.0, heartbeat: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.description, self.n, self.unit = total, description, initial, unit
        self.stream = sys.stderr if stream is None else stream
        self.min_interval, self.heartbeat, self.clock = min_interval, heartbeat, clock
        self.start = self.last_time = clock()
        self.start_n, self.last_decile, self.postfix = initial, self._decile(initial), ""
        self.closed = False

    def _decile(self, n: int) -> int:
        return int(10 * n / self.total) if self.total else 0

    def set_postfix(self, refresh: bool = False, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def update(self, count: int = 1) -> None:
        self.n += count
        now, decile = self.clock(), self._decile(self.n)
        new_decile = decile > self.last_decile and now - self.last_time >= self.min_interval
        if new_decile or now - self.last_time >= self.heartbeat:
            self.last_decile = decile
            self._line(now)

    def _line(self, now: float) -> None:
        self.last_time = now
        elapsed = now - self.start
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{self.description}: {done}{' ' + self.unit if self.unit else ''}"]
        if self.total:
            parts[0] += f" ({100 * self.n // self.total}%)"
        if self.postfix:
            parts.append(self.postfix)
        parts.append(f"{elapsed:.0f} s")
        rate = (self.n - self.start_n) / elapsed if elapsed > 0 else 0.0
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"ETA {(self.total - self.n) / rate:.0f} s")
        print(", ".join(parts), file=self.stream, flush=True)

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.n != self.start_n or not self.total:
                self._line(self.clock())


class LineIterator:
    """Wrap an iterable, reporting through :class:`ProgressLines` (one update per item)."""

    def __init__(self, iterable, total: int | None, description: str, **options):
        self.iterable = iterable
        self.lines = ProgressLines(total, description, **options)

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.lines.update(1)
        finally:
            self.lines.close()
