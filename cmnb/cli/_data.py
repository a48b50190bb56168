"""The data source commands: ``cmnb create``, ``list``, ``get`` and ``delete``.

Each ``run_*`` takes the :class:`~cmnb.cli._context.Context` and returns an exit code; errors
they do not handle themselves propagate to :func:`cmnb.cli.main`, which maps them to codes.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..api._bulk import BulkInterrupted, BulkOutcome, BulkResult
from ..api._models import BLOCKS, block_flag, flatten_fields
from ..api._validation import check_uuid, name_problem
from ..errors import InputError
from ..notebook._progress import TextProgress
from ._context import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    Context,
    UsageError,
    exit_code_for,
    explain,
    isatty,
    one_line,
)

if TYPE_CHECKING:
    from ..api._client import Client
    from ..api._models import DataSource

__all__ = ["read_names", "run_create", "run_delete", "run_get", "run_list"]

PROGRESS_MIN_NAMES = 5  # a bar for a handful of names only flickers
MAX_EXPLAINED = 10  # failures explained one by one on stderr; the rest are counted


def _blocks(ctx: Context) -> list[str]:
    """The optional blocks asked for with ``--with-*`` (in :data:`BLOCKS` order)."""
    return [block for block in BLOCKS if getattr(ctx.args, block_flag(block))]


def _flags(ctx: Context) -> dict[str, bool]:
    """``with_processing_status=...`` and the others, for ``list`` and ``retrieve``."""
    asked = _blocks(ctx)
    return {block_flag(block): block in asked for block in BLOCKS}


# -- create ---------------------------------------------------------------------------------


def read_names(path: str, column: str) -> list[str]:
    """The cells of ``column`` in the CSV file ``path`` (``-``: stdin), blank cells included.

    Raises :class:`InputError` when the file cannot be read or has no such column.
    """
    try:
        handle = sys.stdin if path == "-" else open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}.", field="from_csv") from None
    try:
        text = handle.read().removeprefix("\ufeff")  # stdin keeps a BOM the file opener drops
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text, column))
        columns = reader.fieldnames
        if not columns:
            raise InputError(f"{path} is empty (no header line).", field="from_csv")
        if column not in columns:
            known = ", ".join(repr(c) for c in columns)
            raise InputError(
                f"{path} has no column {column!r}; its columns are {known} (choose with --column).",
                field="column",
            )
        return [row.get(column) or "" for row in reader]
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text.", field="from_csv") from None
    except csv.Error as exc:
        raise InputError(f"{path} is not a readable CSV file: {exc}.", field="from_csv") from None
    finally:
        if handle is not sys.stdin:
            handle.close()


def _delimiter(text: str, column: str) -> str:
    """``,`` unless only another common separator makes ``column`` a header: spreadsheets in
    many locales export ``name;notes``, and tab-separated text is pasted from anywhere."""
    for delimiter in (",", ";", "\t", "|"):
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        if column in header:
            return delimiter
    return ","


def run_create(ctx: Context) -> int:
    """``cmnb create``: one line per name, its outcome first (``created``, ``existing``,
    ``repeated``, ``failed``, ``unknown`` or ``skipped``). Exit code: the first failure's, else
    :data:`EXIT_UNAVAILABLE` when some names are ``unknown`` (not failed: whether they exist
    could not be found out), else 0 (a ``repeated`` name is not a failure: its first one
    tells)."""
    args = ctx.args
    names: list[str] = list(args.names)
    if args.column is not None and args.from_csv is None:
        raise UsageError("--column needs --from-csv FILE.")
    if args.from_csv is not None:
        names += read_names(args.from_csv, args.column or "name")
    if not names:
        raise UsageError("Nothing to create: give one or more NAMEs or --from-csv FILE.")
    client = ctx.client()
    if args.dry_run:
        return _dry_run(ctx, client, names, ensure=args.ensure)
    many = len(names) > PROGRESS_MIN_NAMES and isatty(ctx.err)
    try:
        result = client.data_sources.create_many(
            names,
            mode="ensure" if args.ensure else "create",
            concurrency=args.concurrency,
            progress=TextProgress(ctx.err) if many else None,
        )
    except BulkInterrupted as stop:
        _report(ctx, stop.partial_result)
        ctx.say("interrupted: the names marked skipped were not sent.")
        return EXIT_INTERRUPTED
    _report(ctx, result)
    first_failure = next((o for o in result if o.outcome == "failed"), None)
    if first_failure is not None:
        return exit_code_for(first_failure.error) if first_failure.error else EXIT_FAILED
    return EXIT_UNAVAILABLE if result.unknown else EXIT_OK


def outcome_line(outcome: BulkOutcome) -> str:
    """``created<TAB>ds_…<TAB>Name`` (``-`` when there is no uuid; an invalid name quoted)."""
    uuid = outcome.source.uuid if outcome.source is not None else "-"
    name = repr(outcome.name) if name_problem(outcome.name) else outcome.name  # e.g. blank
    return f"{outcome.outcome}\t{uuid}\t{one_line(name)}"


def _report(ctx: Context, result: BulkResult) -> None:
    """Outcome lines to stdout; each different reason once to stderr (the first
    :data:`MAX_EXPLAINED`); the summary line."""
    told: set[str] = set()
    same_again = untold = 0
    for outcome in result:
        ctx.emit(outcome_line(outcome))
        if outcome.outcome != "failed":
            continue
        why = explain(outcome.error) if outcome.error else ""
        if why in told:  # a refused key or a failed lookup: every name, in the same words
            same_again += 1
        elif len(told) >= MAX_EXPLAINED:  # 200 taken names would be 200 lines: the stdout
            untold += 1  # lines name them all
        else:
            told.add(why)
            ctx.say(f"failed {one_line(repr(outcome.name))}: {why}")
    if same_again:
        ctx.say(f"{_more(same_again)} failed with the same error.")
    if untold:
        ctx.say(f"{_more(untold)} failed (stdout has a line for each).")
    _report_unknown(ctx, result)
    if len(result) > 1:
        ctx.say(result.summary())


def _report_unknown(ctx: Context, result: BulkResult) -> None:
    """One stderr line for the names whose outcome is unknown (their answers were lost and the
    lookup that would tell failed too): not failed, so they are said apart, with how to check."""
    unknown = result.unknown
    if not unknown:
        return
    names = ", ".join(one_line(repr(o.name)) for o in unknown[:3])
    more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
    which = "it" if len(unknown) == 1 else "they"
    ctx.say(
        f"unknown {names}{more}: the answer was lost and the lookup that would tell failed too, "
        f"so {which} may or may not exist (see cmnb list). Pass --ensure before trying again."
    )


def _more(count: int) -> str:
    return f"{count} more name" if count == 1 else f"{count} more names"


def _dry_run(ctx: Context, client: Client, names: list[str], *, ensure: bool) -> int:
    """Print the requests a real run would send, one JSON object a line; send nothing."""
    code, seen, requests = EXIT_OK, set(), []
    for index, name in enumerate(names):
        problem = name_problem(name)
        if problem:
            ctx.say(f"would not send [{index}] {one_line(repr(name))}: {problem}")
            code = EXIT_INPUT
            continue
        if name.strip() not in seen:
            seen.add(name.strip())
            requests.append(client.data_sources.create(name, dry_run=True))
    lines: list[Mapping[str, Any]] = []
    if ensure and requests:
        # --ensure first lists the account once; the GET carries no body and no Content-Type.
        headers = {k: v for k, v in requests[0].headers.items() if k != "Content-Type"}
        lines.append({"method": "GET", "url": requests[0].url, "headers": headers, "json": None})
    for request in requests:
        lines.append(
            {
                "method": request.method,
                "url": request.url,
                "headers": dict(request.headers),
                "json": dict(request.json) if request.json is not None else None,
            }
        )
    for line in lines:
        ctx.emit(json.dumps(line, ensure_ascii=False))
    skip_note = "; a real run creates only the names the account lacks" if ensure else ""
    shown = f"{len(lines)} request{'' if len(lines) == 1 else 's'} shown"
    ctx.say(f"dry run: nothing was sent ({shown}{skip_note}).")
    return code


# -- list / get / delete ----------------------------------------------------------------------


def run_list(ctx: Context) -> int:
    """``cmnb list``: a table (newest first), CSV or JSON of the account's data sources."""
    args = ctx.args
    sources = ctx.client().data_sources.list(name=args.name, system=args.system, **_flags(ctx))
    if args.format == "json":
        ctx.emit(json.dumps([s.to_dict() for s in sources], indent=2, ensure_ascii=False))
        return EXIT_OK
    from ..notebook import _render as render  # pandas is loaded only for the formats that need it
    from ..notebook._table import DataSourceTable, csv_frame

    # The block columns asked for are there even with no rows: the header does not depend on them.
    frame = DataSourceTable(sources).to_frame(blocks=_blocks(ctx))
    if args.format == "csv":
        ctx.out.write(csv_frame(frame).to_csv(index=False, lineterminator="\n"))
        return EXIT_OK
    for line in render.listing_lines(render.newest_first(frame)):  # the lines of repr(table)
        ctx.emit(line)
    filtered = args.name is not None or args.system is not None
    if not sources and filtered:
        ctx.say("no data source matches.")
    else:
        ctx.say(render.count_note(len(sources), len(sources)))
    if _blocks(ctx):
        ctx.say("the table shows no block fields: use --format csv or --format json for them.")
    return EXIT_OK


