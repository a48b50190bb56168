"""`DataSourceTable`: the data sources of this session as a pandas DataFrame.

The table holds :class:`cmnb.DataSource` objects keyed by uuid (adding a source that is
already held replaces it in place). Everything pandas-shaped is derived on demand, so the table
stays a plain collection that the form, the CLI and a notebook cell can all share.

:meth:`DataSourceTable.from_api` keeps the API's JSON objects as they came and parses one into a
:class:`DataSource` only when it is asked for; the frame is built from them with one vectorised
timestamp parse, so listing 10,000 sources costs about what ``pd.DataFrame(json)`` costs.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from itertools import repeat
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from ..api._models import (
    AutoChurnSubscriptionSetting,
    DataSource,
    InvoiceHandlingRules,
    InvoiceHandlingSetting,
    ProcessingStatus,
    flatten_fields,
    parse_timestamp,
)
from ..errors import ConfigError
from . import _render as render

if TYPE_CHECKING:
    from ..api._client import Client

__all__ = ["BASE_COLUMNS", "DataSourceTable", "csv_frame"]

BASE_COLUMNS = ("uuid", "name", "system", "created_at", "status")
_BLOCKS = ("processing_status", "auto_churn_subscription_setting", "invoice_handling_setting")
_TIME_DTYPE: Final = "datetime64[ns, UTC]"
# The API's own timestamp form (``2023-01-10T15:34:05.918Z``), parsed in bulk; any other form
# goes through models.parse_timestamp, one value at a time, so both paths agree exactly.
_API_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_API_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%f%z"  # pandas' fast ISO path; %z reads the Z

#: A held source: parsed, or the API's JSON object for it, parsed on first use.
_Entry = DataSource | dict[str, Any]


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


class DataSourceTable:
    """The data sources created (or added) in this session, viewable as a DataFrame.

    ``table.df`` / ``table.to_frame()`` give columns ``uuid, name, system, created_at, status``
    and then, only when some source carries an optional block, its fields flattened with dots
    (``processing_status.processed``, ``invoice_handling_setting.manual.…``). In a notebook the
    table shows as HTML, newest first; ``repr()`` is a plain-text listing.
    """

    def __init__(self, sources: Iterable[DataSource] = (), *, max_rows: int = 20) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = max_rows
        self._sources: dict[str, _Entry] = {}
        self.extend(sources)

    # -- collection -----------------------------------------------------------------------------

    def add(self, source: DataSource) -> None:
        """Hold ``source``, replacing a held one with the same uuid.

        Raises ``TypeError`` if ``source`` is not a :class:`DataSource`.
        """
        if not isinstance(source, DataSource):
            raise TypeError(f"expected a DataSource, got {type(source).__name__}")
        self._sources[source.uuid] = source

    def extend(self, sources: Iterable[DataSource]) -> None:
        """:meth:`add` each of ``sources`` in order."""
        for source in sources:
            self.add(source)

    def remove(self, uuid: str) -> DataSource:
        """Stop holding the source with this uuid and return it. Raises ``KeyError`` if absent.

        This only forgets the source locally; deleting it on the server is
        ``client.data_sources.delete(uuid)``.
        """
        try:
            return _parsed(self._sources.pop(uuid))
        except KeyError:
            raise KeyError(f"no data source {uuid!r} in this table") from None

    def clear(self) -> None:
        """Forget every source (nothing is deleted on the server)."""
        self._sources.clear()

    def find_name(self, name: str) -> DataSource | None:
        """The held source named exactly ``name`` (surrounding whitespace ignored), or ``None``."""
        wanted = name.strip()
        for uuid, entry in self._sources.items():
            if _text(entry, "name") == wanted:
                return self._parse(uuid)
        return None

    @property
    def sources(self) -> list[DataSource]:
        """The held sources, in the order they were first added."""
        return [self._parse(uuid) for uuid in list(self._sources)]

    def _parse(self, uuid: str) -> DataSource:
        source = _parsed(self._sources[uuid])
        self._sources[uuid] = source
        return source

    def _extend_json(self, items: Iterable[dict[str, Any]]) -> None:
        # An object carrying an optional block is parsed now: the frame flattens blocks from
        # the parsed form. Plain ones (the usual 5 fields) stay JSON until someone asks.
        held = self._sources
        first, second, third = _BLOCKS
        for item in items:
            if first in item or second in item or third in item:
                source = DataSource.from_dict(item)
                held[source.uuid] = source
            else:
                held[str(item.get("uuid") or "")] = item

    def __len__(self) -> int:
        return len(self._sources)

    def __iter__(self) -> Iterator[DataSource]:
        return iter(self.sources)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, DataSource):
            return item.uuid in self._sources
        return item in self._sources

    # -- pandas ---------------------------------------------------------------------------------

    def to_frame(self, *, blocks: Iterable[str] = ()) -> pd.DataFrame:
        """A new DataFrame of the held sources, in the order they were added (see class doc).

        ``created_at`` is ``datetime64[ns, UTC]``: a missing or unreadable timestamp, or one
        outside 1677-2262, is ``NaT``. ``blocks`` names optional blocks
        (``"processing_status"``, ``"auto_churn_subscription_setting"``,
        ``"invoice_handling_setting"``) whose documented columns are included even when no
        held source carries them, so a listing asked for with a block has the same columns
        with or without rows. Raises ``ValueError`` for another block name.
        """
        wanted = _block_columns(blocks)
        entries = list(self._sources.values())
        all_json = set(map(type, entries)) <= {dict}  # straight from from_api: the fast case
        block_rows: dict[int, dict[str, Any]] = {}  # only rows of sources that carry a block
        extra_columns: dict[str, None] = dict.fromkeys(wanted)
        for index, entry in enumerate(() if all_json else entries):
            if isinstance(entry, DataSource):
                row: dict[str, Any] = {}
                for block_name in _BLOCKS:
                    block = getattr(entry, block_name)
                    if block is not None:
                        row.update(flatten_fields(block.to_dict(), block_name))
                if row:
                    block_rows[index] = row
                    extra_columns.update(dict.fromkeys(row))
        columns = list(BASE_COLUMNS) + _ordered(extra_columns)
        data: dict[str, pd.Series] = {"created_at": _times(entries, all_json)}
        for column in ("uuid", "name", "system", "status"):
            data[column] = pd.Series(_texts(_values(entries, column, all_json)), dtype=str)
        for column in columns[len(BASE_COLUMNS) :]:
            values = [block_rows.get(index, {}).get(column) for index in range(len(entries))]
            data[column] = _column(column, values)
        frame: pd.DataFrame = pd.DataFrame(data, columns=columns)
        return frame

    @property
    def df(self) -> pd.DataFrame:
        """Same as :meth:`to_frame` (a fresh DataFrame each time)."""
        return self.to_frame()

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the frame to a CSV file (no index).

        ``created_at`` is written as the API writes it, ISO-8601 UTC with milliseconds:
        ``2024-03-01T09:30:00.918Z`` (empty when unknown); ``pd.read_csv(path,
        parse_dates=["created_at"])`` reads it back as UTC timestamps.
        """
        csv_frame(self.to_frame()).to_csv(path, index=False)

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write the frame to a Parquet file. Raises :class:`ConfigError` if pyarrow is missing."""
        if importlib.util.find_spec("pyarrow") is None:
            raise ConfigError(
                "to_parquet needs pyarrow, which is not installed: "
                "pip install 'cmnb[parquet]' (or use to_csv)"
            )
        self.to_frame().to_parquet(path, index=False, engine="pyarrow")

    # -- display --------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        return render.sources_html(self.to_frame(), max_rows=self.max_rows)

    def __repr__(self) -> str:
        return render.sources_text(self.to_frame(), max_rows=self.max_rows)

    # -- server ---------------------------------------------------------------------------------

    @classmethod
    def from_api(cls, client: Client, **list_filters: Any) -> DataSourceTable:
        """A table of every source ``client.data_sources.list(**list_filters)`` returns.

        Use it after a kernel restart: nothing created earlier is lost. Raises what ``list``
        raises (:class:`~cmnb.errors.CmnbError` subclasses).
        """
        from ..api._client import DataSources

        if not isinstance(client.data_sources, DataSources):
            # Anything that only offers list() (a stand-in in tests, a wrapper) still works.
            return cls(client.data_sources.list(**list_filters))
        table = cls()
        table._extend_json(client.data_sources._list_json(**list_filters))
        return table

    def refresh(self, client: Client) -> list[DataSource]:
        """Update every held source from the server; drop (and return) those deleted elsewhere.

        One ``list`` call (none for an empty table), asking for the optional blocks the held
        sources already carry.
        Sources on the server that this table does not hold are not added. Raises what ``list``
        raises; the table is unchanged then.
        """
        if not self._sources:
            return []

        def shown(block: str) -> bool:
            # JSON entries never carry a block (_add_json parses those that do).
            return any(
                isinstance(entry, DataSource) and getattr(entry, block) is not None
                for entry in self._sources.values()
            )

        listed = client.data_sources.list(
            with_processing_status=shown("processing_status"),
            with_auto_churn_subscription_setting=shown("auto_churn_subscription_setting"),
            with_invoice_handling_setting=shown("invoice_handling_setting"),
        )
        current = {source.uuid: source for source in listed}
        dropped = [_parsed(entry) for uuid, entry in self._sources.items() if uuid not in current]
        self._sources = {uuid: current[uuid] for uuid in self._sources if uuid in current}
        return dropped


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


def _parsed(entry: _Entry) -> DataSource:
    return entry if isinstance(entry, DataSource) else DataSource.from_dict(entry)


def _text(entry: _Entry, field: str) -> str:
    """A text field as :meth:`DataSource.from_dict` would give it, from either kind of entry."""
    if isinstance(entry, DataSource):
        value: str = getattr(entry, field)
        return value
    raw = entry.get(field)
    return raw if raw.__class__ is str else str(raw or "")


def _values(entries: list[_Entry], field: str, all_json: bool) -> list[Any]:
    """One field of every entry (``all_json``: every entry is a JSON dict, the fast case)."""
    if all_json:
        return list(map(dict.get, entries, repeat(field)))  # type: ignore[arg-type]
    return [
        entry.get(field) if isinstance(entry, dict) else getattr(entry, field) for entry in entries
    ]


def _texts(values: list[Any]) -> list[str]:
    """A text column, each value as :meth:`DataSource.from_dict` would give it."""
    if set(map(type, values)) <= {str}:
        return values
    return [value if value.__class__ is str else str(value or "") for value in values]


def _times(entries: list[_Entry], all_json: bool) -> pd.Series:
    """The ``created_at`` column: the API's form parsed in one call, anything else one by one."""
    fits = _API_TIME.fullmatch
    texts = [
        value
        if value.__class__ is str and fits(value) and _NS_YEARS[0] < value[:4] < _NS_YEARS[1]
        else None
        for value in _values(entries, "created_at", all_json)
    ]
    times = _nanoseconds(
        pd.to_datetime(
            pd.Series(texts, dtype=object), format=_API_TIME_FORMAT, utc=True, errors="coerce"
        )
    )
    # Parsed entries, other timestamp forms (offsets, a space, no fraction) and values the
    # bulk parse refused: exactly what DataSource.from_dict makes of them.
    slow = [int(i) for i in np.flatnonzero(times.isna().to_numpy())]
    moments = [_within_ns(_parsed_time(entries[i])) for i in slow]
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


def _parsed_time(entry: _Entry) -> datetime | None:
    if isinstance(entry, DataSource):
        return entry.created_at
    return parse_timestamp(entry.get("created_at"))


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
        if block not in _BLOCKS:
            raise ValueError(f"unknown block {block!r}; the blocks are {', '.join(_BLOCKS)}")
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
