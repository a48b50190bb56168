"""Progress bars of a bulk run: the base every bar shares and the text bar of a terminal.

A progress hook is any callable ``progress(done, total, outcome)``. The bars here are such
callables with a ``start(total)`` and a ``finish(result)`` around the run. Standard library
only: the CLI draws :class:`TextProgress` without ipywidgets or IPython. The notebook's widget
bar and ``progress="auto"`` live in :mod:`cmnb.notebook._widget_progress`.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ..api._bulk_result import BulkOutcome, BulkResult

__all__ = ["ProgressBar", "TextProgress"]

_REDRAW_EVERY_S = 0.1


class ProgressBar:
    """Base of the bars: counts outcomes, redraws at most every 0.1 s and once at the end."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.counts: dict[str, int] = {}
        self._drawn_at = float("-inf")

    def start(self, total: int) -> None:
        """Called once before the first outcome."""
        self.total = total
        self.draw()

    def __call__(self, done: int, total: int, outcome: BulkOutcome) -> None:
        self.done, self.total = done, total
        self.counts[outcome.outcome] = self.counts.get(outcome.outcome, 0) + 1
        now = time.monotonic()
        if now - self._drawn_at >= _REDRAW_EVERY_S or done == total:
            self._drawn_at = now
            self.draw()

    def finish(self, result: BulkResult) -> None:
        """Called once at the end, also after Ctrl-C (then some names are ``skipped``)."""
        # After Ctrl-C the skipped names were never done: the bar must not look complete.
        self.done, self.counts = len(result) - result.counts.get("skipped", 0), result.counts
        self.draw(final=result)

    def label(self) -> str:
        """The outcome counts so far, e.g. ``"12 created · 1 failed"``."""
        return " · ".join(f"{n} {k}" for k, n in self.counts.items() if n)

    def draw(self, final: BulkResult | None = None) -> None:
        """Show the current state; ``final`` is the result once the run is over."""
        raise NotImplementedError


class TextProgress(ProgressBar):
    """A one-line bar redrawn in place on a terminal stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.width = width

    def draw(self, final: BulkResult | None = None) -> None:
        filled = self.width * self.done // self.total if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        text = f"\rcreate_many [{bar}] {self.done}/{self.total}  {self.label()}"
        self.stream.write(text + ("\n" if final is not None else ""))
        self.stream.flush()
