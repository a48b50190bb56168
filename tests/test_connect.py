"""`cmnb.connect()`: LIVE with a key, otherwise the embedded sandbox, announced: once on stderr
outside a notebook kernel, by the client's own display in one."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

import cmnb
from cmnb.api._settings import DEFAULT_BASE_URL
from cmnb.errors import ConfigError
from cmnb.sandbox import Sandbox

# ``cmnb.connect`` is the function; its module is reached through the import system.
connection = importlib.import_module("cmnb.connect")

NOTICE = "cmnb: no API key configured — using the embedded sandbox (nothing leaves this machine).\n"


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees a process where connect() has not started a sandbox or said anything."""
    monkeypatch.setattr(connection, "_embedded", None)
    monkeypatch.setattr(connection, "_noticed", False)
    yield
    if connection._embedded is not None:
        connection._embedded.stop()


def test_connect_is_the_public_name() -> None:
    assert cmnb.connect is connection.connect


def test_no_key_gives_the_embedded_sandbox_and_says_so_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = cmnb.connect()
    second = cmnb.connect()
    captured = capsys.readouterr()
    assert captured.err == NOTICE and captured.out == ""
    box = connection.embedded_sandbox()
    assert first.base_url == second.base_url == box.url
    assert first.is_loopback and "mode=SANDBOX" in repr(first)
    made = first.data_sources.create("Offline")
    assert second.data_sources.list() == [made]  # one sandbox per process
    assert capsys.readouterr().err == ""
    first.close()
    second.close()


