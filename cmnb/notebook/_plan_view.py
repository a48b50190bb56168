"""How a plan and an apply result show themselves: DataFrames, coloured HTML, text.

``Plan`` and ``ApplyResult`` (client layer) delegate their ``to_frame()``, ``__repr__`` and
``_repr_html_`` here, importing this module only when called. The text tables
(:func:`plan_text`, :func:`result_text`) are what a command line prints. Only the frames need
pandas, and only the HTML reuses :func:`cmnb.notebook._render.format_cell` (which brings pandas):
a repr in a plain script loads neither.
"""

from __future__ import annotations

import html as htmllib
import textwrap
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from ._columns import APPLY_COLUMNS
from ._columns import PLAN_COLUMNS as _PLAN_COLUMNS
from ._messages import short_error
from ._theme import BORDER, ERROR, MUTED, SUCCESS, WARN

if TYPE_CHECKING:
    import pandas

    from ..api._apply import ApplyOutcome, ApplyResult
    from ..api._plan import Plan, PlanStep

__all__ = [
    "PLAN_COLUMNS",
    "RESULT_COLUMNS",
    "plan_frame",
    "plan_html",
    "plan_repr",
    "plan_text",
    "result_frame",
    "result_html",
    "result_repr",
    "result_text",
]

PLAN_COLUMNS = list(_PLAN_COLUMNS)
RESULT_COLUMNS = list(APPLY_COLUMNS)
DEFAULT_MAX_ROWS = 20
#: A text table's column is at most this wide; a longer error wraps inside its column (the
#: uuid after it stays in line), a longer name overflows its own row.
_TEXT_CELL_CHARS = 48
#: Each action's colour (from the Jupyter theme, see _theme) and sign: colour is never alone.
_ACTION_STYLE = {
    "create": (f"color: {SUCCESS}; font-weight: 600;", "+ "),
    "delete": (f"color: {ERROR}; font-weight: 600;", "− "),
    "keep": (f"color: {MUTED};", "= "),
    "ignore": (f"color: {MUTED}; font-style: italic;", "· "),
}
_OUTCOME_COLOUR = {"failed": ERROR, "unknown": WARN, "skipped": WARN, "created": SUCCESS}
#: Deletes first: what cannot be undone is never cut off behind a long list of creates.
_CHANGES_FIRST = {"delete": 0, "create": 1, "keep": 2, "ignore": 3}
_TABLE = 'class="cmnb-table" style="border-collapse: collapse; font-size: 0.9em;"'
_CELL = "text-align: left; padding: 2px 10px; white-space: nowrap;"
_WRAPPER = "overflow-x: auto; max-width: 100%;"
#: An error is never cut: it wraps (as in a bulk result's table).
_WRAPPED = "white-space: normal; min-width: 16em; max-width: 40em;"


# -- plan -------------------------------------------------------------------------------------


def plan_frame(plan: Plan) -> pandas.DataFrame:
    """One row per step, in plan order: :data:`PLAN_COLUMNS`. The account's sources are read
    as a listing reads them (:func:`cmnb.notebook._frame.sources_frame`: ``created_at`` is
    UTC, parsed in one pass); a create has no uuid, system or created_at."""
    import pandas as pd

    from ._frame import sources_frame

    steps = plan.steps
    held = [step.held for step in steps]
    at = [index for index, item in enumerate(held) if item is not None]
    frame: pandas.DataFrame = pd.DataFrame(
        {
            "name": pd.Series([step.name for step in steps], dtype=object),
            "action": pd.Series([step.action for step in steps], dtype=object),
            "system": pd.Series([None] * len(steps), dtype=object),
            "created_at": pd.Series([pd.NaT] * len(steps), dtype="datetime64[ns, UTC]"),
            "uuid": pd.Series([None] * len(steps), dtype=object),
        },
        columns=PLAN_COLUMNS,
    )
    if at:
        account = sources_frame(cast("list[dict[str, Any]]", [held[index] for index in at]))
        for column in ("system", "created_at", "uuid"):
            frame.loc[at, column] = account[column].to_numpy()
    return frame


