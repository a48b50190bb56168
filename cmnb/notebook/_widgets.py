"""Widget helpers shared by the form and its bulk panel: status lines, guarded callbacks, a box.

:func:`status_html` writes one escaped status line in the Jupyter theme's colours;
:func:`never_raises` keeps a callback's exception out of ipywidgets (which swallows or misroutes
tracebacks); :class:`StableReprBox` is a ``VBox`` whose text stand-in does not leak field values.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import ipywidgets as widgets

from . import _theme as theme
from ._messages import describe_error
from ._snapshot import SnapshotDisplay

__all__ = ["COLORS", "StableReprBox", "never_raises", "status_html"]

logger = logging.getLogger("cmnb")

#: Each kind's colour, from the Jupyter theme (see :mod:`cmnb.notebook._theme`).
COLORS = {"ok": theme.SUCCESS, "error": theme.ERROR, "busy": theme.MUTED, "info": theme.MUTED}
_ICONS = {"ok": "✔ ", "error": "✖ ", "busy": "… ", "info": ""}
_F = TypeVar("_F", bound=Callable[..., None])


def status_html(kind: str, text: str, *, icon: bool = True, names: Iterable[str] = ()) -> str:
    """One escaped status line of ``kind`` (``ok``, ``error``, ``busy``, ``info``).

    Each of ``names`` quoted in ``text`` (“name”) is put in a ``<bdi>``: a name holding a
    right-to-left override (U+202E) must not reverse the uuid and words after it. Raises
    ``KeyError`` for another kind.
    """
    mark = _ICONS[kind] if icon else ""
    shown = html.escape(text, quote=True)
    for name in dict.fromkeys(names):
        escaped = html.escape(name, quote=True)
        shown = shown.replace(f"“{escaped}”", f"“<bdi>{escaped}</bdi>”")
    style = f"color: {COLORS[kind]}"
    return f'<span class="cmnb-status cmnb-{kind}" style="{style}">{mark}{shown}</span>'


def never_raises(method: _F) -> _F:
    """Callbacks must not raise into ipywidgets: show a generic message, log the details.

    Works on any object with a ``status`` HTML widget (the form and its bulk panel).
    """

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except (Exception, KeyboardInterrupt) as exc:
            logger.debug("cmnb form callback %s failed", method.__name__, exc_info=True)
            try:
                self.status.value = status_html("error", describe_error(exc))
            except Exception:
                logger.debug("cmnb form could not show the error", exc_info=True)

    return guarded  # type: ignore[return-value]


class StableReprBox(SnapshotDisplay, widgets.VBox):  # type: ignore[misc]
    """A ``VBox`` whose repr is ``_cmnb_repr``: ipywidgets' default lists field values, which
    would leak into saved notebooks (and change between runs, which nbval compares).

    Its display data also carries ``snapshot()``, a static HTML picture (see
    :mod:`cmnb.notebook._snapshot`); the form sets both.
    """

    _cmnb_repr = "DataSourceForm()"
    snapshot: Callable[[], str] = str  # str() == "": no picture until the form gives one

    def __repr__(self) -> str:
        return self._cmnb_repr

    def _cmnb_snapshot(self) -> str:
        return self.snapshot()
