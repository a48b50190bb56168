"""How a data source and its optional blocks show themselves: small tidy tables, not long reprs.

A block (``ProcessingStatus``, ``AutoChurnSubscriptionSetting``, ``InvoiceHandlingSetting``
and its ``InvoiceHandlingRules``) is one field per row; ``InvoiceHandlingSetting`` has a
column for each side (``manual``, ``automatic``), so its ten values read as a 5 × 2 grid
instead of one 600-character line. A ``DataSource`` shows as a card: its fields in the
table's order (:mod:`cmnb.notebook._columns`), then its blocks side by side.

The models' display hooks (``__str__``, ``_repr_pretty_`` and ``_repr_html_``) import this
module when called, never at import time (import-linter lists them). Standard library only:
printing a block in a script loads no pandas. Missing values are empty cells; every value and
name is HTML-escaped here, exactly once.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..api._models import BLOCKS
from ._columns import SOURCE_COLUMNS
from ._theme import BORDER

if TYPE_CHECKING:
    from ..api._models import DataSource

__all__ = ["Block", "block_grid", "block_html", "block_text", "source_html"]

_TABLE = 'class="cmnb-block" style="border-collapse: collapse; font-size: 0.9em; margin: 0;"'
_CELL = "text-align: left; padding: 1px 10px 1px 0; vertical-align: top;"
_CAPTION = "text-align: left; font-weight: 600; padding-bottom: 2px; white-space: nowrap;"
#: The blocks of a card sit side by side, and go under each other in a narrow window.
_BLOCKS_ROW = (
    "display: flex; flex-wrap: wrap; align-items: flex-start; gap: 4px 24px; margin-top: 6px;"
)


class Block(Protocol):
    """What this module reads from a block: the JSON object the API sends for it."""

    def to_dict(self) -> dict[str, Any]: ...


Grid = tuple[list[str], list[tuple[str, list[Any]]]]


def block_grid(data: Mapping[str, Any]) -> Grid:
    """A block's JSON object as ``(columns, rows)``, each row ``(field, values)``.

    A flat block has one column, ``value``. A block of sub-objects (invoice handling's
    ``manual`` and ``automatic`` rules) has one column per sub-object and a row per field of
    any of them; a plain value beside them (a key the API adds later) fills the first column.
    """
    nested = any(isinstance(value, Mapping) for value in data.values())
    sides = [k for k, v in data.items() if isinstance(v, Mapping) or (nested and v is None)]
    if not sides:
        return ["value"], [(str(key), [value]) for key, value in data.items()]
    fields: dict[str, None] = {}
    for side in sides:
        fields.update(dict.fromkeys(map(str, data[side] or {})))
    rows = [(field, [(data[side] or {}).get(field) for side in sides]) for field in fields]
    blank = [None] * (len(sides) - 1)
    rows += [(str(key), [value, *blank]) for key, value in data.items() if key not in sides]
    return sides, rows


def block_text(block: Block) -> str:
    """The block's class name, then one aligned ``field  value`` line per field (a header line
    of the sides first, for invoice handling): what ``print(block)`` shows."""
    columns, rows = block_grid(block.to_dict())
    cells = [[field, *map(_text, values)] for field, values in rows]
    if columns != ["value"]:
        cells.insert(0, ["", *columns])
    widths = [max((len(row[i]) for row in cells), default=0) for i in range(len(columns) + 1)]
    lines = [type(block).__name__]
    for row in cells:
        aligned = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append(("  " + aligned).rstrip())
    return "\n".join(lines)


def block_html(block: Block, title: str | None = None) -> str:
    """A small table of the block, titled ``title`` (default: its class name)."""
    columns, rows = block_grid(block.to_dict())
    caption = html.escape(title if title is not None else type(block).__name__)
    head = ""
    if columns != ["value"]:
        labels = "".join(_th(column, border=True) for column in columns)
        head = f"<thead><tr>{_th('', border=True)}{labels}</tr></thead>"
    body = "".join(
        f"<tr>{_th(field)}{''.join(_td(value) for value in values)}</tr>" for field, values in rows
    )
    caption_html = f'<caption style="{_CAPTION}">{caption}</caption>'
    return f"<table {_TABLE}>{caption_html}{head}<tbody>{body}</tbody></table>"


def source_html(source: DataSource) -> str:
    """A card: the source's fields (``name`` first, ``uuid`` last), then each block it
    carries as a small table, side by side."""
    fields = "".join(
        f"<tr>{_th(column)}{_td(getattr(source, column))}</tr>" for column in SOURCE_COLUMNS
    )
    card = f'<table {_TABLE}><caption style="{_CAPTION}">DataSource</caption>'
    card += f"<tbody>{fields}</tbody></table>"
    # A block is there only when the request asked for it.
    carried = [(name, getattr(source, name)) for name in BLOCKS]
    blocks = [block_html(block, name) for name, block in carried if block is not None]
    if blocks:
        card += f'<div style="{_BLOCKS_ROW}">{"".join(blocks)}</div>'
    return f'<div class="cmnb-source">{card}</div>'


def _text(value: Any) -> str:
    """A value as a cell shows it: empty when missing, UTC timestamps to the second."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return value if isinstance(value, str) else str(value)


def _th(label: str, *, border: bool = False) -> str:
    rule = f" border-bottom: 1px solid {BORDER};" if border else ""
    return f'<th style="{_CELL} font-weight: normal;{rule}">{html.escape(label)}</th>'


def _td(value: Any) -> str:
    return f'<td style="{_CELL}">{html.escape(_text(value))}</td>'
