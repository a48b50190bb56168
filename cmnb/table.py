"""`DataSourceTable`: the data sources of this session as a pandas DataFrame.

The table holds :class:`~cmnb.models.DataSource` objects keyed by uuid (adding a source that is
already held replaces it in place). Everything pandas-shaped is derived on demand, so the table
stays a plain collection that the form, the CLI and a notebook cell can all share.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from . import render
from .errors import ConfigError
from .models import (
    AutoChurnSubscriptionSetting,
    DataSource,
    InvoiceHandlingRules,
    InvoiceHandlingSetting,
    ProcessingStatus,
)

if TYPE_CHECKING:
    from .client import Client

__all__ = ["BASE_COLUMNS", "DataSourceTable"]

BASE_COLUMNS = ("uuid", "name", "system", "created_at", "status")
_BLOCKS = ("processing_status", "auto_churn_subscription_setting", "invoice_handling_setting")
_TIME_DTYPE: Final = "datetime64[ns, UTC]"


def _flatten(prefix: str, data: Mapping[str, Any], out: dict[str, Any]) -> None:
    for key, value in data.items():
        column = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            _flatten(column, value, out)
        else:
            out[column] = value


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
        self._sources: dict[str, DataSource] = {}
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
            return self._sources.pop(uuid)
        except KeyError:
            raise KeyError(f"no data source {uuid!r} in this table") from None

    def clear(self) -> None:
        """Forget every source (nothing is deleted on the server)."""
        self._sources.clear()

    def find_name(self, name: str) -> DataSource | None:
        """The held source named exactly ``name`` (surrounding whitespace ignored), or ``None``."""
        wanted = name.strip()
        for source in self._sources.values():
            if source.name == wanted:
                return source
        return None

    @property
    def sources(self) -> list[DataSource]:
        """The held sources, in the order they were first added."""
        return list(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def __iter__(self) -> Iterator[DataSource]:
        return iter(self.sources)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, DataSource):
            return item.uuid in self._sources
        return item in self._sources

    # -- pandas ---------------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """A new DataFrame of the held sources, in the order they were added (see class doc)."""
        rows: list[dict[str, Any]] = []
        extra_columns: dict[str, None] = {}
        for source in self._sources.values():
            row: dict[str, Any] = {column: getattr(source, column) for column in BASE_COLUMNS}
            for block_name in _BLOCKS:
                block = getattr(source, block_name)
                if block is not None:
                    flat: dict[str, Any] = {}
                    _flatten(block_name, block.to_dict(), flat)
                    row.update(flat)
                    extra_columns.update(dict.fromkeys(flat))
            rows.append(row)
        columns = list(BASE_COLUMNS) + _ordered(extra_columns)
        data: dict[str, pd.Series] = {}
        for column in columns:
            values = [row.get(column) for row in rows]
            if column == "created_at":
                times = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
                data[column] = times.astype(_TIME_DTYPE)
            elif column in BASE_COLUMNS:
                data[column] = pd.Series(values, dtype=str)
            else:
                data[column] = _column(column, values)
        frame: pd.DataFrame = pd.DataFrame(data, columns=columns)
        return frame

    @property
    def df(self) -> pd.DataFrame:
        """Same as :meth:`to_frame` (a fresh DataFrame each time)."""
        return self.to_frame()

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the frame to a CSV file (no index).

        ``created_at`` is ISO-8601 UTC with microseconds: ``2024-03-01T09:30:00.918000Z``.
        """
        self.to_frame().to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")

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
        return cls(client.data_sources.list(**list_filters))

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
            return any(getattr(source, block) is not None for source in self._sources.values())

        listed = client.data_sources.list(
            with_processing_status=shown("processing_status"),
            with_auto_churn_subscription_setting=shown("auto_churn_subscription_setting"),
            with_invoice_handling_setting=shown("invoice_handling_setting"),
        )
        current = {source.uuid: source for source in listed}
        dropped = [source for uuid, source in self._sources.items() if uuid not in current]
        self._sources = {uuid: current[uuid] for uuid in self._sources if uuid in current}
        return dropped


def _known_block_columns() -> tuple[str, ...]:
    """Every documented block field, flattened, in the API's order."""
    flat: dict[str, Any] = {}
    _flatten("processing_status", ProcessingStatus().to_dict(), flat)
    _flatten("auto_churn_subscription_setting", AutoChurnSubscriptionSetting().to_dict(), flat)
    invoices = InvoiceHandlingSetting(InvoiceHandlingRules(), InvoiceHandlingRules())
    _flatten("invoice_handling_setting", invoices.to_dict(), flat)
    return tuple(flat)


_KNOWN_BLOCK_COLUMNS = _known_block_columns()


def _known_dtype(column: str) -> str:
    if column.endswith(".enabled") or ".prevent_" in column:
        return "boolean"
    if column.startswith("processing_status.") or column.endswith(".interval"):
        return "Int64"
    return "object"


_KNOWN_DTYPES = {column: _known_dtype(column) for column in _KNOWN_BLOCK_COLUMNS}


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
