"""Progress of long work: one callback protocol for the library, one display for the terminal.

**Protocol.** Library functions that take time (``import_files``, ``generate``, ``run_demo``,
the indicator evaluator) accept ``progress``, a callable

    ``progress(message, done=None, total=None)``

- ``progress("validating")``: a step begins (a line of its own);
- ``progress("reading cbms.dat", done, total)``: ``done`` of ``total`` units of that step
  (bytes, households, indicators), called again with the same message as the work advances.

A one-argument callable works too (``print``, a notebook's ``lambda s: ...``, the protocol
migdata had before): :func:`as_progress` gives it the messages and, for counted steps, one
line every 10 %. Library code calls ``as_progress(progress)`` once and then always passes the
counts.

**Display.** :class:`Console` (what the command line uses) draws a counted step as a
progress bar with the time left when its stream is a terminal, once the step has lasted
``delay`` seconds (2 by default; ``MIGDATA_PROGRESS_DELAY`` overrides it), and writes plain
lines otherwise (CI logs, files, notebooks): ``message: 10 %`` ... ``message: 100 %``.

Why tqdm: papermill, which runs the report notebooks, already depends on it, so it costs
nothing; it computes the time left, redraws one line in a terminal and prints messages above
a running bar (``tqdm.write``). click's progress bar prints only its label when the output
is not a terminal and cannot print above itself; rich would be a new, larger dependency.

Example:
    >>> lines = []
    >>> say = as_progress(lines.append)          # a one-argument callback
    >>> for done in range(0, 101, 25):
    ...     say("reading x.dat", done, 100)
    >>> say("validating")
    >>> lines
    ['reading x.dat: 20 %', 'reading x.dat: 50 %', 'reading x.dat: 70 %', 'reading x.dat: 100 %', 'validating']
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Callable, TextIO

#: ``progress(message, done=None, total=None)``; see the module docstring.
Progress = Callable[..., None]
#: The terminal bar: message, percent, bar, counts, time spent < time left.
BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"


def _quiet(message: str, done: float | None = None, total: float | None = None) -> None:
    return None


def _positional(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` takes (3 for ``*args``; ``print`` counts as 1:
    it would print the counts after every message)."""
    if fn is print:
        return 1
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    n = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return 3
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n


class Lines:
    """Progress as plain lines through a one-argument ``say``: each message once, and a
    counted step as ``message: NN %`` each time it passes a multiple of ``every`` percent."""

    def __init__(self, say: Callable[[str], Any], every: int = 10) -> None:
        self.say = say
        self.every = every
        self.step: str | None = None
        self.last = 0

    def __call__(self, message: str, done: float | None = None, total: float | None = None) -> None:
        if done is None or not total:
            self.step = None
            self.say(message)
            return
        if message != self.step:
            self.step, self.last = message, 0
        pct = int(100 * min(max(done / total, 0.0), 1.0)) // self.every * self.every
        if pct > self.last:
            self.last = pct
            self.say(f"{message}: {pct} %")


def as_progress(progress: Progress | None) -> Progress:
    """A callback taking ``(message, done=None, total=None)`` made from ``progress``: None
    (quiet), a callable that takes the counts (used as it is), or a one-argument callable
    (wrapped in :class:`Lines`).

    Example:
        >>> as_progress(None)("nothing happens")
        >>> got = []
        >>> as_progress(lambda m, d=None, t=None: got.append((m, d, t)))("step", 1, 2)
        >>> got
        [('step', 1, 2)]
    """
    if progress is None:
        return _quiet
    if _positional(progress) >= 3:
        return progress
    return Lines(progress)


def indent(progress: Progress | None, prefix: str = "      ") -> Progress:
    """``progress`` with ``prefix`` before each message (sub-steps of a larger job).

    Example:
        >>> got = []
        >>> indent(got.append, "  ")("reading", 5, 10)
        >>> got
        ['  reading: 50 %']
    """
    inner = as_progress(progress)

    def say(message: str, done: float | None = None, total: float | None = None) -> None:
        inner(prefix + message, done, total)
    return say


class Console:
    """The command line's display: bars with the time left in a terminal, lines elsewhere.

    ``stream``: where to write (standard error by default, so that output piped to a file
    stays clean). ``delay``: seconds a counted step must last before its bar appears.
    Call :meth:`close` when the work is over (a running bar is finished and left visible).
    """

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 delay: float | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.delay = float(os.environ.get("MIGDATA_PROGRESS_DELAY", 2.0)) if delay is None else delay
        self.lines = Lines(self._write)
        self.bar: Any = None
        self.step: str | None = None

    def __call__(self, message: str, done: float | None = None, total: float | None = None) -> None:
        if not self.tty:
            self.lines(message, done, total)
            return
        if done is None or not total:
            self.close()
            self._write(message)
            return
        if self.bar is None or message != self.step:
            from tqdm import tqdm

            self.close()
            self.step = message
            cols, rows = _size(self.stream)
            self.bar = tqdm(total=total, desc=message, file=self.stream, delay=self.delay,
                            unit_scale=total >= 10_000, ncols=cols, nrows=rows, leave=True, mininterval=0.2,
                            bar_format=BAR)
        if total != self.bar.total:
            self.bar.total = total
        self.bar.update(max(done - self.bar.n, 0))
        if done >= total:
            self.close()

    def _write(self, text: str) -> None:
        if self.bar is not None:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the running bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar, self.step = None, None


def _size(stream: Any) -> tuple[int, int]:
    """The terminal's columns and rows (80 x 24 when it does not say: a new pseudo-terminal
    reports 0 x 0, and tqdm draws nothing on a screen of 0 rows)."""
    try:
        size = os.get_terminal_size(stream.fileno())
        cols, rows = size.columns, size.lines
    except (AttributeError, OSError, ValueError):
        cols, rows = 0, 0
    return (cols if cols > 20 else int(os.environ.get("COLUMNS", 0) or 80)), (rows if rows > 2 else 24)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = ["Console", "Lines", "Progress", "as_progress", "indent"]
