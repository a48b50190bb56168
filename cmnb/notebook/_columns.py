"""The column order of every table cmnb shows, written once: the name first, the uuid last.

An analyst reads a row by its name; the 40-character uuid is for joins, scripts and the API,
so it closes the row instead of pushing everything else to the right. The same order holds
for a table's DataFrame, its HTML, its text listing and its CSV (which is the DataFrame
written out), so what is shown and what is exported never disagree. Standard library only:
the CLI's text tables and the reprs read it without pandas.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "APPLY_COLUMNS",
    "OUTCOME_COLUMNS",
    "PLAN_COLUMNS",
    "SOURCE_COLUMNS",
    "source_columns",
]

#: ``DataSourceTable.df``: a data source's own fields.
SOURCE_COLUMNS = ("name", "system", "created_at", "status", "uuid")
#: ``BulkResult.to_frame()``: one row per input name.
OUTCOME_COLUMNS = ("name", "outcome", "created_at", "error", "note", "uuid")
#: ``Plan.to_frame()``: one row per step.
PLAN_COLUMNS = ("name", "action", "system", "created_at", "uuid")
#: ``ApplyResult.to_frame()``: one row per step.
APPLY_COLUMNS = ("name", "action", "outcome", "error", "uuid")


def source_columns(block_columns: Iterable[str] = ()) -> list[str]:
    """:data:`SOURCE_COLUMNS` with the flattened block fields (``processing_status.processed``)
    after ``status`` and before ``uuid``, which stays last."""
    *fields, uuid = SOURCE_COLUMNS
    return [*fields, *block_columns, uuid]