def run_get(ctx: Context) -> int:
    """``cmnb get UUID``: one ``field: value`` line per field (or ``--format json``)."""
    source = ctx.client().data_sources.retrieve(ctx.args.uuid, **_flags(ctx))
    data = source.to_dict()
    if ctx.args.format == "json":
        ctx.emit(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    flat = flatten_fields(data)
    for key, value in flat.items():
        shown = value if isinstance(value, str) else "" if value is None else json.dumps(value)
        ctx.emit(f"{key}: {one_line(shown)}")
    return EXIT_OK


def _confirm(ctx: Context, source: DataSource) -> bool:
    answer = ctx.ask(
        f"Delete data source {one_line(source.name)!r} ({source.uuid}) from {ctx.where()}? "
        "Everything imported into it goes too; this cannot be undone. [y/N] "
    )
    return answer.lower() in ("y", "yes")


def run_delete(ctx: Context) -> int:
    """``cmnb delete UUID``: asks first on a terminal; ``--yes`` is required otherwise."""
    uuid = check_uuid(ctx.args.uuid)
    if not ctx.args.yes and not isatty(sys.stdin):
        raise UsageError("Not deleted: stdin is not a terminal to ask on; pass --yes to delete.")
    client = ctx.client()
    if not ctx.args.yes:
        source = client.data_sources.retrieve(uuid)
        if not _confirm(ctx, source):
            ctx.say("not deleted.")
            return EXIT_FAILED
    client.data_sources.delete(uuid)
    ctx.emit(f"deleted\t{uuid}")
    return EXIT_OK