def plan_repr(plan: Plan, limit: int = 10) -> str:
    """``Plan: 2 to create, 5 unchanged, 1 to delete``, then the first changes (deletes
    first), one a line."""
    changes = [s for s in _changes_first(plan.steps) if s.action in ("create", "delete")]
    lines = [f"Plan: {plan.summary()}"]
    for step in changes[:limit]:
        sign = _ACTION_STYLE[step.action][1].strip()
        held = f"  {step.system}  {step.uuid}" if step.uuid else ""
        lines.append(f"  {sign} {step.action:<6}  {step.name!r}{held}")
    if len(changes) > limit:
        lines.append(f"  … and {len(changes) - limit} more changes (every step: .to_frame())")
    return "\n".join(lines)


def plan_html(plan: Plan, *, max_rows: int = DEFAULT_MAX_ROWS) -> str:
    """The steps as an HTML table (deletes, then creates, first when they do not all fit),
    the actions coloured, ending with the summary line. Every cell is escaped."""
    from ._render import format_cell

    steps = _changes_first(plan.steps) if len(plan) > max_rows else list(plan.steps)
    body = []
    for step in steps[:max_rows]:
        style, sign = _ACTION_STYLE[step.action]
        cells = {column: _td(format_cell(getattr(step, column))) for column in PLAN_COLUMNS}
        cells["action"] = _td(htmllib.escape(sign + step.action), style)
        body.append("<tr>" + "".join(cells[column] for column in PLAN_COLUMNS) + "</tr>")
    table = _table(PLAN_COLUMNS, body) if body else ""
    note = _note(min(len(plan), max_rows), len(plan), "step", "changes first")
    summary = f'<p class="cmnb-plan-summary"><b>Plan</b>: {htmllib.escape(plan.summary())}</p>'
    return f'<div class="cmnb-plan" style="{_WRAPPER}">{table}{note}{summary}</div>'


def plan_text(plan: Plan, max_rows: int | None = None) -> str:
    """Every step (or the first ``max_rows``, changes first) as an aligned text table, then the
    summary: what ``cmnb plan`` prints."""
    steps = list(plan.steps) if max_rows is None else _changes_first(plan.steps)[:max_rows]
    rows = [[_plain(getattr(step, column)) for column in PLAN_COLUMNS] for step in steps]
    table = _text_table(PLAN_COLUMNS, rows) if rows else "(no steps)"
    return f"{table}\n{plan.summary()}"


# -- apply result -----------------------------------------------------------------------------


def result_frame(result: ApplyResult) -> pandas.DataFrame:
    """One row per step, in plan order: :data:`RESULT_COLUMNS` (``error`` is ``TypeName:
    message``, whole; missing values are ``None``)."""
    import pandas as pd

    rows = [_result_values(o) for o in result]
    frame: pandas.DataFrame = pd.DataFrame(rows, columns=RESULT_COLUMNS, dtype=object)
    return frame


def result_repr(result: ApplyResult, limit: int = 5) -> str:
    """``ApplyResult(8 steps: …)``, then the first steps that failed or are unknown."""
    trouble = [o for o in result if o.outcome in ("failed", "unknown")]
    lines = [f"ApplyResult({result.summary()})"]
    lines += [
        f"  {o.outcome} {o.action} {o.name!r}: {short_error(o.error)}" for o in trouble[:limit]
    ]
    if len(trouble) > limit:
        lines.append(f"  … and {len(trouble) - limit} more (see .to_frame())")
    return "\n".join(lines)


def result_html(result: ApplyResult, *, max_rows: int = DEFAULT_MAX_ROWS) -> str:
    """The summary, then the steps as an HTML table (problems first when they do not all fit)."""
    from ._render import format_cell

    outcomes = _problems_first(result.outcomes) if len(result) > max_rows else list(result)
    body = []
    for o in outcomes[:max_rows]:
        style, sign = _ACTION_STYLE[o.action]
        colour = _OUTCOME_COLOUR.get(o.outcome)
        values = _result_values(o)
        cells = {column: _td(format_cell(values[column])) for column in RESULT_COLUMNS}
        cells["action"] = _td(htmllib.escape(sign + o.action), style)
        cells["outcome"] = _td(
            htmllib.escape(o.outcome), f"color: {colour}; font-weight: 600;" if colour else ""
        )
        cells["error"] = _td(format_cell(values["error"], None), _WRAPPED)  # whole, wrapped
        body.append("<tr>" + "".join(cells[column] for column in RESULT_COLUMNS) + "</tr>")
    summary = f"<p><b>ApplyResult</b>: {htmllib.escape(result.summary())}</p>"
    table = _table(RESULT_COLUMNS, body) if body else ""
    note = _note(min(len(result), max_rows), len(result), "step", "problems first")
    return f'<div class="cmnb-apply" style="{_WRAPPER}">{summary}{table}{note}</div>'


