"""How a bulk run's result shows itself: its repr text, its HTML and its DataFrame.

``BulkResult``'s ``__repr__``, ``_repr_html_`` and ``to_frame()`` delegate here, importing this
module only when called (the client layer draws nothing itself). Only the frame needs pandas,
and imports it when one is built.
"""

from __future__ import annotations

import html as htmllib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._messages import short_error

if TYPE_CHECKING:
    import pandas

    from ..api._bulk_result import BulkOutcome

__all__ = ["COLUMNS", "outcomes_frame", "result_html", "result_text", "rows"]

COLUMNS = ["name", "outcome", "uuid", "created_at", "error"]


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


def outcomes_frame(outcomes: Sequence[BulkOutcome]) -> pandas.DataFrame:
    """A DataFrame of :data:`COLUMNS`, one row per outcome; ``created_at`` in UTC."""
    import pandas as pd

    frame: pandas.DataFrame = pd.DataFrame(rows(outcomes), columns=COLUMNS)
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
            said = short_error(o.error) or o.note  # a created row may say its answer was lost
            parts.append(f"<tr>{row}<td>{htmllib.escape(said)}</td></tr>")
        parts.append("</tbody></table>")
    if len(shown) > limit or len(outcomes) > limit:
        parts.append("<p>All rows: <code>.to_frame()</code></p>")
    return "".join(parts)
