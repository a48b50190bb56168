"""Shared fixtures. ``CANARY`` is the fake API key every test uses and then looks for."""

from __future__ import annotations

import base64
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from clirun import Run
from fakes import FakeTime
from responses import registries

CANARY = "cmnb_canary_9f2c7e41d0b84a6f"


def pytest_configure(config: pytest.Config) -> None:
    """Behave the same however pytest was launched.

    A shell starts a background job (``make test &``, CI without a terminal) with SIGINT
    ignored, and an ignored signal stays ignored in every child process: then neither this
    process nor a ``cmnb`` process a test starts and sends Ctrl-C to would ever see it. A handled
    signal is reset to the default in a child, so handling it here gives every child Python's
    usual KeyboardInterrupt.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test sees the developer's real key, base URL, .env file or data directory (where the
    no-key CLI keeps its sandbox)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("CHARTMOGUL_API_KEY", raising=False)
    monkeypatch.delenv("CHARTMOGUL_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def canary() -> str:
    return CANARY


@pytest.fixture
def strict_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ipywidgets re-raise what a callback raises.

    ``Button.click()`` and trait observers swallow callback exceptions (they only log them), so
    a form test would pass while the form was broken; with this fixture it fails instead.
    """
    from ipywidgets.widgets.widget import CallbackDispatcher

    def dispatch(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = None
        for callback in self.callbacks:
            local = callback(*args, **kwargs)
            value = local if local is not None else value
        return value

    monkeypatch.setattr(CallbackDispatcher, "__call__", dispatch)


@pytest.fixture
def fake() -> FakeTime:
    """Fake time for ``_clock``/``_sleep`` hooks (see tests/fakes.py)."""
    return FakeTime()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """``responses`` in strict order: every stated request must come, and nothing else."""
    with responses.RequestsMock(
        assert_all_requests_are_fired=True, registry=registries.OrderedRegistry
    ) as mock:
        yield mock


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """A real SIGINT raises KeyboardInterrupt here, however pytest was launched.

    A shell starts background jobs (``make test &``) with SIGINT ignored, and Python then never
    installs its handler: a test that sends itself SIGINT must install it, and put back what
    was there.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], canary: str) -> Callable[..., Run]:
    """``cli("list")`` runs ``cmnb list`` in-process; the canary key (plain, or base64 as in an
    Authorization header) never reaches stdout or stderr, nor a traceback (but with -v)."""
    from cmnb.cli import main

    secrets = (canary, base64.b64encode(f"{canary}:".encode()).decode())

    def run(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        result = Run(code, captured.out, captured.err)
        for secret in secrets:
            assert secret not in result.out and secret not in result.err
        assert "Traceback" not in result.err or "-v" in argv
        return result

    return run
