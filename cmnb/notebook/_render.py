"""Pure functions that turn a data source DataFrame into HTML or plain text.

Nothing here touches widgets, clients or global state: the same frame always gives the same
string (the Styler uuid is fixed), which is what golden-file tests and nbval need. Every cell
and every column header is HTML-escaped, because pandas' ``Styler`` does not escape by default.
"""

from __future__ import annotations

import html
import math
from datetime import datetime
from typing import Any

import pandas as pd

from ..api._bulk_result import QUIET_OUTCOMES
from . import _theme as theme
from ._columns import SOURCE_COLUMNS

__all__ = [
    "DEFAULT_MAX_ROWS",
    "MAX_CELL_CHARS",
    "OUTCOMES_UUID",
    "TABLE_UUID",
    "count_note",
    "format_cell",
    "listing_lines",
    "newest_first",
    "outcomes_html",
    "sources_html",
    "sources_text",
]

DEFAULT_MAX_ROWS = 20
#: Longer cell text is cut in the HTML (the whole text is the cell's tooltip): one long name
#: must not push the columns after it out of view. The DataFrame itself keeps every character.
MAX_CELL_CHARS = 60
TABLE_UUID = "cmnb-sources"
OUTCOMES_UUID = "cmnb-outcomes"

_TABLE_STYLES: list[dict[str, Any]] = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 0.9em;"},
    {
        "selector": "th",
        "props": f"text-align: left; padding: 2px 10px; border-bottom: 1px solid {theme.BORDER};",
    },
    {"selector": "td", "props": "text-align: left; padding: 2px 10px; white-space: nowrap;"},
    {"selector": "tbody tr:nth-child(even)", "props": "background: rgba(127, 127, 127, 0.08);"},
]
#: A table whose columns are grouped (a block's fields under its name): the group's name is
#: centred over its columns, and the blank cells above ungrouped columns draw no rule.
_GROUPED_STYLES: list[dict[str, Any]] = [
    {"selector": "th[colspan]", "props": "text-align: center;"},
    {"selector": "th:empty", "props": "border-bottom: none;"},
]
#: The tables' wrapper: a table wider than the page (a narrow window, many columns) scrolls
#: sideways instead of having its last columns clipped out of reach by the widget area.
_WRAPPER_STYLE = "overflow-x: auto; max-width: 100%;"
#: Columns whose text is the point of the row (a bulk run's errors) wrap instead of running
#: off the right edge; the minimum width keeps them readable in a narrow window.
_WRAPPED_CELL = "white-space: normal; min-width: 16em; max-width: 40em;"
#: The text listing's name column is at most this wide; a longer name overflows its own row.
_LISTING_NAME_CHARS = 40


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_cell(value: Any, max_chars: int | None = MAX_CELL_CHARS) -> str:
    """HTML of one cell: ``""`` for missing, UTC timestamps to the second, else escaped ``str``.

    Every value (strings, dicts or lists kept from unknown server keys, numbers, booleans) is
    escaped here, exactly once. Text longer than ``max_chars`` (``None``: no limit) is cut with
    an ellipsis inside a ``<span>`` whose ``title`` holds the whole text.
    """
    if _is_missing(value):
        return ""
    if isinstance(value, datetime):
        return _format_time(value)
    text = value if isinstance(value, str) else str(value)
    if max_chars is None or len(text) <= max_chars:
        return html.escape(text, quote=True)
    shown = html.escape(text[: max_chars - 1], quote=True)
    return f'<span title="{html.escape(text, quote=True)}">{shown}…</span>'