def result_text(result: ApplyResult) -> str:
    """Every step as an aligned text table, then the summary: what ``cmnb apply`` prints."""
    rows = [[_plain(value) for value in _result_values(o).values()] for o in result]
    table = _text_table(RESULT_COLUMNS, rows, wrap="error") if rows else "(no steps)"
    return f"{table}\n{result.summary()}"


# -- helpers ----------------------------------------------------------------------------------


def _result_values(outcome: ApplyOutcome) -> dict[str, Any]:
    """One step's values in :data:`RESULT_COLUMNS` order (``error``: the whole ``TypeName:
    message``; a missing value is ``None``)."""
    values: dict[str, Any] = {
        "name": outcome.name,
        "action": outcome.action,
        "outcome": outcome.outcome,
        "error": short_error(outcome.error, limit=None) or None,
        "uuid": outcome.uuid,
    }
    return {column: values[column] for column in RESULT_COLUMNS}


def _changes_first(steps: Sequence[PlanStep]) -> list[PlanStep]:
    return sorted(steps, key=lambda step: _CHANGES_FIRST[step.action])  # stable: plan order


def _problems_first(outcomes: Sequence[ApplyOutcome]) -> list[ApplyOutcome]:
    return sorted(outcomes, key=lambda o: (o.ok, o.action in ("keep", "ignore")))


def _td(content: str, style: str = "") -> str:
    return f'<td style="{_CELL} {style}">{content}</td>'


def _table(columns: Sequence[str], body: Sequence[str]) -> str:
    head = "".join(
        f'<th style="{_CELL} border-bottom: 1px solid {BORDER};">{htmllib.escape(c)}</th>'
        for c in columns
    )
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _note(shown: int, total: int, noun: str, order: str) -> str:
    nouns = noun if total == 1 else noun + "s"
    if total == 0:
        text = f"No {noun}s."
    elif shown < total:
        text = f"showing {shown} of {total:,} {nouns} ({order}); every one: .to_frame()"
    else:
        text = f"{total} {nouns}"
    return f'<p class="cmnb-note">{htmllib.escape(text)}</p>'


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""


def _plain(value: Any) -> str:
    """A cell as a terminal can show it: empty when missing, a time to the second, text as is
    when printable, else its repr (a newline or a direction override in a name must not break
    or reorder the table)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _when(value)
    text = str(value)
    return text if text.isprintable() else repr(text)


def _text_table(header: Sequence[str], rows: Sequence[Sequence[Any]], wrap: str = "") -> str:
    """Aligned columns under ``header``; the cells of the column named ``wrap`` are wrapped
    onto lines of their own column (never cut), so the columns after it stay in line."""
    cells = [list(header)] + [[str(cell) for cell in row] for row in rows]
    widths = [min(_TEXT_CELL_CHARS, max(len(row[i]) for row in cells)) for i in range(len(header))]
    column = list(header).index(wrap) if wrap in header else None
    lines = []
    for row in cells:
        for line in [row] if column is None else _wrapped(row, column, widths[column]):
            cells_and_widths = zip(line, widths, strict=True)
            lines.append("  ".join(cell.ljust(width) for cell, width in cells_and_widths).rstrip())
    return "\n".join(lines)


def _wrapped(row: list[str], column: int, width: int) -> list[list[str]]:
    """``row`` as the lines its ``column`` cell needs at ``width``: the other cells on the
    first line, that cell's next parts alone below it."""
    parts = textwrap.wrap(row[column], width, break_on_hyphens=False) or [""]
    lines = []
    for number, part in enumerate(parts):
        line = list(row) if number == 0 else [""] * len(row)
        line[column] = part
        lines.append(line)
    return lines
