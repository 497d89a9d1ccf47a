"""Progress off a terminal (issue 14 item 9): a short line at most every few seconds or 10 %,
never the carriage-return redraws of a live bar; on a terminal the live bar stays."""

from __future__ import annotations

import io
import sys

from contrastkit.train.callbacks import ProgressBar, progress
from contrastkit.train.progress import ProgressLines


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _train(monkeypatch, stream, steps=1000, seconds_per_step=0.1):
    monkeypatch.setattr(sys, "stderr", stream)
    bar = ProgressBar("train")
    bar.on_start(None, 0, steps)
    for step in range(1, steps + 1):
        bar.on_step_end(None, step, {"loss": 1.0 / step, "lr": 1e-3})
    bar.on_end(None, steps)
    return stream.getvalue()


def test_a_pipe_gets_a_few_whole_lines_not_carriage_returns(monkeypatch):
    # 1,000 steps into a pipe: each tqdm refresh used to be written, '\r' fragments in thousands
    out = _train(monkeypatch, io.StringIO())
    lines = out.splitlines()
    assert "\r" not in out
    assert 1 <= len(lines) <= 11, lines
    assert lines[-1].startswith("train: 1000/1000 steps (100%), loss=0.0010")


def test_lines_come_at_each_10_percent_but_not_more_often_than_min_interval():
    stream, clock = io.StringIO(), FakeClock()
    lines = ProgressLines(100, "embed", stream=stream, min_interval=5.0, heartbeat=60.0, clock=clock)
    for _ in range(100):
        clock.now += 1.0  # 100 s in all: a 10 % step every 10 s
        lines.update(1)
    lines.close()
    printed = stream.getvalue().splitlines()
    assert [line.split()[1] for line in printed] == [f"{p}/100" for p in range(10, 101, 10)] + ["100/100"]
    assert "ETA 90 s" in printed[0]

    stream, clock = io.StringIO(), FakeClock()
    fast = ProgressLines(100, "embed", stream=stream, min_interval=5.0, clock=clock)
    for _ in range(100):
        clock.now += 0.01  # 1 s in all: no 10 % line is due before min_interval
        fast.update(1)
    fast.close()
    assert len(stream.getvalue().splitlines()) == 1


def test_a_slow_run_gets_a_heartbeat_line():
    stream, clock = io.StringIO(), FakeClock()
    lines = ProgressLines(1000, "train", stream=stream, min_interval=5.0, heartbeat=60.0, clock=clock)
    for _ in range(5):
        clock.now += 61.0  # 0.5 % per minute: no 10 % boundary, one line a minute
        lines.update(1)
    assert len(stream.getvalue().splitlines()) == 5


def test_a_terminal_keeps_the_live_bar(monkeypatch):
    out = _train(monkeypatch, Terminal(), steps=50)
    assert "\r" in out  # tqdm redraws in place


def test_progress_iterable_off_a_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    assert list(progress(range(7), total=7, description="embed")) == list(range(7))
    out = stream.getvalue()
    assert "\r" not in out and out.splitlines()[-1].startswith("embed: 7/7 (100%)")
