"""The ``cmnb`` argument parser: every command, its options and its ``--help``.

Connection options (``--sandbox``, ``--base-url``, ``--api-key-env``, ``--timeout``,
``--verbose``) are accepted before or after the command: they live in a parent parser whose
defaults are ``SUPPRESS``, so a value given before the command is not reset by the command's
own parser.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Protocol

from .._version import __version__
from ..api._models import BLOCKS, block_flag
from . import _app as cli_app
from . import _data as cli_data
from . import _plan as cli_plan
from . import _serve as cli_serve

__all__ = ["build_parser"]

_EPILOG = """\
The API key is read from CHARTMOGUL_API_KEY (or a CHARTMOGUL_API_KEY=... line in ./.env), or
from the variable named by --api-key-env; it is never taken on the command line. With no key,
every command runs against a local sandbox kept in your data directory (shared by every such
command, named on stderr; `cmnb sandbox reset` empties it); --sandbox gives one that starts
empty and is gone when the command ends.

exit codes: 0 ok · 1 declined at the prompt / unexpected error · 2 usage · 3 input or
configuration (nothing sent, or HTTP 400/422) · 4 key refused (401/403) · 5 not found (404) or
name taken · 6 rate limited (429) or no answer in time · 7 server error (5xx) · 130 Ctrl-C
"""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}..{high}, not {value}")
        return value

    return parse


def _connection_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command (SUPPRESS: a later parser keeps the value)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection (before or after the command)")
    add = group.add_argument
    add(
        "--sandbox",
        action="store_true",
        default=argparse.SUPPRESS,
        help="use a fresh embedded sandbox even when a key is configured",
    )
    add(
        "--base-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="API base URL (default: $CHARTMOGUL_BASE_URL or https://api.chartmogul.com/v1; "
        "http:// only for localhost)",
    )
    add(
        "--api-key-env",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="read the API key from environment variable NAME instead of CHARTMOGUL_API_KEY",
    )
    add(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=argparse.SUPPRESS,
        help="give up on each API call after this long, retries included (default 60)",
    )
    add(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log every request to stderr (the key is always redacted)",
    )
    return parent


def _block_flags(parser: argparse.ArgumentParser) -> None:
    """``--with-processing-status`` and the others: one per optional block."""
    for block in BLOCKS:
        flag = block_flag(block)
        parser.add_argument(
            f"--{flag.replace('_', '-')}",
            dest=flag,
            action="store_true",
            help=f"include the {block} block",
        )


class _AddCommand(Protocol):
    """``add(name, summary)``: a new command's parser, with ``--help`` and (unless
    ``connects=False``) the connection options."""

    def __call__(
        self, name: str, summary: str, *, connects: bool = True
    ) -> argparse.ArgumentParser: ...


def build_parser() -> argparse.ArgumentParser:
    """The ``cmnb`` argument parser (every command has ``--help``)."""
    connection = _connection_options()
    parser = argparse.ArgumentParser(
        prog="cmnb",
        description="Create and manage ChartMogul data sources.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection],
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"cmnb {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add = functools.partial(_command, commands, connection)
    for define in (_create, _list, _get, _delete, _plan, _apply, _sandbox, _app):
        define(add)
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    connection: argparse.ArgumentParser,
    name: str,
    summary: str,
    *,
    connects: bool = True,
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=summary,
        allow_abbrev=False,
        parents=[connection] if connects else [],
    )


def _create(add: _AddCommand) -> None:
    create = add("create", "create data sources, one line per name on stdout")
    create.add_argument("names", nargs="*", metavar="NAME", help="data source names")
    create.add_argument(
        "--ensure",
        action="store_true",
        help="reuse a source that already has the name (else: failed, exit 5)",
    )
    create.add_argument(
        "--from-csv", metavar="FILE", help="also read names from this CSV file ('-' for stdin)"
    )
    create.add_argument(
        "--column", metavar="COL", help="the CSV column holding the names (default: name)"
    )
    create.add_argument(
        "--dry-run",
        action="store_true",
        help="print the requests as JSON lines (key redacted); send nothing",
    )
    create.add_argument(
        "--concurrency",
        type=_int_between(1, 20),
        default=8,
        metavar="N",
        help="requests in flight at once, 1..20 (default 8)",
    )
    create.set_defaults(run=cli_data.run_create)


def _list(add: _AddCommand) -> None:
    listing = add("list", "list the account's data sources")
    listing.add_argument("--name", metavar="N", help="only the source with exactly this name")
    listing.add_argument("--system", metavar="S", help="only sources of this system (Stripe, …)")
    _block_flags(listing)
    listing.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (newest first, default), csv or json",
    )
    listing.set_defaults(run=cli_data.run_list)


def _get(add: _AddCommand) -> None:
    get = add("get", "show one data source")
    get.add_argument("uuid", metavar="UUID", help="ds_…")
    _block_flags(get)
    get.add_argument("--format", choices=("text", "json"), default="text")
    get.set_defaults(run=cli_data.run_get)


def _delete(add: _AddCommand) -> None:
    delete = add("delete", "delete a data source and everything imported into it")
    delete.add_argument("uuid", metavar="UUID", help="ds_…")
    delete.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask (required when stdin is not a terminal)",
    )
    delete.set_defaults(run=cli_data.run_delete)


def _desired(parser: argparse.ArgumentParser) -> None:
    """FILE and ``--prune``, the same for ``plan`` and ``apply``."""
    parser.add_argument(
        "file",
        metavar="FILE",
        help="a .csv/.tsv file with a name column, a .txt file with one name per line, "
        "or - for stdin",
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="also delete the Custom sources FILE does not name (never other systems)",
    )


def _plan(add: _AddCommand) -> None:
    plan = add("plan", "show the changes that make the account hold FILE's names")
    _desired(plan)
    plan.add_argument(
        "--format",
        choices=("text", "csv", "json"),
        default="text",
        help="text table (default), csv or json",
    )
    plan.set_defaults(run=cli_plan.run_plan)


def _apply(add: _AddCommand) -> None:
    apply = add("apply", "make the account hold FILE's names (shows the plan, asks first)")
    _desired(apply)
    apply.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask, deletes included (required when stdin is not a terminal)",
    )
    apply.set_defaults(run=cli_plan.run_apply)


def _sandbox(add: _AddCommand) -> None:
    sandbox = add(
        "sandbox",
        "run a standalone sandbox until Ctrl-C; `cmnb sandbox reset` empties the shared one",
        connects=False,
    )
    sandbox.add_argument(
        "action",
        nargs="?",
        choices=["reset"],
        help="reset: empty the sandbox that no-key commands share, then exit",
    )
    sandbox.add_argument(
        "--port",
        type=_int_between(0, 65535),
        default=8765,
        help="port on 127.0.0.1 (default 8765; 0: any free port)",
    )
    sandbox.add_argument("--seed", type=int, help="deterministic uuids, timestamps and key")
    kept = sandbox.add_mutually_exclusive_group()
    kept.add_argument(
        "--path", metavar="FILE", help="keep the sources in this JSON file across restarts"
    )
    kept.add_argument(
        "--shared",
        action="store_true",
        help="serve the sandbox that no-key commands share (their state file)",
    )
    sandbox.add_argument(
        "--fault",
        metavar="SPEC",
        action="append",
        type=cli_serve.fault_spec,
        help="a scripted fault, e.g. create:500:after_commit:x2 (repeatable)",
    )
    sandbox.set_defaults(run=cli_serve.run_sandbox)


def _app(add: _AddCommand) -> None:
    app = add("app", "serve the form (a notebook shipped with cmnb) with Voilà, behind a token")
    app.add_argument(
        "--port",
        type=_int_between(1, 65535),
        help="Voilà's port (default: the first free one from 8866)",
    )
    app.add_argument(
        "--ip", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    app.add_argument(
        "--no-token",
        action="store_true",
        help="no token in the URL: loopback addresses only (any local user could open the form)",
    )
    app.add_argument("--no-browser", action="store_true", help="do not open a browser")
    app.add_argument("--notebook", metavar="PATH", help="serve this notebook instead")
    app.set_defaults(run=cli_app.run_app)
