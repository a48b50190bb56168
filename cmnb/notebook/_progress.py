"""How a bulk run shows itself: progress bars (widget or text), the result's text and HTML.

A progress hook is any callable ``progress(done, total, outcome)``. The bars here are such
callables with a ``start(total)`` and a ``finish(result)`` around the run. ipywidgets and
IPython are imported only when a widget bar is actually built.
"""

from __future__ import annotations

import html as htmllib
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ..api._bulk_result import BulkOutcome, BulkResult

__all__ = [
    "ProgressBar",
    "TextProgress",
    "WidgetProgress",
    "auto_progress",
    "html",
    "rows",
    "short_error",
    "summary",
    "text",
]

_REDRAW_EVERY_S = 0.1


def short_error(error: BaseException | None, limit: int = 200) -> str:
    """``"TypeName: first line of the message"``, cut to ``limit`` characters."""
    if error is None:
        return ""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        return " · ".join(f"{n} {k}" for k, n in self.counts.items() if n)

    def draw(self, final: BulkResult | None = None) -> None:
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


class WidgetProgress(ProgressBar):
    """An ``ipywidgets.IntProgress`` and a label in ``.box``, displayed when the run starts.

    ``show=False`` leaves displaying to the caller (a form that puts ``.box`` in its layout).
    """

    def __init__(self, *, show: bool = True) -> None:
        super().__init__()
        import ipywidgets

        self.show = show

        self.bar = ipywidgets.IntProgress(value=0, min=0, max=1, description="create_many")
        self.text = ipywidgets.Label(value="")
        self.box = _progress_box(ipywidgets.HBox)([self.bar, self.text])

    def start(self, total: int) -> None:
        from IPython.display import display

        self.bar.max = max(total, 1)
        self.bar.value, self.bar.bar_style = 0, ""
        if self.show:
            display(self.box)  # type: ignore[no-untyped-call]
        super().start(total)

    def draw(self, final: BulkResult | None = None) -> None:
        self.bar.value = self.done
        self.text.value = f"{self.done}/{self.total}  {self.label()}"
        if final is not None:
            self.bar.bar_style = "success" if final.ok else "warning"
            self.text.value = final.summary()


def _progress_box(hbox: type[Any]) -> type[Any]:
    """An HBox whose text stand-in is stable: ipywidgets' default shows the bar at 0 forever.

    Saved notebooks keep the text/plain form of what was displayed (and nbval compares it);
    a front end draws the live bar instead.
    """

    class ProgressBox(hbox):  # type: ignore[misc,valid-type]
        def __repr__(self) -> str:
            bar = self.children[0]
            return f"create_many progress bar ({bar.max} names)"

    return ProgressBox


def _in_notebook() -> bool:
    ipython: Any = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    # Colab's shell subclasses ZMQInteractiveShell; a terminal IPython does not.
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


def auto_progress(stream: TextIO | None = None) -> ProgressBar | None:
    """A widget bar in a notebook kernel, a text bar on a terminal, else ``None``."""
    if _in_notebook():
        try:
            return WidgetProgress()
        except ImportError:
            pass
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    return TextProgress(out) if out is not None and callable(isatty) and isatty() else None


COLUMNS = ["name", "outcome", "uuid", "created_at", "error"]


def summary(counts: Mapping[str, int], total: int, interrupted: bool) -> str:
    """``"400 names: 380 created, 15 existing, 5 failed"`` (created and failed always shown)."""
    parts = [f"{n} {k}" for k, n in counts.items() if n or k in ("created", "failed")]
    return f"{total} names: " + ", ".join(parts) + (" (interrupted)" if interrupted else "")


def rows(outcomes: Sequence[BulkOutcome]) -> list[dict[str, Any]]:
    """One dict per outcome with the :data:`COLUMNS` of ``BulkResult.to_frame()``."""
    return [
        {
            "name": o.name,
            "outcome": o.outcome,
            "uuid": o.source.uuid if o.source else None,
            "created_at": o.source.created_at if o.source else None,
            "error": short_error(o.error) if o.error else None,
        }
        for o in outcomes
    ]


def text(headline: str, failed: Sequence[BulkOutcome], limit: int = 5) -> str:
    """The repr of a result: its summary line and the first failures."""
    lines = [f"BulkResult({headline})"]
    lines += [f"  failed [{o.index}] {o.name!r}: {short_error(o.error)}" for o in failed[:limit]]
    if len(failed) > limit:
        lines.append(f"  … and {len(failed) - limit} more failed (see .to_frame())")
    return "\n".join(lines)


def html(headline: str, outcomes: Sequence[BulkOutcome], limit: int = 20) -> str:
    """The HTML of a result: its summary, then every row (small runs) or the rows not ok."""
    shown = list(outcomes) if len(outcomes) <= limit else [o for o in outcomes if not o.ok]
    parts = [f"<p><b>BulkResult</b>: {htmllib.escape(headline)}</p>"]
    if shown:
        parts.append(
            "<table><thead><tr><th></th><th>name</th><th>outcome</th><th>uuid</th>"
            "<th>error</th></tr></thead><tbody>"
        )
        for o in shown[:limit]:
            cells = (str(o.index), o.name, o.outcome, o.source.uuid if o.source else "")
            row = "".join(f"<td>{htmllib.escape(c)}</td>" for c in cells)
            parts.append(f"<tr>{row}<td>{htmllib.escape(short_error(o.error))}</td></tr>")
        parts.append("</tbody></table>")
    if len(shown) > limit or len(outcomes) > limit:
        parts.append("<p>All rows: <code>.to_frame()</code></p>")
    return "".join(parts)
