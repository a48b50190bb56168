"""Reading a desired state: the names an account should hold, from any form a user keeps them in.

:func:`desired_names` accepts an iterable of names or of :class:`DataSource` objects, a pandas
DataFrame (its ``name`` column) or Series, a ``DataSourceTable``, or the path of a ``.csv`` /
``.tsv`` file with a ``name`` column or a ``.txt`` file with one name per line (empty lines are
layout and skipped, as pandas skips them). It checks every row the way ``create`` checks a name
(:func:`~cmnb.api._validation.name_problem`), refuses a name given twice, and reports **every**
bad row in one :class:`InputError` (its ``problems``), before anything is sent.

Client layer: no pandas here. Frames are recognised by their shape (``.columns``, ``.df``),
files are read with the standard library's :mod:`csv`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

from ..errors import InputError
from ._models import DataSource
from ._validation import name_problem

__all__ = ["Desired", "Rows", "desired_names", "rows_from_text", "text_kind"]

#: What ``plan(desired)`` accepts (see the module docstring); frames are matched by shape.
#: :class:`Rows` too, as :func:`rows_from_text` makes them (a command line reading stdin).
Desired: TypeAlias = "str | os.PathLike[str] | Rows | Iterable[Any]"

FILE_KINDS = {".csv": "csv", ".tsv": "tsv", ".txt": "txt"}
_SHOWN_PROBLEMS = 30  # an error message lists this many rows; ``.problems`` has them all
_DELIMITERS = (",", ";", "\t", "|")  # spreadsheets in many locales export ``name;notes``


class Rows:
    """Rows of a desired state: ``values[i]`` was given at ``wheres[i]`` (``"line 3"``,
    ``"row 7"``, ``"[2]"``: where the user finds it); ``origin`` names the whole
    (``"names.csv"``, ``"the DataFrame"``). Two lists rather than an object per row: planning
    10,000 names should cost about one list call."""

    def __init__(self, wheres: list[str], values: list[Any], origin: str) -> None:
        self.wheres, self.values, self.origin = wheres, values, origin

    def __len__(self) -> int:
        return len(self.values)


def desired_names(desired: Desired) -> Rows:
    """Every desired name, stripped, in order, with where each was given.

    Raises :class:`InputError` — nothing is sent — for a form it cannot read, a file it
    cannot open or without a ``name`` column, and for bad rows: all of them at once, each as a
    ``(where, reason)`` pair in ``error.problems``.
    """
    rows = _rows_of(desired)
    if set(map(type, rows.values)) <= {str}:  # the usual case, checked in a few C loops
        stripped = [value.strip() for value in rows.values]
        if all(stripped) and all(map(str.isprintable, stripped)) and _unique(stripped):
            return Rows(rows.wheres, stripped, rows.origin)
    # Some row is bad: find and word every problem.
    names: list[str] = []
    problems: list[tuple[str, str]] = []
    first_seen: dict[str, str] = {}
    for where, value in zip(rows.wheres, rows.values, strict=True):
        if isinstance(value, DataSource):
            value = value.name
        problem = _problem(value)
        if problem is not None:
            shown = f"{_shown(value)}: " if isinstance(value, str) else ""
            problems.append((where, shown + problem))
            continue
        name = value.strip()
        if name in first_seen:
            problems.append((where, f"{name!r} is given twice (first at {first_seen[name]})."))
            continue
        first_seen[name] = where
        names.append(name)
    if problems:
        raise _refused(problems, len(rows), rows.origin)
    return Rows(list(first_seen.values()), names, rows.origin)


def rows_from_text(text: str, kind: str, *, origin: str = "stdin") -> Rows:
    """The rows of ``text`` read as a ``"csv"``, ``"tsv"`` or ``"txt"`` file would be.

    For a command line reading names from stdin: ``plan(rows_from_text(sys.stdin.read(),
    "txt"))`` reports bad rows by line number, like a file. Raises :class:`InputError` for
    another ``kind`` and when a csv/tsv text is empty or has no ``name`` column.
    """
    text = text.removeprefix("\ufeff")
    if kind == "txt":
        numbered = enumerate(text.split("\n"), 1)
        lines = [(f"line {i}", line.removesuffix("\r")) for i, line in numbered]
        kept = [(where, line) for where, line in lines if line]
        return Rows([where for where, _ in kept], [line for _, line in kept], origin)
    if kind not in ("csv", "tsv"):
        raise InputError(f"kind must be 'csv', 'tsv' or 'txt', not {kind!r}.", field="desired")
    return _csv_rows(text, kind, origin)


def text_kind(text: str) -> str:
    """``"csv"`` when the first line is a header with a ``name`` cell (separated by ``,``,
    ``;``, a tab or ``|``), else ``"txt"`` (one name per line): how a command line reads names
    piped to it, with no file extension to go by. A list whose first name is ``name`` reads as
    a one-column CSV file, which is the same list without that line."""
    return "csv" if _header_delimiter(text.removeprefix("\ufeff")) is not None else "txt"


def _rows_of(desired: Any) -> Rows:
    if isinstance(desired, Rows):
        return desired
    if isinstance(desired, (str, os.PathLike)):
        return _file_rows(Path(desired))
    if isinstance(desired, (bytes, bytearray, Mapping)):
        raise InputError(
            f"desired must be names (a list, a Series, a DataFrame's name column) or the path "
            f"of a .csv, .tsv or .txt file, not {type(desired).__name__}.",
            field="desired",
        )
    if hasattr(desired, "df") and not hasattr(desired, "columns"):  # a DataSourceTable
        return _frame_rows(desired.df, "the DataSourceTable")
    if hasattr(desired, "columns"):  # a pandas DataFrame
        return _frame_rows(desired, "the DataFrame")
    if hasattr(desired, "index") and hasattr(desired, "to_list"):  # a pandas Series
        return _labelled(desired, "the Series")
    try:
        values = list(desired)
    except TypeError:
        raise InputError(
            f"desired must be names or a file path, not {type(desired).__name__}.",
            field="desired",
        ) from None
    return Rows([f"[{i}]" for i in range(len(values))], values, "desired")


def _frame_rows(frame: Any, origin: str) -> Rows:
    if "name" not in frame.columns:
        known = ", ".join(repr(str(c)) for c in list(frame.columns)[:20]) or "none"
        raise InputError(
            f"{origin} has no 'name' column; its columns are {known}.", field="desired"
        )
    column = frame["name"]
    if hasattr(column, "columns"):
        raise InputError(f"{origin} has more than one 'name' column.", field="desired")
    return _labelled(column, origin)


def _labelled(series: Any, origin: str) -> Rows:
    """A Series' values, each at its index label (what the user sees printing the frame)."""
    return Rows([f"row {label}" for label in series.index.to_list()], series.to_list(), origin)