def test_sandbox_true_forces_the_sandbox_even_with_a_key(
    monkeypatch: pytest.MonkeyPatch, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    with cmnb.connect(sandbox=True) as client:
        assert client.is_loopback and client.ping()
    assert capsys.readouterr().err == (
        "cmnb: using the embedded sandbox, as asked (nothing leaves this machine).\n"
    )
    box = connection.embedded_sandbox()
    assert box.api_key != canary
    assert canary not in repr(box.requests)


@responses.activate(assert_all_requests_are_fired=False)
def test_a_key_in_the_environment_gives_a_live_client_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    client = cmnb.connect()
    assert client.base_url == DEFAULT_BASE_URL
    assert not client.is_loopback and "mode=LIVE" in repr(client)
    assert canary not in repr(client)
    assert len(responses.calls) == 0
    assert connection._embedded is None
    assert capsys.readouterr().err == ""
    client.close()


def test_a_key_argument_or_dotenv_also_means_live(canary: str) -> None:
    with cmnb.connect(canary) as client:
        assert client.base_url == DEFAULT_BASE_URL
    Path(".env").write_text(f"CHARTMOGUL_API_KEY={canary}\n")
    with cmnb.connect() as client:
        assert not client.is_loopback
    assert connection._embedded is None


def test_sandbox_false_without_a_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs an API key"):
        cmnb.connect(sandbox=False)
    assert connection._embedded is None


def test_seed_and_client_options_reach_the_sandbox_and_the_client() -> None:
    with cmnb.connect(seed=9, timeout=3, max_attempts=1) as client:
        assert client._transport.timeout == (3.0, 3.0)
        assert client._transport.max_attempts == 1
        made = client.data_sources.create("Deterministic")
    with Sandbox(seed=9) as reference, reference.client() as other:
        again = other.data_sources.create("Deterministic")
    assert connection.embedded_sandbox().api_key == reference.api_key
    assert (made.uuid, made.created_at) == (again.uuid, again.created_at)


def test_with_no_seed_given_the_sandbox_takes_cmnb_sandbox_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """How the example notebooks repeat their outputs: build.py and the nbval run set it."""
    monkeypatch.setenv("CMNB_SANDBOX_SEED", " 9 ")
    with cmnb.connect(sandbox=True) as client:
        made = client.data_sources.create("Deterministic")
    with Sandbox(seed=9) as reference, reference.client() as other:
        assert other.data_sources.create("Deterministic").uuid == made.uuid
    assert connection.embedded_sandbox().api_key == reference.api_key


def test_a_seed_given_wins_over_cmnb_sandbox_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMNB_SANDBOX_SEED", "9")
    cmnb.connect(seed=4).close()
    assert connection.embedded_sandbox().api_key == Sandbox(seed=4).api_key


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_cmnb_sandbox_seed_means_no_seed(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CMNB_SANDBOX_SEED", value)
    cmnb.connect(sandbox=True).close()
    assert connection.embedded_sandbox().api_key != Sandbox(seed=0).api_key


def test_a_cmnb_sandbox_seed_that_is_not_a_number_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CMNB_SANDBOX_SEED", "twenty")
    with pytest.raises(ConfigError, match="CMNB_SANDBOX_SEED must be a whole number"):
        cmnb.connect(sandbox=True)
    assert connection._embedded is None


def test_embedded_sandbox_restarts_if_stopped() -> None:
    box = connection.embedded_sandbox()
    box.stop()
    assert connection.embedded_sandbox() is box and box.running


def test_a_base_url_without_a_key_is_refused_not_sent_the_sandbox_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ConfigError, match=r"A base URL is set \(http://127.0.0.1:1\) but no API"):
        cmnb.connect(base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match=r"sandbox=True.*drop base_url"):
        cmnb.connect(sandbox=True, base_url="http://127.0.0.1:1")
    assert connection._embedded is None
    assert capsys.readouterr().err == ""


def test_a_base_url_from_the_environment_without_a_key_still_means_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", "http://127.0.0.1:1")
    with cmnb.connect() as client:
        assert client.base_url == connection.embedded_sandbox().url
    assert capsys.readouterr().err == NOTICE


def test_a_key_and_a_base_url_give_a_live_client_there(canary: str) -> None:
    with cmnb.connect(canary, base_url="http://127.0.0.1:1") as client:
        assert client.base_url == "http://127.0.0.1:1/v1"
    assert connection._embedded is None


def test_start_sandbox_replaces_the_process_sandbox_and_its_notice(
    monkeypatch: pytest.MonkeyPatch, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[tuple[bool, Sandbox]] = []

    def throwaway(asked: bool) -> Sandbox:
        box = Sandbox(rate_limit_per_s=None).start()
        started.append((asked, box))
        return box

    try:
        with cmnb.connect(start_sandbox=throwaway, timeout=3) as client:
            assert client.base_url == started[-1][1].url
            assert client._transport.timeout == (3.0, 3.0)
            assert client.data_sources.list() == []
        monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
        with cmnb.connect(sandbox=True, start_sandbox=throwaway) as client:
            assert client.base_url == started[-1][1].url
        with cmnb.connect(start_sandbox=throwaway) as client:  # a key: LIVE, nothing started
            assert not client.is_loopback
    finally:
        for _, box in started:
            box.stop()
    assert [asked for asked, _ in started] == [False, True]
    assert started[0][1] is not started[1][1]
    assert connection._embedded is None  # the process-wide sandbox was never started
    assert capsys.readouterr().err == ""  # saying so is start_sandbox's job


# -- in a notebook kernel: the client's display says it, stderr stays quiet (issue 15) ----------


@pytest.fixture
def in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """``get_ipython()`` answers as inside Jupyter (Colab's shell subclasses this one)."""
    ipython = pytest.importorskip("IPython")

    class ZMQInteractiveShell:
        pass

    class ColabShell(ZMQInteractiveShell):
        pass

    monkeypatch.setattr(ipython, "get_ipython", lambda: ColabShell())


def test_in_a_notebook_kernel_the_client_says_sandbox_and_why_not_stderr(
    in_a_kernel: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with cmnb.connect() as client, cmnb.connect(sandbox=True) as asked:
        captured = capsys.readouterr()
        assert captured.err == "" and captured.out == ""  # stderr is drawn as an error band
        assert client.sandbox_reason == "no API key configured"
        assert asked.sandbox_reason == "as asked"
        shown = client._repr_html_()
        assert shown.startswith('<span class="cmnb-client"><b>SANDBOX</b> (no API key configured)')
        assert f"<code>{client.base_url}</code>" in shown
        assert "nothing leaves this machine" in shown
        assert "(as asked)" in asked._repr_html_()
        assert repr(client) == f"Client(base_url={client.base_url!r}, mode=SANDBOX)"  # as before
    assert not connection._noticed  # a script later in the same process would still be told


def test_outside_a_kernel_the_client_says_it_too(capsys: pytest.CaptureFixture[str]) -> None:
    with cmnb.connect() as client:
        assert "(no API key configured)" in client._repr_html_()
    assert capsys.readouterr().err == NOTICE


def test_other_clients_say_where_their_requests_go(canary: str) -> None:
    with cmnb.Client(canary) as live, Sandbox(seed=1) as box, box.client() as local:
        assert live.sandbox_reason is None and local.sandbox_reason is None
        assert live._repr_html_() == (
            f'<span class="cmnb-client"><b>LIVE</b> — requests go to <code>{DEFAULT_BASE_URL}'
            "</code>.</span>"
        )
        assert local._repr_html_().startswith('<span class="cmnb-client"><b>SANDBOX</b> — ')
        assert canary not in live._repr_html_() + local._repr_html_()


def test_connect_finds_a_kernel_without_importing_ipython() -> None:
    """The connect layer may not import IPython: it only reads ``sys.modules``."""
    import subprocess
    import sys

    code = (
        "import sys, cmnb\n"
        "with cmnb.connect(sandbox=True) as client:\n"
        "    assert client.sandbox_reason == 'as asked'\n"
        "print(sorted(m for m in ('IPython', 'ipywidgets', 'pandas') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout == "[]\n"
    assert done.stderr == connection.ASKED_SANDBOX_NOTICE + "\n"  # a script: told on stderr
