"""``cmnb sandbox``: a standalone sandbox in the foreground (``cmnb app`` is in ``_app``)."""

from __future__ import annotations

import argparse

from ..errors import ConfigError, InputError
from ._context import EXIT_OK, Context
from ._state import shared_state_file

__all__ = ["fault_spec", "run_sandbox"]


def fault_spec(text: str) -> object:
    """argparse ``type=`` for ``--fault``: a parsed :class:`cmnb.sandbox.Fault`."""
    from ..sandbox import parse_fault

    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_sandbox(ctx: Context) -> int:
    """``cmnb sandbox``: :func:`cmnb.sandbox.serve` in the foreground until Ctrl-C or SIGTERM;
    ``cmnb sandbox reset``: empty the sandbox that no-key commands share."""
    from ..sandbox import serve

    args = ctx.args
    if args.action == "reset":
        return _reset_shared(ctx)
    path = shared_state_file() if args.shared else args.path
    try:
        # The sandbox makes up its own key: the user's real key is never handed to it.
        serve(port=args.port, seed=args.seed, path=path, faults=args.fault or ())
    except OSError as exc:
        raise ConfigError(
            f"Cannot start the sandbox on port {args.port}: {exc.strerror or exc} "
            "(choose another with --port)."
        ) from None
    except ValueError as exc:  # a state file that is not one
        raise InputError(str(exc), field="path") from None
    return EXIT_OK


def _reset_shared(ctx: Context) -> int:
    """Empty the shared state file (through the sandbox, which takes the file's lock); one that
    is not a state file at all is removed."""
    from ..sandbox import Sandbox

    path = shared_state_file()
    try:
        sandbox = Sandbox(path=path)
    except ValueError:
        path.unlink(missing_ok=True)
        ctx.say(f"removed {path}, which was not a sandbox state file: the sandbox is empty.")
        return EXIT_OK
    removed = len(sandbox.sources())
    sandbox.reset()
    ctx.say(f"the sandbox in {path} is empty ({removed} {_sources(removed)} removed).")
    return EXIT_OK


def _sources(count: int) -> str:
    return "source" if count == 1 else "sources"
