"""How a bulk run's result shows itself: its repr text, its HTML and its DataFrame.

``BulkResult``'s ``__repr__``, ``_repr_html_`` and ``to_frame()`` delegate here, importing this
module only when called (the client layer draws nothing itself). Only the frame needs pandas,
and imports it when one is built: the repr and the HTML do not.

What ``to_frame()`` gives and what is shown differ on purpose: the frame keeps real dtypes and
real missing values (``created_at`` is UTC and ``NaT`` when there is no source; ``error``,
``note`` and ``uuid`` are missing when there is none), so ``isna()``, ``dropna()`` and joins
work; the HTML shows the same rows with empty cells and each row's error (or note) whole,
wrapped.
"""

from __future__ import annotations

import html as htmllib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..api._bulk_result import QUIET_OUTCOMES
from ._columns import OUTCOME_COLUMNS
from ._messages import short_error
from ._theme import BORDER

if TYPE_CHECKING:
    import pandas

    from ..api._bulk_result import BulkOutcome

__all__ = ["COLUMNS", "outcomes_frame", "result_html", "result_text", "rows"]

COLUMNS = list(OUTCOME_COLUMNS)
#: The HTML's columns: the frame's, the note shown in the error cell when there is no error.
_SHOWN_COLUMNS = [column for column in COLUMNS if column != "note"]
_TABLE = 'class="cmnb-table" style="border-collapse: collapse; font-size: 0.9em;"'
_CELL = "text-align: left; padding: 2px 10px; white-space: nowrap; vertical-align: top;"
_RULE = f"border-bottom: 1px solid {BORDER};"
#: The reason is the point of a row: never cut, it wraps.
_WRAPPED = "white-space: normal; min-width: 16em; max-width: 40em;"
#: A table wider than the window scrolls sideways in its own box.
_WRAPPER = "overflow-x: auto; max-width: 100%;"


def rows(outcomes: Sequence[BulkOutcome]) -> list[dict[str, Any]]:
    """One dict per outcome with the :data:`COLUMNS` of ``BulkResult.to_frame()``."""
    return [
        {
            "name": o.name,
            "outcome": o.outcome,
            "created_at": o.source.created_at if o.source else None,
            "error": short_error(o.error, limit=None) if o.error else None,
            "note": o.note or None,
            "uuid": o.source.uuid if o.source else None,
        }
        for o in outcomes
    ]


def outcomes_frame(outcomes: Sequence[BulkOutcome]) -> pandas.DataFrame:
    """A DataFrame of :data:`COLUMNS`, one row per outcome, indexed by input position;
    ``created_at`` in UTC."""
    import pandas as pd

    frame: pandas.DataFrame = pd.DataFrame(
        rows(outcomes), columns=COLUMNS, index=[o.index for o in outcomes]
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def result_text(headline: str, failed: Sequence[BulkOutcome], limit: int = 5) -> str:
    """The repr of a result: its summary line and the first of ``failed`` (the outcomes not ok
    that were sent: ``failed`` and ``unknown``)."""
    lines = [f"BulkResult({headline})"]
    lines += [
        f"  {o.outcome} [{o.index}] {o.name!r}: {short_error(o.error)}" for o in failed[:limit]
    ]
    if len(failed) > limit:
        lines.append(f"  … and {len(failed) - limit} more (see .to_frame())")
    return "\n".join(lines)


def result_html(headline: str, outcomes: Sequence[BulkOutcome], limit: int = 20) -> str:
    """The HTML of a result: its summary, then the rows of ``to_frame()`` numbered by input
    position (a repeated name's note refers to them): every row for small runs, the problems
    first for big ones. Missing values are empty cells; an error (or, without one, the note)
    is whole and wraps. Every cell is escaped. No pandas: a result shown from a script stays
    light."""
    shown = list(outcomes)
    if len(shown) > limit:  # stable: input order within problems, then within the rest
        shown.sort(key=lambda o: o.outcome in QUIET_OUTCOMES)
    body = []
    for o in shown[:limit]:
        said = (
            short_error(o.error, limit=None) or o.note
        )  # a created row may say its answer was lost
        cells = [o.name, o.outcome, _when(o.source.created_at if o.source else None)]
        row = f'<th style="{_CELL}">{o.index}</th>'
        row += "".join(f'<td style="{_CELL}">{htmllib.escape(cell)}</td>' for cell in cells)
        row += f'<td style="{_CELL} {_WRAPPED}">{htmllib.escape(said)}</td>'
        row += f'<td style="{_CELL}">{htmllib.escape(o.source.uuid if o.source else "")}</td>'
        body.append(f"<tr>{row}</tr>")
    parts = [f"<p><b>BulkResult</b>: {htmllib.escape(headline)}</p>"]
    if body:
        head = "".join(f'<th style="{_CELL} {_RULE}">{c}</th>' for c in ("", *_SHOWN_COLUMNS))
        table = f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
        parts.append(f'<div style="{_WRAPPER}">{table}</table></div>')
    if len(outcomes) > limit:
        parts.append(
            f"<p>Showing {limit} of {len(outcomes)} names (problems first). "
            "Every row: <code>.to_frame()</code></p>"
        )
    return "".join(parts)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""
