"""The long-running commands: ``cmnb sandbox`` (a standalone sandbox) and ``cmnb app`` (Voilà)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from ..api._settings import API_KEY_ENV, BASE_URL_ENV
from ..errors import ConfigError, InputError
from ._context import EXIT_OK, Context

__all__ = ["APP_NOTEBOOK", "fault_spec", "find_notebook", "run_app", "run_sandbox"]

APP_NOTEBOOK = Path("notebooks") / "app.ipynb"


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


def find_notebook(explicit: str | None = None) -> Path:
    """The app notebook: ``explicit``, else ``notebooks/app.ipynb`` next to the package
    (a source checkout) or in the working directory. Raises :class:`ConfigError` if none."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"No notebook at {path}.", field="notebook")
        return path
    package_root = Path(__file__).resolve().parents[2]
    for candidate in (package_root / APP_NOTEBOOK, Path.cwd() / APP_NOTEBOOK):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"Cannot find {APP_NOTEBOOK}: it comes with the cmnb source checkout, not the wheel. "
        "Run from the checkout, or pass --notebook PATH."
    )


def run_app(ctx: Context) -> int:
    """``cmnb app``: serve the form notebook with Voilà; returns Voilà's exit code."""
    if importlib.util.find_spec("voila") is None:
        raise ConfigError(
            "`cmnb app` needs Voilà, which is not installed: pip install 'cmnb[notebook]'."
        )
    notebook = find_notebook(ctx.args.notebook)
    env = dict(os.environ)
    # The notebook calls cmnb.connect(), which reads the environment: pass the choices on.
    if ctx.option("sandbox", False):
        env.pop(API_KEY_ENV, None)
    else:
        key = ctx.api_key()  # None without --api-key-env: the notebook reads the default
        if key is not None:
            env[API_KEY_ENV] = key.reveal()
        if ctx.option("base_url") is not None:
            env[BASE_URL_ENV] = ctx.option("base_url")
    command = [sys.executable, "-m", "voila", str(notebook)]
    if ctx.args.port is not None:
        command += ["--port", str(ctx.args.port)]
    if ctx.args.no_browser:
        command.append("--no-browser")
    ctx.say(f"serving {notebook} with Voilà; Ctrl-C stops it.")
    process = subprocess.Popen(command, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # A terminal sends Ctrl-C to Voilà too, but `kill -INT` reaches only us: stop it either way.
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return EXIT_OK
