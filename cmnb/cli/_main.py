"""The ``cmnb`` command line: data sources from a terminal, with the notebook's safety.

::

    cmnb create "In-house billing" --ensure
    cmnb list --format csv > sources.csv
    cmnb delete ds_… --yes
    cmnb apply sources.csv --prune

The arguments are defined in :mod:`cmnb.cli._parser`, the commands in :mod:`cmnb.cli._data`,
:mod:`cmnb.cli._plan`, :mod:`cmnb.cli._serve` and :mod:`cmnb.cli._app`, the shared plumbing
(exit codes, streams, the client, prompts) in :mod:`cmnb.cli._context`. This module runs a
command and turns every expected error into one line on stderr and its exit code: no
tracebacks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from ..errors import CmnbError
from ._context import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Context,
    exit_code_for,
    explain,
)
from ._parser import build_parser

__all__ = ["build_parser", "main"]


@contextlib.contextmanager
def _request_log(on: bool) -> Iterator[None]:
    """With --verbose: the ``cmnb`` logger's DEBUG lines (key redacted) to stderr."""
    if not on:
        yield
        return
    logger = logging.getLogger("cmnb")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("cmnb: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _silence_stdout() -> None:
    """After a broken pipe (``cmnb list | head``): stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _tolerant_streams() -> None:
    """Never die printing a name: argv may hold undecodable bytes (lone surrogates)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    """Run ``cmnb`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code.

    Never raises for expected errors (they print one line to stderr); ``--help`` returns 0 and
    bad arguments return 2, as with argparse.
    """
    _tolerant_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if not hasattr(args, "run"):
        parser.print_usage(sys.stderr)
        print("cmnb: choose a command (cmnb --help lists them).", file=sys.stderr)
        return EXIT_USAGE
    ctx = Context(args)
    verbose = bool(ctx.option("verbose", False))
    with _request_log(verbose):
        try:
            code: int = args.run(ctx)
            ctx.out.flush()
            return code
        except CmnbError as error:
            ctx.say(explain(error))
            return exit_code_for(error)
        except KeyboardInterrupt:
            ctx.say("interrupted.")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_OK
        except Exception as error:  # a bug: one line, the traceback only when asked for
            if verbose:
                logging.getLogger("cmnb").exception("unexpected error")
            ctx.say(
                f"unexpected error ({type(error).__name__}); run again with --verbose for the "
                "traceback, and please report it."
            )
            return EXIT_FAILED
        finally:
            ctx.close()
