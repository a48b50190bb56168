"""The notebook's progress bar (an ipywidgets ``IntProgress``) and ``progress="auto"``'s choice.

ipywidgets and IPython are imported only when a widget bar is actually built, so
``create_many(progress="auto")`` outside a notebook loads neither.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from ._progress import ProgressBar, TextProgress

if TYPE_CHECKING:
    from ..api._bulk_result import BulkResult

__all__ = ["WidgetProgress", "auto_progress"]


class WidgetProgress(ProgressBar):
    """An ``ipywidgets.IntProgress`` and a label in ``.box``, displayed when the run starts.

    ``show=False`` leaves displaying to the caller (a form that puts ``.box`` in its layout).
    Raises ``ImportError`` when ipywidgets is not installed.
    """

    def __init__(self, *, show: bool = True) -> None:
        super().__init__()
        import ipywidgets

        self.show = show

        self.bar = ipywidgets.IntProgress(value=0, min=0, max=1, description="create_many")
        self.text = ipywidgets.Label(value="")
        self.box = _progress_box(ipywidgets.HBox)([self.bar, self.text])
        self._shown: Any = None  # the DisplayHandle of the bar on show

    def start(self, total: int) -> None:
        from IPython.display import display

        self.bar.max = max(total, 1)
        self.bar.value, self.bar.bar_style = 0, ""
        if self.show:
            # A display id, so that the end of the run can update the bar's picture.
            self._shown = display(self.box, display_id=True)  # type: ignore[no-untyped-call]
        super().start(total)

    def draw(self, final: BulkResult | None = None) -> None:
        self.bar.value = self.done
        self.text.value = f"{self.done}/{self.total}  {self.label()}"
        if final is not None:
            self.bar.bar_style = "success" if final.ok else "warning"
            self.text.value = final.summary()
            if self._shown is not None:
                # Once, at the end: a saved notebook keeps the summary in the bar's picture.
                # (A front end redraws the output from the same model: the bar stays live.)
                self._shown.update(self.box)


def _progress_box(hbox: type[Any]) -> type[Any]:
    """An HBox whose text stand-in is stable: ipywidgets' default shows the bar at 0 forever.

    Saved notebooks keep the text/plain form of what was displayed (and nbval compares it);
    a front end draws the live bar instead. Its display data also holds a picture of the bar
    and its label (text/html, see :mod:`cmnb.notebook._snapshot`) for viewers without widgets.
    """
    from ._snapshot import SnapshotDisplay, progress_snapshot

    class ProgressBox(SnapshotDisplay, hbox):  # type: ignore[misc,valid-type]
        def __repr__(self) -> str:
            bar = self.children[0]
            return f"create_many progress bar ({bar.max} names)"

        def _cmnb_snapshot(self) -> str:
            bar, text = self.children
            return progress_snapshot(bar.description, bar.value, bar.max, text.value)

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
