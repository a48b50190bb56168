"""``cmnb app``: the form notebook served by Voilà, behind a token, as Jupyter itself does.

The notebook ships inside the package (``cmnb/notebook/app.ipynb``), so the command works from
any directory after ``pip install 'cmnb[notebook]'``. The page is an open door to whatever the
form can reach (with a key: the ChartMogul account), so Voilà is started with a random token by
default: the URL printed, and opened in the browser, carries it; a visitor without it gets the
login page. ``--no-token`` is accepted only on a loopback address, with a warning; a
non-loopback ``--ip`` without a token is refused.

The token reaches Voilà through a config file of its own (``JUPYTER_CONFIG_PATH``), never on
its command line, where other users of the machine could read it (``ps``).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import webbrowser
from collections.abc import Iterator
from pathlib import Path

from ..api._settings import API_KEY_ENV, BASE_URL_ENV, is_loopback_host, resolve_api_key
from ..errors import ConfigError, InputError
from ._context import EXIT_OK, Context, UsageError

__all__ = ["DEFAULT_PORT", "app_url", "find_notebook", "run_app"]

DEFAULT_PORT = 8866  # Voilà's own default: the first free port from here on is used
_PORTS_TRIED = 100
_BROWSER_WAIT_S = 60.0


def run_app(ctx: Context) -> int:
    """``cmnb app``: serve the form notebook with Voilà until Ctrl-C; returns Voilà's exit code.

    Raises :class:`ConfigError` without Voilà or without a free port, :class:`UsageError` for
    ``--no-token`` on a non-loopback address, :class:`InputError` for a missing ``--notebook``.
    """
    if importlib.util.find_spec("voila") is None:
        raise ConfigError(
            "`cmnb app` needs Voilà, which is not installed: pip install 'cmnb[notebook]'."
        )
    args = ctx.args
    token = _token(ctx, args.ip, args.no_token)
    port = args.port if args.port is not None else free_port(args.ip)
    url = app_url(args.ip, port, token)
    with find_notebook(args.notebook) as notebook, _token_config(token) as config_dir:
        env = _environment(ctx, config_dir)
        command = [sys.executable, "-m", "voila", str(notebook), "--no-browser"]
        command += ["--port", str(port), f"--Voila.ip={args.ip}"]
        ctx.say(f"serving the form with Voilà at {url} (Ctrl-C stops it).")
        process = subprocess.Popen(command, env=env)
        if not args.no_browser:
            _open_when_ready(args.ip, port, url)
        return _wait(process)


def _token(ctx: Context, ip: str, no_token: bool) -> str | None:
    loopback = is_loopback_host(ip)
    if not no_token:
        if not loopback:
            ctx.say(
                f"listening on {ip}, beyond this machine: the page is plain HTTP, so the token "
                "and everything typed into the form cross the network unencrypted."
            )
        return secrets.token_hex(24)
    if not loopback:
        raise UsageError(
            f"--no-token is allowed only on a loopback address, not {ip}: anyone who can reach "
            "the page could create sources (with a key, in your ChartMogul account)."
        )
    ctx.say(
        "--no-token: any user or process on this machine can open the form "
        "(with a key, it works on your ChartMogul account)."
    )
    return None


def app_url(ip: str, port: int, token: str | None) -> str:
    """The address to open: ``http://IP:PORT/`` with ``?token=…`` when there is one."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}/" + (f"?token={token}" if token else "")


def free_port(ip: str, start: int = DEFAULT_PORT) -> int:
    """The first port from ``start`` that can be bound on ``ip``; :class:`ConfigError` if none."""
    for port in range(start, start + _PORTS_TRIED):
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as probe:
            try:
                probe.bind((ip, port))
            except OSError:
                continue
            return port
    raise ConfigError(
        f"No free port between {start} and {start + _PORTS_TRIED - 1} on {ip}: pass --port."
    )


@contextlib.contextmanager
def find_notebook(explicit: str | None = None) -> Iterator[Path]:
    """The notebook to serve: ``explicit``, else the one shipped in the package.

    Raises :class:`InputError` when ``explicit`` is not a file.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"No notebook at {path}.", field="notebook")
        yield path.resolve()
        return
    packaged = importlib.resources.files("cmnb.notebook").joinpath("app.ipynb")
    with importlib.resources.as_file(packaged) as path:
        yield path


@contextlib.contextmanager
def _token_config(token: str | None) -> Iterator[Path | None]:
    """A private config dir holding ``voila.json`` with the token (removed afterwards)."""
    if token is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="cmnb-app-") as directory:
        config = Path(directory) / "voila.json"
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"Voila": {"token": token}}, out)
        yield Path(directory)


def _environment(ctx: Context, config_dir: Path | None) -> dict[str, str]:
    """Voilà's environment: the key and base URL this command settled on, and the token's
    config dir in front of the user's own ``JUPYTER_CONFIG_PATH``.

    The notebook calls ``cmnb.connect()`` in a kernel whose working directory is the
    notebook's, so a key from *this* directory's ``.env`` is handed over explicitly.
    """
    env = dict(os.environ)
    if ctx.option("sandbox", False):
        env.pop(API_KEY_ENV, None)
        env.pop(BASE_URL_ENV, None)
    else:
        key = ctx.api_key() or resolve_api_key()
        if key is not None:
            env[API_KEY_ENV] = key.reveal()
        if ctx.option("base_url") is not None:
            env[BASE_URL_ENV] = ctx.option("base_url")
    if config_dir is not None:
        paths = [str(config_dir), *filter(None, [env.get("JUPYTER_CONFIG_PATH")])]
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return env


def _open_when_ready(ip: str, port: int, url: str) -> None:
    """Open the browser on ``url`` once the port answers (in the background)."""

    def wait_then_open() -> None:
        deadline = time.monotonic() + _BROWSER_WAIT_S
        while time.monotonic() < deadline:
            try:
                socket.create_connection((ip, port), timeout=1).close()
            except OSError:
                time.sleep(0.2)
                continue
            webbrowser.open(url)
            return

    threading.Thread(target=wait_then_open, name="cmnb-app-browser", daemon=True).start()


def _wait(process: subprocess.Popen[bytes]) -> int:
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
