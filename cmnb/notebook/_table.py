"""`DataSourceTable`: the data sources of this session as a pandas DataFrame.

The table holds one JSON object per data source, keyed by uuid (adding a source that is already
held replaces it in place): the API's own objects when :meth:`DataSourceTable.from_api` filled
it, a :class:`DataSource`'s ``to_dict()`` when one was added. A :class:`DataSource` is parsed
from its object only when asked for, and the frame is built from all the objects at once
(:mod:`cmnb.notebook._frame`), so listing 10,000 sources costs about what ``pd.DataFrame(json)``
costs. Everything pandas-shaped is derived on demand, so the table stays a plain collection
that the form, the CLI and a notebook cell can all share.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..api._models import BLOCKS, DataSource, block_flag
from ..errors import ConfigError
from . import _render as render
from ._frame import BASE_COLUMNS, Row, csv_frame, sources_frame, text_field

if TYPE_CHECKING:
    from ..api._client import Client

__all__ = ["BASE_COLUMNS", "DataSourceTable", "csv_frame"]


class DataSourceTable:
    """The data sources created (or added) in this session, viewable as a DataFrame.

    ``table.df`` / ``table.to_frame()`` give columns ``name, system, created_at, status`` and
    ``uuid`` last; only when some source carries an optional block, its fields, flattened with
    dots (``processing_status.processed``, ``invoice_handling_setting.manual.…``), come before
    ``uuid``. In a notebook the table shows as HTML, newest first, each block's fields grouped
    under its name; ``repr()`` is a plain-text listing.
    """

    def __init__(self, sources: Iterable[DataSource] = (), *, max_rows: int = 20) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = max_rows
        self._rows: dict[str, Row] = {}
        self.extend(sources)

    # -- collection -----------------------------------------------------------------------------

    def add(self, source: DataSource) -> None:
        """Hold ``source``, replacing a held one with the same uuid.

        Raises ``TypeError`` if ``source`` is not a :class:`DataSource`.
        """
        if not isinstance(source, DataSource):
            raise TypeError(f"expected a DataSource, got {type(source).__name__}")
        self._rows[source.uuid] = _row(source)

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
            return DataSource.from_dict(self._rows.pop(uuid))
        except KeyError:
            raise KeyError(f"no data source {uuid!r} in this table") from None

    def clear(self) -> None:
        """Forget every source (nothing is deleted on the server)."""
        self._rows.clear()

    def find_name(self, name: str) -> DataSource | None:
        """The held source named exactly ``name`` (surrounding whitespace ignored), or ``None``."""
        wanted = name.strip()
        for row in self._rows.values():
            if text_field(row, "name") == wanted:
                return DataSource.from_dict(row)
        return None

    @property
    def sources(self) -> list[DataSource]:
        """The held sources, in the order they were first added."""
        return [DataSource.from_dict(row) for row in self._rows.values()]

    def _extend_json(self, items: Iterable[dict[str, Any]]) -> None:
        # An object carrying an optional block is normalised through DataSource (the frame
        # flattens its blocks as to_dict() writes them); a plain one is held as it came.
        rows = self._rows
        first, second, third = BLOCKS  # plain lookups: this runs for every listed source
        for item in items:
            if first in item or second in item or third in item:
                source = DataSource.from_dict(item)
                rows[source.uuid] = _row(source)
            else:
                rows[str(item.get("uuid") or "")] = item

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[DataSource]:
        return iter(self.sources)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, DataSource):
            return item.uuid in self._rows
        return item in self._rows

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
        return sources_frame(list(self._rows.values()), blocks)

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
        from ..api._data_sources import DataSources

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
        if not self._rows:
            return []
        # Rows carry a block only when it was sent (DataSource.to_dict() leaves out None).
        flags: dict[str, Any] = {
            block_flag(block): any(block in row for row in self._rows.values()) for block in BLOCKS
        }
        listed = client.data_sources.list(**flags)
        current = {source.uuid: source for source in listed}
        dropped = [
            DataSource.from_dict(row) for uuid, row in self._rows.items() if uuid not in current
        ]
        self._rows = {uuid: _row(current[uuid]) for uuid in self._rows if uuid in current}
        return dropped


_BASE_FIELDS = attrgetter(*BASE_COLUMNS)
_BLOCK_FIELDS = attrgetter(*BLOCKS)


def _row(source: DataSource) -> Row:
    """The row held for ``source``: its JSON object as :meth:`DataSource.to_dict` writes it,
    but with ``created_at`` kept as the datetime (the API's text has milliseconds; a source
    made in Python may carry microseconds), and built directly: five times faster."""
    row: Row = dict(zip(BASE_COLUMNS, _BASE_FIELDS(source), strict=True))
    if source.extra:  # keys the server sent that the client does not know (kept by to_dict)
        row.update(source.extra)
    for block, value in zip(BLOCKS, _BLOCK_FIELDS(source), strict=True):
        if value is not None:
            row[block] = value.to_dict()
    return row