def newest_first(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows newest first by ``created_at`` (missing last); ties: the row added last first."""
    ordered: pd.DataFrame = frame.iloc[::-1]
    if "created_at" in frame.columns and not frame.empty:
        ordered = ordered.sort_values(
            "created_at", ascending=False, kind="mergesort", na_position="last"
        )
    result: pd.DataFrame = ordered.reset_index(drop=True)
    return result


def count_note(shown: int, total: int) -> str:
    """``"showing 20 of 135 data sources (newest first)"``, or ``"3 data sources"`` if all shown."""
    noun = "data source" if total == 1 else "data sources"
    if total == 0:
        return "No data sources yet."
    if shown < total:
        return f"showing {shown} of {total} {noun} (newest first)"
    return f"{total} {noun}"


def sources_html(
    frame: pd.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS, table_uuid: str = TABLE_UUID
) -> str:
    """A tidy HTML table of ``frame``, newest first, at most ``max_rows`` rows, with a count note.

    The output is deterministic for a given frame and ``table_uuid``. An empty frame gives only
    the note ``No data sources yet.``. Raises ``ValueError`` if ``max_rows`` is below 1.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    total = len(frame)
    note = f'<p class="cmnb-note">{html.escape(count_note(min(total, max_rows), total))}</p>'
    if total == 0:
        return f'<div class="cmnb-sources">{note}</div>'
    rows = _grouped(newest_first(frame).head(max_rows))
    table = _table_html(rows, table_uuid)
    return f'<div class="cmnb-sources" style="{_WRAPPER_STYLE}">{table}{note}</div>'


def _grouped(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its dotted columns grouped: ``processing_status.processed`` is shown as
    ``processed`` under a ``processing_status`` heading that spans the block's columns, so a
    table with blocks is not a row of 40-character headers. No dotted column: ``frame``."""
    paths = [str(column).split(".") for column in frame.columns]
    depth = max((len(path) for path in paths), default=1)
    if depth == 1:
        return frame
    # The field's own name on the bottom row, its block (and rule side) above it.
    labels = [(*path[:-1], *[""] * (depth - len(path)), path[-1]) for path in paths]
    shown = frame.copy()
    shown.columns = pd.MultiIndex.from_tuples(labels)
    return shown


def _header_html(label: Any) -> str:
    """A column header, escaped, free to wrap after ``_`` and ``.`` when the window is narrow
    (``<wbr>``: the text itself, copied, is unchanged)."""
    text = html.escape(str(label), quote=True)
    return text.replace("_", "_<wbr>").replace(".", ".<wbr>")


def _table_html(rows: pd.DataFrame, table_uuid: str, *, uncut: tuple[str, ...] = ()) -> str:
    """Every cell and header escaped exactly once (see :func:`format_cell`), no index.

    Cells of the ``uncut`` columns are never shortened, and wrap.
    """
    styler = (
        rows.style.set_uuid(table_uuid)
        .set_table_attributes('class="cmnb-table"')
        .set_table_styles(_TABLE_STYLES)  # type: ignore[arg-type]  # stubs want CSSDicts
        .format(format_cell)
        .hide(axis="index")
    )
    if isinstance(rows.columns, pd.MultiIndex):  # grouped: long headers may wrap
        styler = styler.format_index(_header_html, axis=1)
        styler = styler.set_table_styles(_GROUPED_STYLES, overwrite=False)  # type: ignore[arg-type]
    else:
        styler = styler.format_index(escape="html", axis=1)
    whole = [column for column in uncut if column in rows.columns]
    if whole:
        styler = styler.format(lambda value: format_cell(value, None), subset=whole)
        wrapped = {column: [{"selector": "td", "props": _WRAPPED_CELL}] for column in whole}
        styler = styler.set_table_styles(wrapped, overwrite=False)  # type: ignore[arg-type]
    html_text: str = styler.to_html()
    return html_text


def outcomes_html(
    frame: pd.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS, table_uuid: str = OUTCOMES_UUID
) -> str:
    """The per-name table of a bulk run (``BulkResult.to_frame()``'s columns), HTML-escaped.

    Rows keep the input order; when there are more than ``max_rows``, the rows whose
    ``outcome`` is a problem (not one of ``QUIET_OUTCOMES``) come first, so problems are never
    cut off before successes. A ``note`` column is not shown apart: it fills the ``error``
    cells that are empty (one column says what is worth knowing about a row), and that column
    is never cut, it wraps. Missing values are empty cells. Deterministic for a given frame.
    An empty frame gives only a note. Raises ``ValueError`` if ``max_rows`` is below 1.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    total = len(frame)
    noun = "name" if total == 1 else "names"
    if total == 0:
        text = "No names were sent."
    elif total > max_rows:
        text = f"showing {max_rows} of {total} {noun} (problems first)"
    else:
        text = f"{total} {noun}"
    note = f'<p class="cmnb-note">{html.escape(text)}</p>'
    if total == 0:
        return f'<div class="cmnb-outcomes">{note}</div>'
    rows = _with_notes(frame)
    if total > max_rows and "outcome" in rows.columns:
        fine = rows["outcome"].isin(QUIET_OUTCOMES)
        rows = pd.concat([rows[~fine], rows[fine]])
    rows = rows.head(max_rows).reset_index(drop=True)
    table = _table_html(rows, table_uuid, uncut=("error",))  # the reason is the point of a row
    return f'<div class="cmnb-outcomes" style="{_WRAPPER_STYLE}">{table}{note}</div>'


def _with_notes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without its ``note`` column, each note moved into an empty ``error`` cell."""
    if "note" not in frame.columns or "error" not in frame.columns:
        return frame
    errors = frame["error"].astype(object)
    told = errors.notna() & (errors != "")
    shown = frame.drop(columns="note")
    shown["error"] = errors.where(told, frame["note"].astype(object))
    return shown


def sources_text(frame: pd.DataFrame, *, max_rows: int = DEFAULT_MAX_ROWS) -> str:
    """A plain-text listing, newest first, counted: see :func:`listing_lines`."""
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    total = len(frame)
    head = f"DataSourceTable: {count_note(min(total, max_rows), total)}"
    if total == 0:
        return head
    lines = listing_lines(newest_first(frame).head(max_rows))
    return "\n".join([head, *("  " + line for line in lines)])


def listing_lines(frame: pd.DataFrame) -> list[str]:
    """One aligned line per row of ``frame``, in its order, in the table's columns (``name``
    first, quoted so that a newline or a direction override in it cannot break the line;
    ``uuid`` last); no block fields. ``repr(DataSourceTable)`` and ``cmnb list`` print these."""
    cells = [
        [_listing_cell(column, value) for column, value in zip(SOURCE_COLUMNS, row, strict=True)]
        for row in frame[list(SOURCE_COLUMNS)].itertuples(index=False, name=None)
    ]
    if not cells:
        return []
    widths = [max(len(row[i]) for row in cells) for i in range(len(SOURCE_COLUMNS))]
    widths[0] = min(widths[0], _LISTING_NAME_CHARS)
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _listing_cell(column: str, value: Any) -> str:
    if column == "name":
        return repr("" if _is_missing(value) else str(value))
    if _is_missing(value):
        return ""
    return _format_time(value) if isinstance(value, datetime) else str(value)
