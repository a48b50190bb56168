"""Data sources' JSON objects into a DataFrame, fast: the frame behind ``DataSourceTable``.

A row is a data source's JSON object as the API sends it (``DataSource.from_dict`` reads it);
``created_at`` may also hold a datetime. The API's own timestamps are parsed in one vectorised
call and the text columns are taken as they are, so 10,000 rows cost about what
``pd.DataFrame(json)`` costs; anything else goes through the client's parsers one value at a
time, so both paths agree exactly with :class:`~cmnb.api._models.DataSource`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from itertools import repeat
from typing import Any, Final

import numpy as np
import pandas as pd

from ..api._models import (
    BLOCKS,
    AutoChurnSubscriptionSetting,
    InvoiceHandlingRules,
    InvoiceHandlingSetting,
    ProcessingStatus,
    flatten_fields,
    parse_timestamp,
)
from ._columns import SOURCE_COLUMNS, source_columns

__all__ = ["BASE_COLUMNS", "Row", "csv_frame", "sources_frame", "text_field"]

#: A held data source: its JSON object (see the module docstring).
Row = dict[str, Any]

#: A data source's own columns, in the table's order (see :mod:`cmnb.notebook._columns`).
BASE_COLUMNS = SOURCE_COLUMNS
_TIME_DTYPE: Final = "datetime64[ns, UTC]"
# The API's own timestamp form (``2023-01-10T15:34:05.918Z``), parsed in bulk; any other form
# goes through models.parse_timestamp, one value at a time, so both paths agree exactly.
_API_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_API_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%f%z"  # pandas' fast ISO path; %z reads the Z


def sources_frame(rows: Sequence[Row], blocks: Iterable[str] = ()) -> pd.DataFrame:
    """The DataFrame of ``rows`` (see :meth:`DataSourceTable.to_frame`), in their order.

    The columns of :func:`~cmnb.notebook._columns.source_columns`: ``name`` first, the
    flattened fields of the blocks the rows carry and of the ``blocks`` named after
    ``status``, ``uuid`` last. Raises ``ValueError`` for an unknown block name.
    """
    block_rows = {index: _block_fields(rows[index]) for index in _carrying_blocks(rows)}
    extra_columns: dict[str, None] = dict.fromkeys(_block_columns(blocks))
    for flat in block_rows.values():
        extra_columns.update(dict.fromkeys(flat))
    block_columns = _ordered(extra_columns)
    data: dict[str, pd.Series] = {"created_at": _times(rows)}
    for column in ("name", "system", "status", "uuid"):
        data[column] = pd.Series(_texts(_values(rows, column)), dtype=str)
    for column in block_columns:
        values = [block_rows.get(index, {}).get(column) for index in range(len(rows))]
        data[column] = _column(column, values)
    frame: pd.DataFrame = pd.DataFrame(data, columns=source_columns(block_columns))
    return frame


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` (as :meth:`DataSourceTable.to_frame` makes it) ready for CSV.

    ``created_at`` becomes the API's own text, milliseconds and ``Z``
    (``2024-03-01T09:30:00.918Z``, as :func:`cmnb.api._models.format_timestamp` writes it; ``NaT``
    becomes a missing value). :meth:`DataSourceTable.to_csv` and ``cmnb list --format csv``
    both write through it. Raises ``KeyError`` if ``frame`` has no ``created_at`` column.
    """
    out: pd.DataFrame = frame.copy()
    # strftime has no milliseconds directive: cut the microseconds' last three digits, which
    # truncates exactly as format_timestamp does.
    text = out["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    out["created_at"] = text.str[:-3] + "Z"
    return out


def _carrying_blocks(rows: Sequence[Row]) -> list[int]:
    """The indexes of the rows that carry an optional block (none, unless a list asked)."""
    # Three plain lookups per row: the fastest test, and 10,000 rows are tested per frame.
    # Unpacking fails loudly should BLOCKS ever name a fourth block.
    first, second, third = BLOCKS
    return [i for i, row in enumerate(rows) if first in row or second in row or third in row]


def _block_fields(row: Row) -> dict[str, Any]:
    """The row's blocks, flattened with dots (``processing_status.processed``)."""
    flat: dict[str, Any] = {}
    for block in BLOCKS:
        value = row.get(block)
        if value is not None:
            flat.update(flatten_fields(value, block))
    return flat


def _column(name: str, values: list[Any]) -> pd.Series:
    """A column with a stable dtype: nullable Int64/boolean when the values allow, else object.

    Documented fields always get their dtype, even when every value is missing.
    """
    dtype = _KNOWN_DTYPES.get(name)
    if dtype is None:
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            dtype = "boolean"
        elif present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            dtype = "Int64"
        else:
            dtype = "object"
    series: pd.Series = pd.Series(values, dtype=dtype)
    return series


def text_field(row: Row, field: str) -> str:
    """A text field as :meth:`DataSource.from_dict` would give it."""
    raw = row.get(field)
    return raw if raw.__class__ is str else str(raw or "")


def _values(rows: Sequence[Row], field: str) -> list[Any]:
    return list(map(dict.get, rows, repeat(field)))  # type: ignore[arg-type]


def _texts(values: list[Any]) -> list[str]:
    """A text column, each value as :meth:`DataSource.from_dict` would give it."""
    if set(map(type, values)) <= {str}:
        return values
    return [value if value.__class__ is str else str(value or "") for value in values]


def _times(rows: Sequence[Row]) -> pd.Series:
    """The ``created_at`` column: the API's form parsed in one call, anything else one by one."""
    fits = _API_TIME.fullmatch
    texts = [
        value
        if value.__class__ is str and fits(value) and _NS_YEARS[0] < value[:4] < _NS_YEARS[1]
        else None
        for value in _values(rows, "created_at")
    ]
    times = _nanoseconds(
        pd.to_datetime(
            pd.Series(texts, dtype=object), format=_API_TIME_FORMAT, utc=True, errors="coerce"
        )
    )
    # Datetimes, other timestamp forms (offsets, a space, no fraction) and values the bulk
    # parse refused: exactly what DataSource.from_dict makes of them.
    slow = [int(i) for i in np.flatnonzero(times.isna().to_numpy())]
    moments = [_within_ns(parse_timestamp(rows[i].get("created_at"))) for i in slow]
    if any(moment is not None for moment in moments):
        times.iloc[slow] = _nanoseconds(pd.to_datetime(pd.Series(moments, dtype=object), utc=True))
    return times


def _nanoseconds(times: pd.Series) -> pd.Series:
    """``times`` as ``datetime64[ns, UTC]``; instants that type cannot hold (before 1677 or
    after 2262, which no real source has) become NaT instead of failing the whole frame."""
    low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    inside = times.isna() | ((times >= low) & (times <= high))
    result: pd.Series = times.where(inside).astype(_TIME_DTYPE)
    return result


# datetime64[ns] holds 1677-09-21 to 2262-04-11; pandas 2 raises (instead of giving NaT) for an
# instant outside it, so such values (no real source has one) are kept out of its parsers.
_NS_YEARS: Final = ("1677", "2262")  # exclusive: whole years inside the range
_NS_LOW: Final = datetime(1677, 9, 22, tzinfo=timezone.utc)
_NS_HIGH: Final = datetime(2262, 4, 11, tzinfo=timezone.utc)


def _within_ns(moment: datetime | None) -> datetime | None:
    return moment if moment is not None and _NS_LOW <= moment <= _NS_HIGH else None


def _known_block_columns() -> tuple[str, ...]:
    """Every documented block field, flattened, in the API's order."""
    flat: dict[str, Any] = {}
    flat.update(flatten_fields(ProcessingStatus().to_dict(), "processing_status"))
    churn = AutoChurnSubscriptionSetting().to_dict()
    flat.update(flatten_fields(churn, "auto_churn_subscription_setting"))
    invoices = InvoiceHandlingSetting(InvoiceHandlingRules(), InvoiceHandlingRules())
    flat.update(flatten_fields(invoices.to_dict(), "invoice_handling_setting"))
    return tuple(flat)


_KNOWN_BLOCK_COLUMNS = _known_block_columns()


def _known_dtype(column: str) -> str:
    if column.endswith(".enabled") or ".prevent_" in column:
        return "boolean"
    if column.startswith("processing_status.") or column.endswith(".interval"):
        return "Int64"
    return "object"


_KNOWN_DTYPES = {column: _known_dtype(column) for column in _KNOWN_BLOCK_COLUMNS}


def _block_columns(blocks: Iterable[str]) -> list[str]:
    """The documented columns of the named blocks; ``ValueError`` for an unknown name."""
    if isinstance(blocks, str):  # one name, not its letters
        blocks = (blocks,)
    columns: list[str] = []
    for block in blocks:
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; the blocks are {', '.join(BLOCKS)}")
        columns += [c for c in _KNOWN_BLOCK_COLUMNS if c.startswith(block + ".")]
    return columns


def _ordered(columns: dict[str, None]) -> list[str]:
    """Documented block fields in the API's order; an unknown field right after its known
    siblings (``invoice_handling_setting.manual.new`` after the last ``….manual.`` field)."""

    def rank(column: str) -> tuple[int, int, str]:
        if column in _KNOWN_BLOCK_COLUMNS:
            return (_KNOWN_BLOCK_COLUMNS.index(column), 0, "")
        parent = column
        while "." in parent:
            parent = parent.rsplit(".", 1)[0]
            siblings = [
                i for i, known in enumerate(_KNOWN_BLOCK_COLUMNS) if known.startswith(parent + ".")
            ]
            if siblings:
                return (max(siblings), 1, column)
        return (len(_KNOWN_BLOCK_COLUMNS), 1, column)

    return sorted(columns, key=rank)
