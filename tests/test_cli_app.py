"""``cmnb app``: the packaged form notebook served by Voilà, behind a token by default.

Voilà itself is replaced by a fake ``Popen`` that records what it was given; the real server
(the token refusing a visitor, the form loading with it) is checked on the installed wheel in
tests/test_dist.py.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cmnb.cli import _app as cli_app
from cmnb.cli import main

needs_voila = pytest.mark.skipif(
    importlib.util.find_spec("voila") is None, reason="voila is not installed (the notebook extra)"
)
PACKAGED = Path(cli_app.__file__).resolve().parents[1] / "notebook" / "app.ipynb"


class FakeVoila:
    """Records each start: the command, the environment and the token config it was given."""

    starts: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        config_dirs = env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)
        config = Path(config_dirs[0]) / "voila.json"
        found = bool(config_dirs[0]) and config.exists()
        FakeVoila.starts.append(
            {
                "command": command,
                "env": env,
                "config": json.loads(config.read_text()) if found else None,
                "config_mode": config.stat().st_mode & 0o777 if found else None,
                "config_dirs": config_dirs,
            }
        )

    def wait(self, timeout: float | None = None) -> int:
        return 0


@pytest.fixture
def app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], canary: str
) -> Callable[..., tuple[int, str, dict[str, Any] | None]]:
    """``app("--no-browser")`` runs ``cmnb app`` with a fake Voilà; returns the exit code, stderr
    and what Voilà was started with (``None`` if it was not). The canary key never shows."""
    FakeVoila.starts.clear()
    monkeypatch.setattr(cli_app.subprocess, "Popen", FakeVoila)
    monkeypatch.setattr(cli_app, "free_port", lambda ip: 8866)
    secrets = (canary, base64.b64encode(f"{canary}:".encode()).decode())

    def run(*argv: str) -> tuple[int, str, dict[str, Any] | None]:
        before = len(FakeVoila.starts)
        code = main(["app", *argv])
        captured = capsys.readouterr()
        start = FakeVoila.starts[-1] if len(FakeVoila.starts) > before else None
        shown = captured.out + captured.err + (" ".join(start["command"]) if start else "")
        assert not any(secret in shown for secret in secrets)
        return code, captured.err, start

    return run


def test_without_voila_it_says_how_to_install_it(
    app: Callable[..., tuple[int, str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cli_app.importlib.util.find_spec
    monkeypatch.setattr(
        cli_app.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "voila" else real(name, *a),
    )
    code, err, started = app()
    assert code == 3
    assert err.splitlines() == [
        "cmnb: Configuration problem: `cmnb app` needs Voilà, which is not installed: "
        "pip install 'cmnb[notebook]'."
    ]
    assert started is None


@needs_voila
def test_it_serves_the_packaged_notebook_behind_a_token_kept_off_the_command_line(
    app: Callable[..., tuple[int, str, Any]],
) -> None:
    code, err, started = app("--no-browser")
    assert code == 0
    assert started["command"] == [
        sys.executable,
        "-m",
        "voila",
        str(PACKAGED),
        "--no-browser",
        "--port",
        "8866",
        "--Voila.ip=127.0.0.1",
    ]
    token = started["config"]["Voila"]["token"]
    assert re.fullmatch(r"[0-9a-f]{48}", token)
    assert started["config_mode"] == 0o600  # the token file is readable by its owner only
    assert f"http://127.0.0.1:8866/?token={token}" in err
    assert token not in " ".join(started["command"])
    # A second run gets a token of its own.
    assert app("--no-browser")[2]["config"]["Voila"]["token"] != token


@needs_voila
def test_the_token_config_goes_in_front_of_the_users_own_jupyter_config_path(
    app: Callable[..., tuple[int, str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/etc/mine")
    _, _, started = app("--no-browser")
    assert started["config_dirs"][1:] == ["/etc/mine"]


@needs_voila
def test_the_token_config_is_removed_when_voila_stops(
    app: Callable[..., tuple[int, str, Any]],
) -> None:
    _, _, started = app("--no-browser")
    assert not Path(started["config_dirs"][0]).exists()


@needs_voila
def test_no_token_is_allowed_on_loopback_with_a_warning(
    app: Callable[..., tuple[int, str, Any]],
) -> None:
    code, err, started = app("--no-browser", "--no-token")
    assert code == 0
    assert started["config"] is None
    assert "any user or process on this machine can open the form" in err
    assert "http://127.0.0.1:8866/ " in err or "http://127.0.0.1:8866/ (" in err


@needs_voila
@pytest.mark.parametrize("ip", ["0.0.0.0", "192.0.2.10", "::"])
def test_no_token_on_a_non_loopback_address_is_refused_and_nothing_starts(
    app: Callable[..., tuple[int, str, Any]], ip: str
) -> None:
    code, err, started = app("--no-browser", "--no-token", "--ip", ip)
    assert code == 2
    assert "--no-token is allowed only on a loopback address" in err
    assert started is None


@needs_voila
def test_a_non_loopback_address_with_a_token_warns_that_the_page_is_plain_http(
    app: Callable[..., tuple[int, str, Any]],
) -> None:
    code, err, started = app("--no-browser", "--ip", "0.0.0.0")
    assert code == 0
    assert "--Voila.ip=0.0.0.0" in started["command"]
    assert "plain HTTP" in err


@needs_voila
def test_the_key_choice_reaches_the_notebook_through_the_environment(
    app: Callable[..., tuple[int, str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    canary: str,
) -> None:
    # The kernel runs in the notebook's folder, not here: a key in ./.env is handed over.
    (tmp_path / ".env").write_text(f"CHARTMOGUL_API_KEY={canary}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert app("--no-browser")[2]["env"]["CHARTMOGUL_API_KEY"] == canary
    assert "CHARTMOGUL_API_KEY" not in app("--no-browser", "--sandbox")[2]["env"]
    pointed = app("--no-browser", "--base-url", "http://127.0.0.1:8765")[2]["env"]
    assert pointed["CHARTMOGUL_BASE_URL"] == "http://127.0.0.1:8765"


@needs_voila
def test_an_explicit_notebook_is_served_and_a_missing_one_is_refused(
    app: Callable[..., tuple[int, str, Any]], tmp_path: Path
) -> None:
    notebook = tmp_path / "mine.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    assert app("--no-browser", "--notebook", str(notebook))[2]["command"][3] == str(notebook)
    code, err, started = app("--notebook", str(tmp_path / "nowhere.ipynb"))
    assert code == 3 and "No notebook at" in err and started is None


@needs_voila
def test_ctrl_c_stops_voila(app: Callable[..., tuple[int, str, Any]], monkeypatch: Any) -> None:
    events: list[str] = []

    class Interrupted(FakeVoila):
        def wait(self, timeout: float | None = None) -> int:
            if not events:
                events.append("ctrl-c")
                raise KeyboardInterrupt
            events.append("waited")
            return -15

        def terminate(self) -> None:
            events.append("terminate")

    monkeypatch.setattr(cli_app.subprocess, "Popen", Interrupted)
    assert app("--no-browser")[0] == 0
    assert events == ["ctrl-c", "terminate", "waited"]


def test_the_browser_opens_on_the_token_url_once_the_port_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    done = threading.Event()

    def fake_open(url: str) -> bool:
        opened.append(url)
        done.set()
        return True

    monkeypatch.setattr(cli_app.webbrowser, "open", fake_open)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        url = cli_app.app_url("127.0.0.1", port, "abc")
        cli_app._open_when_ready("127.0.0.1", port, url)
        assert done.wait(10)
    assert opened == [f"http://127.0.0.1:{port}/?token=abc"]


def test_free_port_skips_a_taken_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli_app.free_port("127.0.0.1", start=port) != port


def test_app_url_brackets_an_ipv6_address() -> None:
    assert cli_app.app_url("::1", 8866, None) == "http://[::1]:8866/"
