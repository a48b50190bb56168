"""``cmnb sandbox``: a standalone sandbox in the foreground (``cmnb app`` is in ``_app``)."""

from __future__ import annotations

import argparse

from ..errors import ConfigError, InputError
from ._context import EXIT_OK, Context

__all__ = ["fault_spec", "run_sandbox"]


def fault_spec(text: str) -> object:
    """argparse ``type=`` for ``--fault``: a parsed :class:`cmnb.sandbox.Fault`."""
    from ..sandbox import parse_fault

    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_sandbox(ctx: Context) -> int:
    """``cmnb sandbox``: :func:`cmnb.sandbox.serve` in the foreground until Ctrl-C or SIGTERM."""
    from ..sandbox import serve

    args = ctx.args
    try:
        # The sandbox makes up its own key: the user's real key is never handed to it.
        serve(port=args.port, seed=args.seed, path=args.path, faults=args.fault or ())
    except OSError as exc:
        raise ConfigError(
            f"Cannot start the sandbox on port {args.port}: {exc.strerror or exc} "
            "(choose another with --port)."
        ) from None
    except ValueError as exc:  # a state file that is not one
        raise InputError(str(exc), field="path") from None
    return EXIT_OK
