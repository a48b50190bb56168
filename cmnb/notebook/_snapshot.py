"""Static pictures of the form and the progress bar, for viewers that run no widget code.

A widget's display data normally holds two things: ``application/vnd.jupyter.widget-view+json``
(the live view, drawn by a front end's widget manager) and ``text/plain``. A viewer without a
widget manager — GitHub, an HTML export read offline, nbviewer when the widget JavaScript cannot
be fetched, a notebook mailed to a colleague — has only the text to show. :func:`widget_bundle`
adds a third entry, ``text/html``: a picture of the widget as it was when it was displayed.

Which entry a viewer picks (checked against the installed versions, see docs/form-and-table.md):
JupyterLab 4, Notebook 7 and Voilà rank the widget view first (rank -10 against 50 for HTML) for
outputs they trust, i.e. those made in the running session; for an untrusted notebook opened
from disk they skip the widget view (an "unsafe" type) and draw the HTML. nbconvert's HTML
exporter draws the widget view only when the notebook's saved widget state holds that model,
else the HTML. The picture is built from HTML that is already escaped (status lines, tables,
the mode line) and holds no field value: never the name being typed, never a key.

ipywidgets 8 displays a widget through ``_repr_mimebundle_``; 7.7 through ``_ipython_display_``,
which IPython prefers and which ignores ``display_id``. :class:`SnapshotDisplay` switches the
latter off, so that both versions display the same bundle and a bar can update its picture.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from . import _theme as theme

__all__ = ["WIDGET_VIEW", "SnapshotDisplay", "progress_snapshot", "snapshot_html", "widget_bundle"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widget_bundle(model_id: str, text: str, snapshot: str) -> dict[str, Any]:
    """The display data of a widget: its live view, a stable text stand-in and its picture."""
    return {
        "text/plain": text,
        "text/html": snapshot,
        WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id},
    }


def snapshot_html(parts: Iterable[str], *, caption: str) -> str:
    """A picture from HTML fragments that are already escaped; empty ones are left out.

    ``caption`` (plain text, escaped here) says what the reader is looking at.
    """
    body = "".join(f"<div>{part}</div>" for part in parts if part)
    note = (
        f'<div class="cmnb-snapshot-note" style="color: {theme.MUTED}; font-size: smaller">'
        f"{html.escape(caption)}</div>"
    )
    return f'<div class="cmnb-snapshot">{body}{note}</div>'


def progress_snapshot(description: str, done: int, total: int, text: str) -> str:
    """A progress bar's picture, on one line: its name, a static bar and its label (escaped).

    One ``<div>`` with no other ``<div>`` inside, so ``notebooks/sanitize.cfg`` can match it
    (nbval compares the bar as first shown, the saved notebook keeps it as last drawn).
    """
    label = html.escape(text)
    return (
        f'<div class="cmnb-snapshot cmnb-progress"><b>{html.escape(description)}</b> '
        f'<progress value="{done}" max="{max(total, 1)}"></progress> <span>{label}</span></div>'
    )


class SnapshotDisplay:
    """Mixin for an ipywidgets box: its display data is :func:`widget_bundle`'s.

    Subclasses give the picture (:meth:`_cmnb_snapshot`) and the text (``repr``).
    """

    model_id: str

    def _cmnb_snapshot(self) -> str:
        return ""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return widget_bundle(self.model_id, repr(self), self._cmnb_snapshot())

    # ipywidgets 7.7's Widget._ipython_display_ publishes its own bundle (no picture) and would
    # win over _repr_mimebundle_: IPython skips a display method that is not callable.
    _ipython_display_ = None
