"""The plan/apply commands: ``cmnb plan FILE`` shows what would change, ``cmnb apply FILE``
shows it, asks, and makes the account hold exactly FILE's names.

FILE is read by :mod:`cmnb.api._desired` (a ``.csv``/``.tsv`` file with a ``name`` column, a
``.txt`` file with one name per line, or ``-``: stdin, sniffed), and every bad row is refused
before anything is sent. The plan and the result are drawn by
:mod:`cmnb.notebook._plan_view`. ``apply`` never acts without a yes: on a terminal it asks
(``[y/N]``, or the number of deletes when the plan deletes), elsewhere ``--yes`` is required.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..api._apply_result import ApplyInterrupted, ApplyResult
from ..api._desired import FILE_KINDS, desired_names, rows_from_text, text_kind
from ..errors import InputError
from ..notebook._plan_view import plan_text, result_text
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
from ._data import MAX_EXPLAINED, PROGRESS_MIN_NAMES

if TYPE_CHECKING:
    from ..api._plan import Plan

__all__ = ["run_apply", "run_plan"]

STDIN = "-"


def run_plan(ctx: Context) -> int:
    """``cmnb plan FILE``: the plan on stdout as a text table, CSV or JSON; writes nothing."""
    try:
        plan = _plan(ctx)
    except InputError as error:
        return _refused(ctx, error)
    if ctx.args.format == "json":
        ctx.emit(json.dumps([step.to_dict() for step in plan], indent=2, ensure_ascii=False))
    elif ctx.args.format == "csv":
        from ..notebook._frame import csv_frame  # pandas only for the format that needs it

        ctx.out.write(csv_frame(plan.to_frame()).to_csv(index=False, lineterminator="\n"))
    else:
        ctx.emit(plan_text(plan))
    return EXIT_OK


def run_apply(ctx: Context) -> int:
    """``cmnb apply FILE``: the plan's changes on stderr, a confirmation, then the result on
    stdout. Exit code: the first failure's, else :data:`EXIT_UNAVAILABLE` when some step is
    ``unknown``, else 0 (also when there is nothing to change); 130 after Ctrl-C."""
    try:
        plan = _plan(ctx)
    except InputError as error:
        return _refused(ctx, error)
    if plan.changes == 0:
        ctx.say(f"nothing to change: {plan.summary()}.")
        return EXIT_OK
    counts = plan.counts
    if counts["create"] + counts["keep"] == 0 and counts["delete"]:
        # An empty FILE (a pipe whose producer failed?) would delete every Custom source.
        raise InputError(
            f"{plan.origin} holds no names; with --prune that would delete every Custom "
            f"source ({counts['delete']}). Not applied.",
            field="desired",
        )
    # What the question is about: the changes, deletes first (cmnb plan lists every step).
    ctx.err.write(plan_text(plan, max_rows=plan.changes) + "\n")
    if not ctx.args.yes and not _confirmed(ctx, plan):
        return EXIT_FAILED
    return _apply(ctx, plan)


def _plan(ctx: Context) -> Plan:
    """The plan for FILE. Its names are read and checked before connecting: for bad input
    nothing is sent (and no sandbox is started). Raises :class:`InputError` for bad input."""
    file: str = ctx.args.file
    if file == STDIN:
        text = sys.stdin.read()
        rows = desired_names(rows_from_text(text, text_kind(text)))
    elif Path(file).suffix.lower() in FILE_KINDS:
        rows = desired_names(file)
    else:
        raise InputError(
            f"{file[:80]!r} is not a .csv, .tsv or .txt file (or - for stdin).", field="desired"
        )
    return ctx.client().data_sources.plan(rows, prune=ctx.args.prune)


def _refused(ctx: Context, error: InputError) -> int:
    """Bad rows on stderr, one line each (every one: the user fixes them all at once); an
    input error without rows is re-raised for :func:`cmnb.cli.main` to say."""
    if not error.problems:
        raise error
    ctx.say(str(error).partition("\n")[0])  # "names.csv: 2 of 9 rows refused; nothing was sent:"
    for where, reason in error.problems:
        ctx.say(f"  {where}: {reason}")
    return EXIT_INPUT


def _confirmed(ctx: Context, plan: Plan) -> bool:
    """Ask on the terminal: ``[y/N]``, or the number of deletes when the plan deletes.
    Raises :class:`UsageError` when there is no terminal to ask on."""
    if ctx.args.file == STDIN or not isatty(sys.stdin):
        why = "stdin holds the names" if ctx.args.file == STDIN else "stdin is not a terminal"
        raise UsageError(f"Not applied: {why}, so there is no one to ask; pass --yes to apply.")
    deletes = plan.counts["delete"]
    if not deletes:
        answer = ctx.ask(f"Apply this plan ({plan.summary()}) to {ctx.where()}? [y/N] ")
        if answer.lower() in ("y", "yes"):
            return True
        ctx.say("not applied.")
        return False
    noun = "data source" if deletes == 1 else "data sources"
    answer = ctx.ask(
        f"This deletes {deletes} {noun} from {ctx.where()}, and everything imported into "
        f"{'it' if deletes == 1 else 'them'}; this cannot be undone. To apply, type the number "
        "of deletes: "
    )
    if answer == str(deletes):
        return True
    ctx.say(f"not applied: you typed {one_line(repr(answer))}; the plan deletes {deletes}.")
    return False


def _apply(ctx: Context, plan: Plan) -> int:
    """Apply (confirmed), with the bulk progress bar on a terminal; the result on stdout."""
    many = plan.changes > PROGRESS_MIN_NAMES and isatty(ctx.err)
    deletes = plan.counts["delete"]
    try:
        result = plan.apply(
            confirm_deletes=deletes or None, progress=TextProgress(ctx.err) if many else None
        )
    except ApplyInterrupted as stop:
        _report(ctx, stop.partial_result)
        ctx.say("interrupted: the steps marked skipped were not sent.")
        return EXIT_INTERRUPTED
    _report(ctx, result)
    first_failure = next((o for o in result if o.outcome == "failed"), None)
    if first_failure is not None:
        return exit_code_for(first_failure.error) if first_failure.error else EXIT_FAILED
    return EXIT_UNAVAILABLE if result.unknown else EXIT_OK


def _report(ctx: Context, result: ApplyResult) -> None:
    """The result table on stdout; each different reason for a failure once on stderr (the
    first :data:`MAX_EXPLAINED`), and a line for the steps whose outcome is unknown."""
    ctx.emit(result_text(result))
    told: set[str] = set()
    for outcome in result.failed:
        why = explain(outcome.error) if outcome.error else "failed"
        if why not in told and len(told) < MAX_EXPLAINED:
            told.add(why)
            ctx.say(f"failed {outcome.action} {one_line(repr(outcome.name))}: {why}")
    if result.unknown:
        ctx.say(
            f"{len(result.unknown)} unknown: the answer was lost and the lookup that would tell "
            "failed too. Run cmnb plan again to see where the account stands."
        )
