"""Secret canaries: with a recognisable fake API key in use everywhere, it never shows anywhere.

One test drives every surface a key could leak through — reprs of every object that holds or
sends it, errors (401 from a sandbox expecting another key, network failures, 404, duplicate
names, bad input), DEBUG logs of every logger (``cmnb``, ``urllib3``, the sandbox's), dry runs,
bulk results, the command line (plain and ``--verbose``), the form (create, errors, Go LIVE with
the key pasted, its widget state, the picture in its output) — and a second one executes a
notebook in a real kernel whose environment holds the key, then reads the saved ``.ipynb``
(outputs and widget state).
The canary is looked for as typed and as it travels in a Basic auth header (base64).
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cmnb
from cmnb.api._settings import resolve_api_key
from cmnb.cli import main as cli_main
from cmnb.errors import CmnbError
from cmnb.notebook._form import DataSourceForm
from cmnb.notebook._table import DataSourceTable


def leaks(canary: str) -> tuple[str, ...]:
    """The canary as typed, and every way it travels in an Authorization header."""
    return (
        canary,
        base64.b64encode(f"{canary}:".encode()).decode(),
        base64.b64encode(canary.encode()).decode(),
    )


class Witness:
    """Collects everything a user or a log could see, labelled, then looks for the canary."""

    def __init__(self, canary: str) -> None:
        self.forms = leaks(canary)
        self.seen: list[tuple[str, str]] = []

    def see(self, label: str, *things: Any) -> None:
        for thing in things:
            self.seen.append((label, thing if isinstance(thing, str) else repr(thing)))
            if isinstance(thing, BaseException):
                text = "".join(traceback.format_exception(thing))
                self.seen.append((f"{label} (traceback)", text + repr(vars(thing))))
            elif not isinstance(thing, str):
                self.seen.append((f"{label} (str)", str(thing)))

    def assert_clean(self) -> None:
        found = [label for label, text in self.seen if any(form in text for form in self.forms)]
        assert not found, f"the canary leaked through: {found}"
        assert len(self.seen) > 50  # the test really looked at things


@pytest.fixture(autouse=True)
def _strict(strict_callbacks: None) -> None:
    """Form callbacks that raise fail the test (see tests/conftest.py)."""


@pytest.fixture
def account(canary: str) -> Iterator[cmnb.Sandbox]:
    """A sandbox that expects the canary as its key."""
    with cmnb.Sandbox(canary, seed=5, rate_limit_per_s=None) as sb:
        yield sb


@pytest.fixture
def other_account() -> Iterator[cmnb.Sandbox]:
    """A sandbox that expects some other key: the canary gets a 401 there."""
    with cmnb.Sandbox("sbx_another_key", rate_limit_per_s=None) as sb:
        yield sb


def _widget_state(form: DataSourceForm) -> str:
    def walk(widget: Any) -> Iterator[Any]:
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    return json.dumps([w.get_state() for w in walk(form.widget)], default=str)


def test_the_key_never_shows(
    canary: str,
    account: cmnb.Sandbox,
    other_account: cmnb.Sandbox,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: cmnb, cmnb.sandbox, urllib3, ...
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    witness = Witness(canary)
    see = witness.see

    # -- the client and the objects behind it ----------------------------------------------
    client = account.client(max_attempts=3, _sleep=lambda s: None)
    transport = client._transport
    see("objects", client, transport, client.data_sources, transport.session.auth)
    see("objects", transport.pacer, transport.session.headers, resolve_api_key(canary))
    see("objects", cmnb.Secret(canary), f"{cmnb.Secret(canary)}", account, account.faults)
    see("dry run", client.data_sources.create("Dry", dry_run=True))
    source = client.data_sources.create("Billing")
    see("results", source, client.data_sources.list(), client.ping())
    see("results", client.data_sources.retrieve(source.uuid, with_processing_status=True))
    table = DataSourceTable.from_api(client)
    see("table", table, table._repr_html_(), table.to_frame().to_string())

    # -- errors ----------------------------------------------------------------------------
    def failure(label: str, call: Any) -> None:
        with pytest.raises(CmnbError) as caught:
            call()
        see(label, caught.value)

    failure("duplicate", lambda: client.data_sources.create("Billing"))
    failure(
        "not found",
        lambda: client.data_sources.retrieve("ds_" + "0" * 8 + "-0000" * 3 + "-" + "0" * 12),
    )
    failure("bad input", lambda: client.data_sources.create("a\x00b"))
    failure("bad uuid", lambda: client.data_sources.delete("ds_not-a-uuid"))
    wrong = other_account.client(api_key=canary, max_attempts=1)
    failure("401", wrong.ping)
    failure("401 create", lambda: wrong.data_sources.create("Nope"))
    account.faults.add("create", status=500, after_commit=True)
    account.faults.add("create", reset=True)
    see("after faults", client.data_sources.create("Through faults"))
    account.faults.add("list", status=502, times=3)
    failure("502", client.data_sources.list)
    failure("bad base url", lambda: cmnb.Client(canary, base_url="ftp://example.com"))
    dead = cmnb.Client(canary, base_url="http://127.0.0.1:9/v1", max_attempts=1)
    failure("refused", dead.ping)
    see("requests the sandbox logged", account.requests, other_account.requests)

    # -- bulk ------------------------------------------------------------------------------
    result = client.data_sources.create_many(["Billing", "EU", "", "EU"], mode="create")
    see("bulk", result, result._repr_html_(), result.to_frame().to_string(), result.outcomes)

    # -- the command line, with the key in the environment ---------------------------------
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", account.url)
    for argv in (
        ["create", "CLI one", "CLI two", "--verbose"],
        ["create", "CLI one"],
        ["create", "Dry", "--dry-run"],
        ["list", "--format", "json", "--with-invoice-handling-setting"],
        ["list", "--format", "csv", "-v"],
        ["list"],
        ["get", source.uuid, "--format", "json", "-v"],
        ["delete", source.uuid, "--yes", "--verbose"],
        ["get", source.uuid],
        ["--verbose", "create", "--from-csv", str(Path("missing.csv"))],
    ):
        code = cli_main(argv)
        out, err = capsys.readouterr()
        see(f"cli {argv} -> {code}", out, err)
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", other_account.url)
    code = cli_main(["list", "--verbose"])
    out, err = capsys.readouterr()
    assert code == 4 and "401" in err
    see("cli 401", out, err)

    # -- the form: create, errors, then Go LIVE with the key pasted -------------------------
    monkeypatch.delenv("CHARTMOGUL_API_KEY")
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", account.url)
    form = DataSourceForm(client)
    for name in ("Form source", "Form source", "Through faults"):
        form.name_input.value = name
        form.create_button.click()
        see("form status", form.status.value)
    form.key_input.value = "sbx_not_it"
    form.go_live_button.click()
    see("form, wrong key", form.status.value, _widget_state(form))
    form.key_input.value = f"  {canary}\n"
    form.go_live_button.click()
    assert form.key_input.value == ""
    assert "Now LIVE" in form.status.value
    form.name_input.value = "After go-live"
    form.create_button.click()
    see("form", form, form.widget, form.status.value, form.table, form.client, _widget_state(form))
    # what a viewer without widgets shows: the form's picture, the client's line
    see("form picture", form._repr_mimebundle_(), form.widget._repr_mimebundle_())
    see("client in a notebook", client._repr_html_(), form.client._repr_html_())

    # -- everything logged on the way ------------------------------------------------------
    assert any(r.name == "cmnb" for r in caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    see("logs", caplog.text, *(r.getMessage() for r in caplog.records))
    out, err = capsys.readouterr()
    see("stdout/stderr", out, err)
    for c in (client, wrong, dead, form.client):
        c.close()
    witness.assert_clean()


NOTEBOOK_CELLS = [
    "import logging, os, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, force=True)\n"
    "import cmnb\n"
    "client = cmnb.connect()\n"
    "client",
    'ds = client.data_sources.create("From a notebook")\nds',
    'client.data_sources.create("Dry", dry_run=True)',
    "form = cmnb.DataSourceForm(client)\nform",
    'form.name_input.value = "From the form"\nform.create_button.click()\nform.table',
    # A user pasting the key into the form: it must be gone from the saved widget state.
    'form.key_input.value = os.environ["CHARTMOGUL_API_KEY"]\n'
    "form.go_live_button.click()\n"
    "form.status.value",
    "try:\n"
    '    client.data_sources.create("From a notebook")\n'
    "except cmnb.DuplicateNameError as error:\n"
    "    print(repr(error), error)",
    "client.data_sources.list()",
    "{k: v for k, v in os.environ.items() if k.startswith('CHARTMOGUL')}.keys()",
]


@pytest.mark.slow
def test_an_executed_notebook_holds_no_key(
    canary: str, account: cmnb.Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)  # the kernel inherits this environment
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", account.url)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    executor = nbclient.NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    executor.execute()
    saved = tmp_path / "executed.ipynb"
    nbformat.write(notebook, saved)
    text = saved.read_text(encoding="utf-8")

    names = [source["name"] for source in account.sources()]
    assert names == ["From a notebook", "From the form"]  # the cells really ran, LIVE
    assert "widgets" in notebook.metadata  # widget state was saved and is checked too
    assert "Now LIVE" in text and "DuplicateNameError" in text and "DEBUG" in text
    found = [form for form in leaks(canary) if form in text]
    assert not found, "the canary is in the saved notebook"
