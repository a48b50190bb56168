"""The ``cmnb`` command line, as a user types it: every command against a real sandbox and
through ``responses``, every exit code, the output formats, the delete prompt, and the key.

Every run goes through :func:`cli`, which also checks that the canary key (in plain text or
base64, as in an Authorization header) never reaches stdout or stderr.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from clirun import FakeTTY, InterruptedTTY, Run
from responses import matchers, registries

import cmnb
from cmnb.api._bulk import BulkInterrupted, BulkOutcome, BulkResult
from cmnb.api._data_sources import DataSources
from cmnb.api._models import DataSource
from cmnb.cli import main
from cmnb.errors import TransportError

BASE = "https://api.chartmogul.com/v1"
UUID = "ds_fef05d54-47b4-431b-aed2-eb6b9e545430"
OTHER_UUID = "ds_00000000-0000-4000-8000-000000000000"
SEED = {
    "uuid": UUID,
    "name": "In-house billing",
    "system": "Custom",
    "created_at": "2023-01-10T15:34:05.918Z",
    "status": "idle",
}
NO_KEY = "no API key configured — using the local sandbox"
FORCED = "--sandbox — using the embedded sandbox"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, canary: str) -> Iterator[cmnb.Sandbox]:
    """A sandbox whose key is the canary, configured as a user would (the key in the env)."""
    with cmnb.Sandbox(canary, rate_limit_per_s=None) as box:
        monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
        yield box


@pytest.fixture
def run(cli: Callable[..., Run], sandbox: cmnb.Sandbox) -> Callable[..., Run]:
    """``run("list")`` = ``cmnb --base-url SANDBOX_URL list``."""
    return lambda *argv: cli("--base-url", sandbox.url, *argv)


@pytest.fixture
def rsps(monkeypatch: pytest.MonkeyPatch, canary: str) -> Iterator[responses.RequestsMock]:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    with responses.RequestsMock(
        assert_all_requests_are_fired=True, registry=registries.OrderedRegistry
    ) as mock:
        yield mock


def names_in(box: cmnb.Sandbox) -> list[str]:
    return [source["name"] for source in box.sources()]


# --- create ----------------------------------------------------------------------------------


def test_create_prints_one_line_per_outcome(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    result = run("create", "In-house billing", "Backoffice")
    assert result.code == 0
    uuids = {s["name"]: s["uuid"] for s in sandbox.sources()}
    assert result.lines == [
        f"created\t{uuids['In-house billing']}\tIn-house billing",
        f"created\t{uuids['Backoffice']}\tBackoffice",
    ]
    assert result.messages == ["cmnb: 2 names: 2 created, 0 failed"]


def test_create_existing_name_fails_with_5_and_ensure_reuses_it(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    existing = sandbox.add_source("Stripe", system="Stripe")
    refused = run("create", "Stripe")
    assert refused.code == 5
    assert refused.lines == [f"failed\t{existing['uuid']}\tStripe"]  # who holds the name
    assert refused.messages == [
        f"cmnb: failed 'Stripe': A data source named “Stripe” already exists ({existing['uuid']})."
        " Pass --ensure to use it."
    ]
    reused = run("create", "--ensure", "Stripe", "New one")
    assert reused.code == 0
    assert reused.lines[0] == f"existing\t{existing['uuid']}\tStripe"
    assert reused.lines[1].startswith("created\tds_")
    assert names_in(sandbox) == ["Stripe", "New one"]


def test_create_invalid_names_are_not_sent_and_exit_3(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    result = run("create", "Good", "   ")
    assert result.code == 3
    assert result.lines[0].startswith("created\tds_")
    assert result.lines[1:] == ["failed\t-\t'   '"]
    assert "cmnb: failed '   ': Not sent: The name is blank (only whitespace)." in result.messages
    assert names_in(sandbox) == ["Good"]
    assert [r.method for r in sandbox.requests] == ["POST"]


def test_create_a_repeated_name_is_sent_once_and_is_no_failure(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    # issue 15: a name given twice is a duplicate of the input, not a failure
    result = run("create", "Good", "Other", " Good ")
    assert result.code == 0
    (uuid,) = [s["uuid"] for s in sandbox.sources() if s["name"] == "Good"]  # sent once
    assert result.lines[0] == f"created\t{uuid}\tGood"
    assert result.lines[2] == f"repeated\t{uuid}\tGood"  # the first one's source
    assert result.messages[-1] == "cmnb: 3 names: 2 created, 1 repeated, 0 failed"
    assert [r.method for r in sandbox.requests] == ["POST", "POST"]
    taken = run("create", "Good", "Good")  # the first fails: its repeat follows, one failure
    assert taken.code == 5
    assert [line.split("\t")[0] for line in taken.lines] == ["failed", "repeated"]
    assert [m for m in taken.messages if m.startswith("cmnb: failed")] == [
        f"cmnb: failed 'Good': A data source named “Good” already exists ({uuid})."
        " Pass --ensure to use it."
    ]


def test_create_from_csv_column(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "sources.csv"
    path.write_text("id,title\n1,Billing A\n2,Billing B\n", encoding="utf-8")
    result = run("create", "First", "--from-csv", str(path), "--column", "title")
    assert result.code == 0
    assert [line.split("\t")[2] for line in result.lines] == ["First", "Billing A", "Billing B"]
    assert sorted(names_in(sandbox)) == ["Billing A", "Billing B", "First"]


def test_create_from_csv_default_column_and_stdin(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("name\nFrom stdin\n"))
    assert run("create", "--from-csv", "-").code == 0
    assert names_in(sandbox) == ["From stdin"]


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbfname;notes\r\nSemi A;x\r\nSemi, B;y\r\n",  # Excel in a comma-decimal locale
        b"notes\tname\r\nx\tSemi A\r\ny\tSemi, B\r\n",  # tab-separated, pasted
        b'name,notes\r\nSemi A,x\r\n"Semi, B",y\r\n',  # the usual, for comparison
    ],
    ids=["semicolons-bom-crlf", "tabs", "commas"],
)
def test_create_from_csv_finds_the_column_whatever_the_separator(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "sources.csv"
    path.write_bytes(content)
    result = run("create", "--from-csv", str(path))
    assert (result.code, result.err) == (0, "cmnb: 2 names: 2 created, 0 failed\n")
    assert sorted(names_in(sandbox)) == ["Semi A", "Semi, B"]


def test_create_from_csv_on_stdin_drops_a_byte_order_mark(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\ufeffname\nFrom stdin\n"))
    assert run("create", "--from-csv", "-").code == 0
    assert names_in(sandbox) == ["From stdin"]


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        (None, ["--column", "x"], "has no column 'x'"),
        ("", [], "is empty"),
        ("title\nA\n", [], "has no column 'name'; its columns are 'title'"),
    ],
)
def test_create_from_a_bad_csv_exits_3(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    tmp_path: Path,
    content: str | None,
    argv: list[str],
    message: str,
) -> None:
    path = tmp_path / "names.csv"
    path.write_text("name\nA\n" if content is None else content, encoding="utf-8")
    result = run("create", "--from-csv", str(path), *argv)
    assert result.code == 3
    assert len(result.messages) == 1  # no sandbox notice: a key is configured
    assert message in result.err
    assert sandbox.requests == []


def test_create_from_a_missing_csv_exits_3(run: Callable[..., Run]) -> None:
    result = run("create", "--from-csv", "nowhere.csv")
    assert (result.code, result.out) == (3, "")
    assert result.messages == [
        "cmnb: Not sent: Cannot read nowhere.csv: No such file or directory."
    ]


def test_progress_bar_only_on_a_terminal_and_for_more_than_a_few_names(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    captured_stderr = sys.stderr
    terminal = FakeTTY()
    monkeypatch.setattr(sys, "stderr", terminal)
    names = [f"Source {i}" for i in range(8)]
    assert run("create", *names).code == 0
    assert "create_many [" in terminal.getvalue()
    assert "8/8" in terminal.getvalue()

    few = FakeTTY()
    monkeypatch.setattr(sys, "stderr", few)
    assert run("create", "A", "B").code == 0
    assert "create_many [" not in few.getvalue()

    monkeypatch.setattr(sys, "stderr", captured_stderr)  # capsys: not a terminal
    result = run("create", *[f"Other {i}" for i in range(8)])
    assert "create_many [" not in result.err
    assert len(result.lines) == 8


def test_dry_run_prints_the_requests_and_sends_nothing(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    result = run("create", "--dry-run", "A", " B ", "A")
    assert result.code == 0
    requests = [json.loads(line) for line in result.lines]
    assert [(r["method"], r["url"], r["json"]) for r in requests] == [
        ("POST", f"{sandbox.url}/data_sources", {"name": "A"}),
        ("POST", f"{sandbox.url}/data_sources", {"name": "B"}),
    ]
    assert requests[0]["headers"]["Authorization"] == "Basic ********"
    assert requests[0]["headers"]["Content-Type"] == "application/json"
    assert result.messages == ["cmnb: dry run: nothing was sent (2 requests shown)."]
    assert sandbox.requests == []
    assert sandbox.sources() == []


def test_dry_run_with_ensure_shows_the_lookup_and_refuses_bad_names(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    result = run("create", "--dry-run", "--ensure", "A", "")
    assert result.code == 3
    lookup, create = (json.loads(line) for line in result.lines)
    assert (lookup["method"], lookup["json"]) == ("GET", None)
    assert "Content-Type" not in lookup["headers"]
    assert (create["method"], create["json"]) == ("POST", {"name": "A"})
    assert "cmnb: would not send [1] '': The name is empty." in result.messages
    assert sandbox.requests == []


def test_ctrl_c_during_create_prints_the_partial_result_and_exits_130(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    done = DataSource.from_dict(SEED)
    partial = BulkResult(
        [
            BulkOutcome("In-house billing", "created", source=done, index=0),
            BulkOutcome("Later", "skipped", index=1),
        ],
        interrupted=True,
    )

    def interrupted(self: DataSources, names: Any, **kwargs: Any) -> BulkResult:
        raise BulkInterrupted(partial)

    monkeypatch.setattr(DataSources, "create_many", interrupted)
    result = run("create", "In-house billing", "Later")
    assert result.code == 130
    assert result.lines == [f"created\t{UUID}\tIn-house billing", "skipped\t-\tLater"]
    assert result.messages == [
        "cmnb: 2 names: 1 created, 0 failed, 1 skipped (interrupted)",
        "cmnb: interrupted: the names marked skipped were not sent.",
    ]


def test_one_lookup_failure_is_reported_once(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    sandbox.faults.add("list", status=403)
    result = run("create", "--ensure", "A", "B", "C")
    assert result.code == 4
    assert result.lines == ["failed\t-\tA", "failed\t-\tB", "failed\t-\tC"]
    assert result.messages[0].startswith("cmnb: failed 'A': This account may not do that")
    assert result.messages[1:] == [
        "cmnb: 2 more names failed with the same error.",
        "cmnb: 3 names: 0 created, 3 failed",
    ]


def test_a_refused_key_is_explained_once_not_once_per_name(
    cli: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", sandbox.url)
    monkeypatch.setenv("CHARTMOGUL_API_KEY", "sbx_not_the_key")
    result = cli("create", *[f"N{i}" for i in range(12)])
    assert result.code == 4
    assert result.lines == [f"failed\t-\tN{i}" for i in range(12)]
    assert result.messages[0].startswith("cmnb: failed 'N0': The API key was not accepted")
    assert result.messages[1:] == [
        "cmnb: 11 more names failed with the same error.",
        "cmnb: 12 names: 0 created, 12 failed",
    ]


def test_many_taken_names_are_explained_ten_at_most(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    names = [f"Taken {i:02d}" for i in range(25)]
    for name in names:
        sandbox.add_source(name)
    result = run("create", *names)
    assert result.code == 5
    assert [line.split("\t")[0] for line in result.lines] == ["failed"] * 25
    explained = [m for m in result.messages if m.startswith("cmnb: failed ")]
    assert [m.split("'")[1] for m in explained] == names[:10]
    assert result.messages[10:] == [
        "cmnb: 15 more names failed (stdout has a line for each).",
        "cmnb: 25 names: 0 created, 25 failed",
    ]


# --- list / get / delete ---------------------------------------------------------------------


def test_list_table_newest_first(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    assert run("create", "Older").code == 0
    assert run("create", "Newer").code == 0
    result = run("list")
    assert result.code == 0
    # issue 15: the name first, the uuid last
    assert [line.split("  ")[0] for line in result.lines] == ["'Newer'", "'Older'"]
    assert all(line.split()[-1].startswith("ds_") for line in result.lines)
    assert result.messages == ["cmnb: 2 data sources"]


def test_list_filters(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    sandbox.add_source("Stripe", system="Stripe")
    sandbox.add_source("Mine")
    assert [json.loads(run("list", "--system", "Stripe", "--format", "json").out)[0]["name"]] == [
        "Stripe"
    ]
    assert [
        s["name"] for s in json.loads(run("list", "--name", "Mine", "--format", "json").out)
    ] == ["Mine"]
    nothing = run("list", "--name", "Nobody")
    assert (nothing.code, nothing.out, nothing.messages) == (
        0,
        "",
        ["cmnb: no data source matches."],
    )


def test_list_json_parses_back(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    sandbox.add_source("Stripe", system="Stripe")
    result = run("list", "--format", "json", "--with-processing-status")
    listed = json.loads(result.out)
    expected = sandbox.sources()[0]
    assert [(s["uuid"], s["name"], s["system"]) for s in listed] == [
        (expected["uuid"], "Stripe", "Stripe")
    ]
    assert listed[0]["processing_status"] == expected["processing_status"]
    assert "auto_churn_subscription_setting" not in listed[0]


def test_list_csv_parses_back(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    first = sandbox.add_source("Stripe, Inc.", system="Stripe")
    sandbox.add_source('Quoted "name"')
    result = run("list", "--format", "csv", "--with-invoice-handling-setting")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [row["name"] for row in rows] == ["Stripe, Inc.", 'Quoted "name"']
    assert rows[0]["uuid"] == first["uuid"]
    assert rows[0]["created_at"] == first["created_at"]  # the API's own form, to the millisecond
    assert rows[0]["invoice_handling_setting.manual.create_subscription_when_invoice_is"] == "open"
    empty = run("list", "--format", "csv", "--name", "nobody")
    assert empty.lines == ["name,system,created_at,status,uuid"]  # the frame's order


@pytest.mark.parametrize(
    "flag",
    [
        "--with-processing-status",
        "--with-auto-churn-subscription-setting",
        "--with-invoice-handling-setting",
    ],
)
def test_list_csv_header_does_not_depend_on_rows(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, flag: str
) -> None:
    empty = run("list", "--format", "csv", "--name", "nobody", flag)
    sandbox.add_source("Stripe", system="Stripe")
    full = run("list", "--format", "csv", flag)
    header = empty.lines[0].split(",")
    assert empty.lines == [empty.lines[0]]  # no rows
    assert header == full.lines[0].split(",")
    block = flag.removeprefix("--with-").replace("-", "_")
    assert header[:4] == ["name", "system", "created_at", "status"] and header[-1] == "uuid"
    assert len(header) > 5 and all(column.startswith(block + ".") for column in header[4:-1])


def test_list_table_rows_are_the_table_text_listing_rows(
    cli: Callable[..., Run], rsps: responses.RequestsMock
) -> None:
    """`cmnb list` builds its rows from the data, in the columns of repr(DataSourceTable)."""
    from cmnb.notebook._render import sources_text
    from cmnb.notebook._table import DataSourceTable

    uuid = OTHER_UUID[:-1]
    odd = [
        {**SEED, "name": 'Quote \' and "double"', "created_at": "2024-03-01T09:30:00.918Z"},
        {**SEED, "uuid": OTHER_UUID, "name": "\u202eevil\nname", "system": None},
        {**SEED, "uuid": uuid + "1", "name": "Far", "created_at": "2263-01-01T00:00:00Z"},
        {**SEED, "uuid": uuid + "2", "name": "None", "created_at": None},
        {**SEED, "uuid": uuid + "3", "name": "日本", "status": "never_imported_yet!"},
    ]
    rsps.get(f"{BASE}/data_sources", json={"data_sources": odd})
    result = cli("list")
    assert result.code == 0
    frame = DataSourceTable([DataSource.from_dict(entry) for entry in odd]).to_frame()
    listing = sources_text(frame, max_rows=len(frame)).splitlines()
    assert listing[0] == "DataSourceTable: 5 data sources"
    assert result.lines == [line.removeprefix("  ") for line in listing[1:]]
    assert result.lines[0].startswith("'Quote \\' and \"double\"'  Custom  2024-03-01 09:30:00 UTC")
    assert any(line.startswith("'\\u202eevil\\nname'  ") for line in result.lines)  # one line
    no_time = result.lines[-2:]  # NaT (none given, or past 2262): last, the cell blank
    assert [line.split()[0] for line in no_time] == ["'None'", "'Far'"]
    assert all("UTC" not in line for line in no_time)
    uuids = sorted(line.rsplit(" ", 1)[1] for line in result.lines)  # the uuid closes each line
    assert uuids == sorted(entry["uuid"] for entry in odd)
    assert result.messages == ["cmnb: 5 data sources"]


def test_list_table_says_where_the_blocks_are(run: Callable[..., Run]) -> None:
    result = run("list", "--with-processing-status")
    assert "use --format csv or --format json" in result.err


def test_get_text_and_json(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    source = sandbox.add_source("Stripe", system="Stripe")
    text = run("get", source["uuid"], "--with-processing-status")
    assert text.code == 0
    assert f"uuid: {source['uuid']}" in text.lines
    assert "name: Stripe" in text.lines
    assert "system: Stripe" in text.lines
    assert any(line.startswith("processing_status.processed: ") for line in text.lines)
    as_json = json.loads(run("get", source["uuid"], "--format", "json").out)
    assert (as_json["uuid"], as_json["name"], as_json["status"]) == (
        source["uuid"],
        "Stripe",
        "idle",
    )


def test_delete_with_yes(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    source = sandbox.add_source("Doomed")
    result = run("delete", source["uuid"], "--yes")
    assert (result.code, result.lines) == (0, [f"deleted\t{source['uuid']}"])
    assert sandbox.sources() == []


def test_delete_refuses_without_yes_when_stdin_is_not_a_terminal(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = sandbox.add_source("Kept")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    result = run("delete", source["uuid"])
    assert (result.code, result.out) == (2, "")
    assert result.messages == [
        "cmnb: Not deleted: stdin is not a terminal to ask on; pass --yes to delete."
    ]
    assert names_in(sandbox) == ["Kept"]
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("answer", "deleted"), [("y\n", True), ("YES\n", True), ("n\n", False), ("", False)]
)
def test_delete_asks_on_a_terminal(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    deleted: bool,
) -> None:
    source = sandbox.add_source("Maybe")
    monkeypatch.setattr(sys, "stdin", FakeTTY(answer))
    result = run("delete", source["uuid"])
    assert f"Delete data source 'Maybe' ({source['uuid']}) from the sandbox at" in result.err
    assert "[y/N]" in result.err
    if deleted:
        assert (result.code, result.lines) == (0, [f"deleted\t{source['uuid']}"])
        assert sandbox.sources() == []
    else:
        assert (result.code, result.out) == (1, "")
        assert result.err.endswith("cmnb: not deleted.\n")
        assert names_in(sandbox) == ["Maybe"]


@pytest.mark.parametrize("stdin", [FakeTTY(""), InterruptedTTY()], ids=["ctrl-d", "ctrl-c"])
def test_delete_prompt_left_without_an_answer_ends_its_line(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch, stdin: Any
) -> None:
    # No Enter was echoed, so the next message must not be glued to the prompt.
    source = sandbox.add_source("Maybe")
    monkeypatch.setattr(sys, "stdin", stdin)
    result = run("delete", source["uuid"])
    assert result.code in (1, 130)
    assert result.messages[0].endswith("[y/N] ")
    assert result.messages[1] in ("cmnb: not deleted.", "cmnb: interrupted.")
    assert names_in(sandbox) == ["Maybe"]


def test_delete_unknown_uuid_on_a_terminal_fails_before_asking(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTTY("y\n"))
    result = run("delete", OTHER_UUID)
    assert result.code == 5
    assert "[y/N]" not in result.err


# --- exit codes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["list", "--format", "xml"],
        ["list", "--bogus"],
        ["get"],
        ["create", "--column", "name", "A"],
        ["create"],
        ["create", "A", "--concurrency", "50"],
        ["--timeout", "0", "list"],
        ["sandbox", "--fault", "create:teapot"],
        ["sandbox", "--port", "70000"],
        ["--sandbox", "--base-url", "http://127.0.0.1:1", "list"],
    ],
)
def test_bad_arguments_exit_2(cli: Callable[..., Run], argv: list[str]) -> None:
    result = cli(*argv)
    assert (result.code, result.out) == (2, "")
    assert result.err


def test_help_on_every_command(cli: Callable[..., Run]) -> None:
    for command in ([], ["create"], ["list"], ["get"], ["delete"], ["sandbox"], ["app"]):
        result = cli(*command, "--help")
        assert result.code == 0
        assert result.out.startswith(f"usage: cmnb {' '.join(command)}".rstrip())
    assert "--with-auto-churn-subscription-setting" in cli("list", "--help").out
    assert "exit codes:" in cli("--help").out


def test_global_options_before_or_after_the_command(
    cli: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    sandbox.add_source("Here")
    before = cli("--base-url", sandbox.url, "list", "--format", "json")
    after = cli("list", "--format", "json", "--base-url", sandbox.url)
    assert json.loads(before.out) == json.loads(after.out) != []


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        ({"status": 403}, 4, "This account may not do that (HTTP 403)"),
        (
            {"status": 429, "retry_after": 120},
            6,
            "Rate limited by the sandbox (HTTP 429): wait 120 s",
        ),
        ({"status": 500, "times": None}, 7, "The sandbox had a server error (HTTP 500)"),
        ({"status": 502, "times": None}, 7, "The sandbox had a server error (HTTP 502)"),
        ({"delay_s": 5}, 6, "Could not reach the sandbox (network down or timed out)"),
    ],
)
def test_exit_codes_from_sandbox_faults(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    fault: dict[str, Any],
    code: int,
    message: str,
) -> None:
    sandbox.faults.add("list", **fault)
    result = run("--timeout", "0.3", "list")
    assert (result.code, result.out) == (code, "")
    assert len(result.messages) == 1
    assert result.messages[0].startswith("cmnb: " + message)


@pytest.mark.parametrize("command", ["list", "get", "delete"])
def test_a_lost_answer_outside_create_does_not_suggest_ensure(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, command: str
) -> None:
    source = sandbox.add_source("Slow")
    endpoint = {"list": "list", "get": "retrieve", "delete": "delete"}[command]
    sandbox.faults.add(endpoint, reset=True, times=None)
    argv = {"list": ["list"], "get": ["get", source["uuid"]]}.get(
        command, ["delete", source["uuid"], "--yes"]
    )
    result = run("--timeout", "0.3", *argv)
    assert result.code == 6
    assert result.messages[0].startswith("cmnb: Could not reach the sandbox")
    assert "--ensure" not in result.err


def test_a_create_whose_answer_was_lost_still_suggests_ensure(
    run: Callable[..., Run], sandbox: cmnb.Sandbox
) -> None:
    sandbox.faults.add("create", reset=True, times=None)
    sandbox.faults.add("list", reset=True, times=None)  # the lookup for a lost answer fails too
    result = run("--timeout", "0.3", "create", "Lost")
    assert result.code == 6
    assert result.err.rstrip().endswith("Pass --ensure before trying again.")


def test_wrong_key_exits_4(run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", "not-the-key")
    result = run("list")
    assert result.code == 4
    assert result.messages == [
        "cmnb: The API key was not accepted (HTTP 401): use the key the sandbox was started with."
    ]


def test_not_found_exits_5(run: Callable[..., Run]) -> None:
    for argv in (["get", OTHER_UUID], ["delete", OTHER_UUID, "--yes"]):
        result = run(*argv)
        assert (result.code, result.out) == (5, "")
        assert result.messages[0].startswith("cmnb: The sandbox refused the request (HTTP 404).")


def test_bad_uuid_exits_3_and_sends_nothing(run: Callable[..., Run], sandbox: cmnb.Sandbox) -> None:
    for argv in (["get", "nope"], ["delete", "nope", "--yes"]):
        result = run(*argv)
        assert result.code == 3
        assert result.messages[0].startswith("cmnb: Not sent: That is not a data source uuid")
    assert sandbox.requests == []


def test_connection_refused_exits_6(
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    result = cli("--timeout", "0.2", "--base-url", f"http://127.0.0.1:{free_port()}", "list")
    assert result.code == 6
    # A base URL on this machine is a sandbox's: the message does not blame ChartMogul.
    assert result.messages[0].startswith("cmnb: Could not reach the sandbox")


def test_plain_http_to_a_remote_host_is_a_configuration_error(
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    result = cli("--base-url", "http://example.com", "list")
    assert result.code == 3
    assert result.messages[0].startswith("cmnb: Configuration problem: The base URL")


def test_unexpected_error_is_one_line_and_exit_1(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: DataSources, **kwargs: Any) -> list[DataSource]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(DataSources, "list", broken)
    result = run("list")
    assert result.code == 1
    assert result.messages == [
        "cmnb: unexpected error (RuntimeError); run again with --verbose for the traceback, "
        "and please report it."
    ]
    assert "Traceback" in run("-v", "list").err  # asked for


def test_ctrl_c_exits_130(run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: DataSources, **kwargs: Any) -> list[DataSource]:
        raise KeyboardInterrupt

    monkeypatch.setattr(DataSources, "list", interrupted)
    result = run("list")
    assert (result.code, result.messages) == (130, ["cmnb: interrupted."])


# --- where the key and the server come from --------------------------------------------------


def shared_state() -> Path:
    """Where the no-key commands keep their sandbox (tests/conftest.py points XDG_DATA_HOME at
    a temporary folder of each test's own)."""
    return Path(os.environ["XDG_DATA_HOME"]) / "cmnb" / "sandbox.json"


def test_no_key_commands_share_one_sandbox_kept_in_the_data_directory(
    cli: Callable[..., Run],
) -> None:
    created = cli("create", "Kept between runs")
    assert created.code == 0
    notice = created.messages[0]
    assert notice == (
        f"cmnb: {NO_KEY} kept in {shared_state()} (nothing leaves this machine; every cmnb "
        "command without a key shares it; `cmnb sandbox reset` empties it)."
    )
    listed = cli("list")
    assert listed.code == 0
    assert "Kept between runs" in listed.out
    assert listed.messages == [notice, "cmnb: 1 data source"]  # the file is named once
    assert [s["name"] for s in json.loads(shared_state().read_text())["sources"]] == [
        "Kept between runs"
    ]


def test_sandbox_flag_still_means_a_fresh_throwaway_sandbox(cli: Callable[..., Run]) -> None:
    assert cli("create", "In the shared one").code == 0
    forced = cli("--sandbox", "list")
    assert (forced.code, forced.out) == (0, "")
    assert forced.messages[0].startswith(f"cmnb: {FORCED}")
    assert cli("--sandbox", "create", "Throwaway").code == 0
    assert "Throwaway" not in cli("list").out


def test_sandbox_reset_empties_the_shared_sandbox(cli: Callable[..., Run]) -> None:
    assert cli("create", "One").code == 0
    assert cli("create", "Two").code == 0
    reset = cli("sandbox", "reset")
    assert reset.code == 0
    assert reset.messages == [
        f"cmnb: the sandbox in {shared_state()} is empty (2 sources removed)."
    ]
    listed = cli("list")
    assert (listed.code, listed.out) == (0, "")


def test_a_shared_state_file_that_is_not_one_is_refused_and_reset_mends_it(
    cli: Callable[..., Run],
) -> None:
    shared_state().parent.mkdir(parents=True)
    shared_state().write_text("not json", encoding="utf-8")
    broken = cli("list")
    assert broken.code == 3
    assert "`cmnb sandbox reset` starts it afresh" in broken.err
    assert cli("sandbox", "reset").code == 0
    assert cli("create", "Fresh").code == 0


def test_sandbox_shared_serves_the_shared_state_file(
    cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(cmnb.sandbox, "serve", lambda **kwargs: seen.update(kwargs))
    assert cli("sandbox", "--shared", "--port", "0").code == 0
    assert seen["path"] == shared_state()
    assert cli("sandbox", "--shared", "--path", "x.json").code == 2  # one or the other


def test_sandbox_flag_wins_over_a_configured_key(
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)  # would be LIVE: responses is not active
    result = cli("--sandbox", "create", "Safe")
    assert result.code == 0
    assert result.messages[0].startswith(f"cmnb: {FORCED}")


def test_key_and_base_url_from_dotenv(
    cli: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
) -> None:
    monkeypatch.delenv("CHARTMOGUL_API_KEY")
    Path(".env").write_text(
        f"CHARTMOGUL_API_KEY={canary}\nCHARTMOGUL_BASE_URL={sandbox.url}\n", encoding="utf-8"
    )
    sandbox.add_source("From dotenv")
    result = cli("list", "--format", "json")
    assert [s["name"] for s in json.loads(result.out)] == ["From dotenv"]
    assert result.err == ""


def test_base_url_from_the_environment(
    cli: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", sandbox.url)
    assert cli("create", "Via env").code == 0
    assert names_in(sandbox) == ["Via env"]


def test_base_url_without_a_key_is_refused(
    cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", "http://127.0.0.1:8765")
    result = cli("list")
    assert result.code == 3
    assert "A base URL is set (http://127.0.0.1:8765) but no API key" in result.err


def test_base_url_in_dotenv_without_a_key_is_refused(cli: Callable[..., Run]) -> None:
    Path(".env").write_text("CHARTMOGUL_BASE_URL=http://127.0.0.1:8765 # cmnb sandbox\n")
    result = cli("list")
    assert (result.code, result.out) == (3, "")
    assert result.messages == [
        "cmnb: Configuration problem: A base URL is set (http://127.0.0.1:8765) but no API key: "
        "set CHARTMOGUL_API_KEY (for `cmnb sandbox`, the key it printed), or drop the base URL "
        "to use the embedded sandbox."
    ]


def test_sandbox_flag_ignores_the_key_options(
    cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", "http://127.0.0.1:8765")  # not refused: unused
    result = cli("--sandbox", "--api-key-env", "NOT_SET", "list")
    assert result.code == 0
    assert result.messages[0].startswith(f"cmnb: {FORCED}")


def test_api_key_env(
    cli: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", "the-wrong-account")
    monkeypatch.setenv("SANDBOX_KEY", canary)
    ok = cli("--api-key-env", "SANDBOX_KEY", "--base-url", sandbox.url, "list")
    assert ok.code == 0
    missing = cli("--api-key-env", "NOT_SET", "--base-url", sandbox.url, "list")
    assert missing.code == 3
    assert missing.messages == [
        "cmnb: Configuration problem: --api-key-env NOT_SET: no such environment variable "
        "(or empty)."
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "A", "B"],
        ["create", "--dry-run", "--ensure", "A"],
        ["-v", "create", "A", "--ensure"],
        ["list"],
        ["list", "--format", "csv"],
        ["-v", "list", "--format", "json"],
        ["get", "ds_00000000-0000-4000-8000-000000000000"],
        ["delete", "ds_00000000-0000-4000-8000-000000000000", "--yes"],
        ["--timeout", "0.2", "list"],
    ],
)
def test_the_key_never_appears_in_any_output(
    cli: Callable[..., Run], sandbox: cmnb.Sandbox, argv: list[str]
) -> None:
    if "--timeout" in argv:  # an error path too
        sandbox.faults.add("any", status=500, times=None)
    result = cli("--base-url", sandbox.url, *argv)  # cli() checks for the canary
    assert result.out or result.err
    assert sandbox.requests or "--dry-run" in argv  # the canary really was the key in use
    if "-v" in argv:
        assert "Authorization': 'Basic ********'" in result.err


def test_the_key_never_appears_when_it_is_refused(
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
) -> None:
    with cmnb.Sandbox(rate_limit_per_s=None) as other:
        monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
        for argv in (["list"], ["-v", "create", "X"], ["get", UUID]):
            assert cli("--base-url", other.url, *argv).code == 4


# --- through responses: the exact requests ---------------------------------------------------


def test_create_through_responses(cli: Callable[..., Run], rsps: responses.RequestsMock) -> None:
    rsps.post(
        f"{BASE}/data_sources",
        json=SEED,
        status=201,
        match=[matchers.json_params_matcher({"name": "In-house billing"})],
    )
    result = cli("create", "In-house billing")
    assert (result.code, result.lines, result.err) == (
        0,
        [f"created\t{UUID}\tIn-house billing"],
        "",
    )


def test_create_ensure_through_responses(
    cli: Callable[..., Run], rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/data_sources", json={"data_sources": [SEED]})
    result = cli("create", "--ensure", "In-house billing")
    assert (result.code, result.lines) == (0, [f"existing\t{UUID}\tIn-house billing"])


def test_list_through_responses(cli: Callable[..., Run], rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{BASE}/data_sources",
        json={"data_sources": [SEED]},
        match=[
            matchers.query_param_matcher(
                {"name": "In-house billing", "system": "Custom", "with_processing_status": "true"}
            )
        ],
    )
    result = cli(
        "list",
        "--name",
        "In-house billing",
        "--system",
        "Custom",
        "--with-processing-status",
        "--format",
        "json",
    )
    assert json.loads(result.out) == [SEED]


def test_get_and_delete_through_responses(
    cli: Callable[..., Run], rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{BASE}/data_sources/{UUID}",
        json=SEED,
        match=[matchers.query_param_matcher({"with_invoice_handling_setting": "true"})],
    )
    rsps.delete(f"{BASE}/data_sources/{UUID}", status=204)
    got = cli("get", UUID, "--with-invoice-handling-setting")
    assert got.lines == [
        f"uuid: {UUID}",
        "name: In-house billing",
        "system: Custom",
        "created_at: 2023-01-10T15:34:05.918Z",
        "status: idle",
    ]
    assert cli("delete", UUID, "--yes").lines == [f"deleted\t{UUID}"]


def test_delete_prompt_says_live(
    cli: Callable[..., Run],
    rsps: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rsps.get(f"{BASE}/data_sources/{UUID}", json=SEED)
    monkeypatch.setattr(sys, "stdin", FakeTTY("n\n"))
    result = cli("delete", UUID)
    assert f"from LIVE {BASE}?" in result.err
    assert result.code == 1


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (400, {"code": 400, "message": 'Parameter "name" is missing', "param": "name"}, 3),
        (422, {"errors": {"name": "Is too long."}}, 3),
        (401, {"code": 401, "message": "No valid API key provided", "param": None}, 4),
        (404, {"code": 404, "message": "Data source not found", "param": None}, 5),
        (422, {"errors": {"name": "Has already been taken."}}, 5),
        (418, {"error": "I'm a teapot"}, 3),
    ],
)
def test_api_errors_through_responses(
    cli: Callable[..., Run],
    rsps: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    code: int,
) -> None:
    rsps.post(f"{BASE}/data_sources", json=body, status=status)
    if code == 5 and status == 422:  # the client looks the taken name up
        rsps.get(f"{BASE}/data_sources", json={"data_sources": [SEED]})
    result = cli("create", "In-house billing")
    assert result.code == code
    holder = UUID if status == 422 and code == 5 else "-"  # a taken name shows who holds it
    assert result.lines == [f"failed\t{holder}\tIn-house billing"]


def test_a_non_api_answer_is_a_server_error(
    cli: Callable[..., Run], rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/data_sources/{UUID}", body="<html>maintenance</html>", status=200)
    assert cli("get", UUID).code == 7


def test_network_error_through_responses(
    cli: Callable[..., Run], rsps: responses.RequestsMock
) -> None:
    import requests

    rsps.get(f"{BASE}/data_sources", body=requests.ConnectionError("connection reset"))
    result = cli("--timeout", "0.2", "list")
    assert result.code == 6
    assert "connection reset" in result.err


# --- sandbox and app -------------------------------------------------------------------------


def test_sandbox_command_runs_serve(
    cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(cmnb.sandbox, "serve", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    argv = ["sandbox", "--port", "9999", "--seed", "7", "--path", "state.json"]
    result = cli(*argv, "--fault", "create:500:after_commit", "--fault", "list:reset")
    assert result.code == 0
    assert (seen["port"], seen["seed"], seen["path"]) == (9999, 7, "state.json")
    assert [fault.spec() for fault in seen["faults"]] == [
        "create:500:after_commit:x1",
        "list:reset:x1",
    ]
    assert "api_key" not in seen  # the user's key is never handed to the sandbox


def test_sandbox_command_on_a_taken_port_exits_3(cli: Callable[..., Run]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("sandbox", "--port", str(taken.getsockname()[1]))
    assert result.code == 3
    assert "Cannot start the sandbox on port" in result.err


# --- real processes --------------------------------------------------------------------------


def python_m_cmnb(*argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cmnb", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


def test_python_m_cmnb_help() -> None:
    done = python_m_cmnb("--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: cmnb")
    for command in ("create", "list", "get", "delete", "sandbox", "app"):
        assert command in done.stdout


def test_python_m_cmnb_list_sandbox_without_widgets() -> None:
    done = python_m_cmnb("list", "--sandbox")
    assert (done.returncode, done.stdout) == (0, "")
    notice, count = done.stderr.splitlines()
    assert notice.startswith(f"cmnb: {FORCED} (nothing leaves this machine")
    assert count == "cmnb: No data sources yet."
    probe = (
        "import sys; from cmnb.cli import main; code = main(['--sandbox', 'create', 'X']); "
        "assert 'ipywidgets' not in sys.modules, 'the CLI imported ipywidgets'; sys.exit(code)"
    )
    checked = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_python_m_cmnb_sandbox_serves_until_ctrl_c_or_sigterm(
    tmp_path: Path, stop: signal.Signals
) -> None:
    state = tmp_path / "sandbox.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cmnb",
            "sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--path",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        key = process.stdout.readline().split()[2]
        assert url.startswith("http://127.0.0.1:") and key.startswith("sbx_")
        for line in process.stdout:  # every line of the banner: the handlers are in place
            if line.startswith("Ctrl-C"):
                break
        with cmnb.Client(key, base_url=url) as client:
            assert client.ping()
            created = client.data_sources.create("Kept")
        process.send_signal(stop)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.splitlines()[-1] == "cmnb sandbox stopped."
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sandbox.json"]  # no half-written file
    with cmnb.Sandbox(path=state) as again:
        assert [(s["uuid"], s["name"]) for s in again.sources()] == [(created.uuid, "Kept")]


def test_python_m_cmnb_create_ctrl_c_prints_the_partial_result(canary: str) -> None:
    names = [f"Source {i:02d}" for i in range(40)]
    with cmnb.Sandbox(canary, rate_limit_per_s=None, latency_s=0.05) as box:
        env = {**os.environ, "CHARTMOGUL_API_KEY": canary, "CHARTMOGUL_BASE_URL": box.url}
        process = subprocess.Popen(
            [sys.executable, "-m", "cmnb", "create", "--concurrency", "1", *names],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            for _ in range(600):  # interrupt once creating has started, not during imports
                if len(box.requests) >= 2 or process.poll() is not None:
                    break
                threading.Event().wait(0.05)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
        created = {source["name"]: source["uuid"] for source in box.sources()}
    assert process.returncode == 130, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [name for _, _, name in lines] == names  # one line per name, in input order
    assert {name: uuid for outcome, uuid, name in lines if outcome == "created"} == created
    assert {outcome for outcome, _, _ in lines} == {"created", "skipped"}
    assert "(interrupted)" in err
    assert "cmnb: interrupted: the names marked skipped were not sent." in err
    assert "Traceback" not in err and canary not in out + err


def test_exit_code_table_matches_the_errors() -> None:
    from cmnb.cli._context import exit_code_for
    from cmnb.errors import APIError, DuplicateNameError, InputError, RateLimitError

    assert exit_code_for(InputError("x")) == 3
    assert exit_code_for(DuplicateNameError(422, "taken", name="x")) == 5
    assert exit_code_for(RateLimitError(429, "slow down")) == 6
    assert exit_code_for(TransportError("down")) == 6
    assert exit_code_for(APIError(409, "conflict")) == 3
    assert exit_code_for(APIError(200, "not JSON")) == 7
    assert exit_code_for(ValueError()) == 1


def test_undecodable_argv_prints_instead_of_crashing(capsys: pytest.CaptureFixture[str]) -> None:
    # On POSIX, bytes that are not UTF-8 reach argv as lone surrogates (surrogateescape).
    code = main(["--no-such-option-\udcff"])
    assert code == 2
    assert "\\udcff" in capsys.readouterr().err


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_during_create_from_csv_sends_nothing_more(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, tmp_path: Path
) -> None:
    # The client's 40/s pacer sends each second's requests in a burst at its start; between
    # bursts every worker waits for its turn. A Ctrl-C then must not let any of them send.
    names = tmp_path / "names.csv"
    names.write_text("name\n" + "".join(f"CSV {i:03d}\n" for i in range(200)))
    signalled: list[float] = []

    def interrupt_between_bursts() -> None:
        for _ in range(4000):
            posts = [r for r in sandbox.requests if r.method == "POST"]
            quiet_s = time.monotonic() - max((r.received_at for r in posts), default=0.0)
            if len(posts) >= 45 and quiet_s > 0.1:
                signalled.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.005)

    threading.Thread(target=interrupt_between_bursts, daemon=True).start()
    result = run("create", "--from-csv", str(names))
    ended = time.monotonic()

    assert result.code == 130
    assert "cmnb: interrupted: the names marked skipped were not sent." in result.err
    posts = [r for r in sandbox.requests if r.method == "POST"]
    assert [r for r in posts if r.received_at > signalled[0]] == []
    assert ended - signalled[0] < 2.0
    lines = [line.split("\t") for line in result.out.splitlines()]
    assert len(lines) == 200
    assert sum(1 for line in lines if line[0] == "created") == len(posts) == len(sandbox.sources())
    assert {line[0] for line in lines} == {"created", "skipped"}