def _file_rows(path: Path) -> Rows:
    kind = FILE_KINDS.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"{str(path)[:80]!r} is not a .csv, .tsv or .txt file. To plan one name, pass a "
            "list: plan([name]).",
            field="desired",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text.", field="desired") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}.", field="desired") from None
    return rows_from_text(text, kind, origin=path.name)


def _csv_rows(text: str, kind: str, origin: str) -> Rows:
    delimiter = "\t" if kind == "tsv" else _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    wheres: list[str] = []
    values: list[str] = []
    try:
        header = [cell.strip() for cell in next(reader, [])]
        if not header:
            raise InputError(f"{origin} is empty (no header line).", field="desired")
        if "name" not in header:
            known = ", ".join(repr(cell) for cell in header[:20])
            raise InputError(
                f"{origin} has no 'name' column; its columns are {known}.", field="desired"
            )
        column, last_line = header.index("name"), reader.line_num
        for cells in reader:
            start, last_line = last_line + 1, reader.line_num  # a quoted cell may span lines
            if cells:  # an empty line is layout (csv gives it as []), as pandas skips it
                wheres.append(f"line {start}")
                values.append(cells[column] if column < len(cells) else "")
    except csv.Error as exc:
        raise InputError(f"{origin} is not a readable CSV file: {exc}.", field="desired") from None
    return Rows(wheres, values, origin)


def _delimiter(text: str) -> str:
    """``,`` unless only another common separator makes ``name`` a header cell."""
    return _header_delimiter(text) or ","


def _header_delimiter(text: str) -> str | None:
    """The first separator that makes ``name`` a cell of the first line, or ``None``."""
    first_line = text.split("\n", 1)[0]
    for delimiter in _DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        if "name" in [cell.strip() for cell in header]:
            return delimiter
    return None


def _unique(names: list[str]) -> bool:
    return len(set(names)) == len(names)


def _problem(value: Any) -> str | None:
    if value is None:
        return "The name is missing (None)."
    if isinstance(value, float) and value != value:  # NaN: how pandas reads an empty cell
        return "The name is missing (an empty cell)."
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' other missing values, by shape
        return "The name is missing (an empty cell)."
    return name_problem(value)


def _shown(value: str) -> str:
    """The refused text as a short, safe snippet (repr escapes control characters)."""
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "…" + text[-1]


def _refused(problems: list[tuple[str, str]], total: int, origin: str) -> InputError:
    count = len(problems)
    noun = "row" if total == 1 else "rows"
    lines = [f"{origin}: {count} of {total} {noun} refused; nothing was sent:"]
    lines += [f"  {where}: {reason}" for where, reason in problems[:_SHOWN_PROBLEMS]]
    if count > _SHOWN_PROBLEMS:
        lines.append(f"  … and {count - _SHOWN_PROBLEMS} more (every one is in .problems)")
    return InputError("\n".join(lines), field="desired", problems=problems)
