"""Progress of a training run's long stages: tqdm bars with an ETA on a terminal, plain lines in logs.

`train()` activates a `Progress` for the run; the code doing the work (warm-start epochs and steps, CV folds,
embedding, the final fit) opens a `stage(...)`. With no active `Progress` a stage does nothing, so the same model
code stays silent elsewhere (e.g. inside `trainer tag`, which draws its own bar and has `--no-progress`).
When the stream is not a terminal (CI, `> train.log`), no bar is drawn: each stage prints one line instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, TextIO

from tqdm import tqdm

Lines = Literal["each", "end", "none"]
_ACTIVE: ContextVar[Progress | None] = ContextVar("trainer_progress", default=None)


def _clock(seconds: float) -> str:
    return tqdm.format_interval(seconds)


class Stage:
    """One stage: a bar on a terminal; otherwise a line per unit done (`each`), at the end (`end`) or none."""

    def __init__(self, progress: Progress, name: str, total: int, unit: str, lines: Lines, transient: bool):
        self.progress, self.name, self.total, self.unit = progress, name, total, unit
        self.lines, self.transient = lines, transient
        self.n, self.postfix, self.started, self.closed = 0, "", time.monotonic(), False
        self.bar = None
        if progress.bars:
            # a finished top-level bar stays on screen as the stage's record; nested ones make way for the next
            leave = not transient and progress.open_stages == 0
            self.bar = tqdm(total=total, desc=name, unit=unit, file=progress.stream, dynamic_ncols=True,
                            leave=leave, delay=progress.delay if transient else 0)  # fmt: skip
        progress.open_stages += 1

    def update(self, n: int = 1, **postfix: object) -> None:
        self.n += n
        if postfix:
            self.postfix = ", ".join(f"{key} {value}" for key, value in postfix.items())
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
        elif self.lines == "each":
            elapsed = time.monotonic() - self.started
            left = elapsed / self.n * (self.total - self.n) if self.n else 0.0
            eta = f", ETA {_clock(left)}" if self.n < self.total else ""
            self.progress.line(f"{self.name}: {self.unit} {self.n}/{self.total} done, {_clock(elapsed)} elapsed"
                               f"{eta}" + (f", {self.postfix}" if self.postfix else ""))  # fmt: skip

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.progress.open_stages -= 1
        elapsed = time.monotonic() - self.started
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.lines == "end" and not (self.transient and elapsed < self.progress.delay):
            done = "done" if self.total == 1 else f"{self.n}/{self.total} {self.unit}s"
            self.progress.line(
                f"{self.name}: {done} in {_clock(elapsed)}" + (f", {self.postfix}" if self.postfix else "")
            )

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Silent:
    """The stage handed out when no run is reporting progress."""

    def update(self, n: int = 1, **postfix: object) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc) -> None:
        pass


class Progress:
    """Where and how a run reports progress: bars when `stream` is a terminal (or `bars=True`), else lines.

    `delay`: transient stages (steps of one epoch, embedding) show no bar and print no line when they finish
    sooner, so short ones do not flash past or fill a log.
    """

    def __init__(self, stream: TextIO | None = None, bars: bool | None = None, delay: float = 2.0):
        self.stream = stream if stream is not None else sys.stderr
        self.bars = bool(getattr(self.stream, "isatty", lambda: False)()) if bars is None else bars
        self.delay = delay
        self.open_stages = 0  # nesting depth: only top-level bars stay on screen when done

    @contextmanager
    def active(self) -> Iterator[Progress]:
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def echo(self, text: str) -> None:
        """A result line on stdout that does not tear a bar being drawn on the terminal."""
        if self.bars:
            tqdm.write(text, file=sys.stdout)
            sys.stdout.flush()
        else:
            print(text, flush=True)

    def stage(self, name: str, total: int, unit: str, lines: Lines = "end", transient: bool = False) -> Stage:
        return Stage(self, name, total, unit, lines, transient)


def stage(name: str, total: int, unit: str, lines: Lines = "end", transient: bool = False) -> Stage | _Silent:
    """A stage of the active run's progress, or a silent one outside a reporting run."""
    progress = _ACTIVE.get()
    return _Silent() if progress is None else progress.stage(name, total, unit, lines, transient)
