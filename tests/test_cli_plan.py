"""``cmnb plan`` and ``cmnb apply``, as a user types them, against a real sandbox: the formats,
names from stdin, bad rows, the confirmations (none without a terminal, ``[y/N]``, the typed
number of deletes, ``--yes``), pruning, the exit codes of failures, Ctrl-C, and the key.

Every run goes through the ``cli`` fixture (tests/conftest.py), which checks that the canary
key (in plain text or base64, as in an Authorization header) never reaches stdout or stderr.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clirun import FakeTTY, InterruptedTTY, Run

import cmnb
from cmnb.api._apply_result import ApplyInterrupted, ApplyOutcome, ApplyResult
from cmnb.api._plan import Plan

NOT_A_TERMINAL = "cmnb: Not applied: stdin is not a terminal, so there is no one to ask; pass --yes"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, canary: str) -> Iterator[cmnb.Sandbox]:
    """A sandbox whose key is the canary, configured as a user would (the key in the env);
    stdin is a script's (not a terminal) unless a test says otherwise."""
    with cmnb.Sandbox(canary, rate_limit_per_s=None) as box:
        monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        yield box


@pytest.fixture
def run(cli: Callable[..., Run], sandbox: cmnb.Sandbox) -> Callable[..., Run]:
    """``run("plan", "x.csv")`` = ``cmnb --base-url SANDBOX_URL plan x.csv``."""
    return lambda *argv: cli("--base-url", sandbox.url, *argv)


@pytest.fixture
def account(sandbox: cmnb.Sandbox) -> dict[str, dict[str, Any]]:
    """An account holding a Custom source, an old one to prune, and two integrations'."""
    return {
        name: sandbox.add_source(name, system=system, created_at="2024-03-01T09:00:00.000Z")
        for name, system in [
            ("In-house billing", "Custom"),
            ("Old import", "Custom"),
            ("Stripe", "Stripe"),
            ("Made long ago", "Import API"),
        ]
    }


def names_file(tmp_path: Path, *names: str, name: str = "sources.txt") -> str:
    path = tmp_path / name
    path.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    return str(path)


def table(text: str) -> list[dict[str, str]]:
    """The rows of a text table (``plan_text``, ``result_text``), read at its header's column
    positions; the summary line after them is left out."""
    header, *rows = text.splitlines()[:-1]
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    ends = [*starts[1:], None]
    columns = header.split()
    return [
        {
            column: row[start:end].strip()
            for column, start, end in zip(columns, starts, ends, strict=True)
        }
        for row in rows
    ]


def names_in(box: cmnb.Sandbox) -> list[str]:
    return [source["name"] for source in box.sources()]


def methods(box: cmnb.Sandbox) -> list[str]:
    return [request.method for request in box.requests]


def terminal(monkeypatch: pytest.MonkeyPatch, typed: str) -> None:
    """stdin is a terminal where the user types ``typed``."""
    monkeypatch.setattr(sys, "stdin", FakeTTY(typed))


# --- plan ------------------------------------------------------------------------------------


def test_plan_prints_a_table_and_sends_one_list(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    account: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    result = run("plan", names_file(tmp_path, "In-house billing", "Legacy invoices"))
    assert (result.code, result.err) == (0, "")
    assert table(result.out) == [
        {
            "name": "In-house billing",
            "action": "keep",
            "uuid": account["In-house billing"]["uuid"],
            "system": "Custom",
            "created_at": "2024-03-01 09:00:00 UTC",
        },
        {"name": "Legacy invoices", "action": "create", "uuid": "", "system": "", "created_at": ""},
    ]
    assert result.lines[-1] == "1 to create, 1 unchanged, 0 to delete"
    assert methods(sandbox) == ["GET"]


def test_plan_prune_deletes_only_custom_sources(
    run: Callable[..., Run], account: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    result = run("plan", names_file(tmp_path, "In-house billing"), "--prune")
    assert result.code == 0
    assert [(row["name"], row["action"], row["system"]) for row in table(result.out)] == [
        ("In-house billing", "keep", "Custom"),
        ("Made long ago", "ignore", "Import API"),  # an older API-made source: never deleted
        ("Old import", "delete", "Custom"),
        ("Stripe", "ignore", "Stripe"),
    ]
    assert result.lines[-1] == "0 to create, 1 unchanged, 1 to delete, 2 ignored (not Custom)"


def test_plan_as_json(
    run: Callable[..., Run], account: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    result = run("plan", names_file(tmp_path, "Legacy invoices"), "--prune", "--format", "json")
    assert result.code == 0
    steps = json.loads(result.out)
    assert steps[0] == {
        "name": "Legacy invoices",
        "action": "create",
        "uuid": None,
        "system": None,
        "created_at": None,
    }
    old = account["Old import"]
    assert {
        "name": "Old import",
        "action": "delete",
        "uuid": old["uuid"],
        "system": "Custom",
        "created_at": old["created_at"],
    } in steps
    # Desired names first, then the account's others by name.
    assert [(step["name"], step["action"]) for step in steps] == [
        ("Legacy invoices", "create"),
        ("In-house billing", "delete"),
        ("Made long ago", "ignore"),
        ("Old import", "delete"),
        ("Stripe", "ignore"),
    ]


def test_plan_as_csv_parses_back(
    run: Callable[..., Run], account: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    result = run("plan", names_file(tmp_path, "In-house billing", "Legacy"), "--format", "csv")
    assert result.code == 0
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert rows == [
        {
            "name": "In-house billing",
            "action": "keep",
            "uuid": account["In-house billing"]["uuid"],
            "system": "Custom",
            "created_at": "2024-03-01T09:00:00.000Z",  # as `cmnb list --format csv` writes it
        },
        {"name": "Legacy", "action": "create", "uuid": "", "system": "", "created_at": ""},
    ]


@pytest.mark.parametrize(
    "text",
    [
        "In-house billing\r\n\r\nLegacy, ops\n",  # one name per line; the comma is a name's
        "\ufeffnotes;name\nx;In-house billing\ny;Legacy, ops\n",  # a CSV with a name header
        "name\tnotes\nIn-house billing\tx\nLegacy, ops\ty\n",  # tab-separated
    ],
    ids=["lines", "semicolon-csv", "tsv"],
)
def test_plan_reads_names_from_stdin(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    result = run("plan", "-", "--format", "json")
    assert result.code == 0
    assert [step["name"] for step in json.loads(result.out)] == ["In-house billing", "Legacy, ops"]


@pytest.mark.parametrize("from_stdin", [False, True], ids=["file", "stdin"])
def test_plan_reports_every_bad_row_and_sends_nothing(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    from_stdin: bool,
) -> None:
    text = "name,notes\nGood,\n   ,blank\nGood,again\nTab\there,\n"
    path = tmp_path / "sources.csv"
    path.write_text(text, encoding="utf-8")
    origin = "stdin" if from_stdin else "sources.csv"
    for argv in (["plan"], ["apply", "--yes"]):
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
        result = run(*argv, "-" if from_stdin else str(path))
        assert (result.code, result.out) == (3, "")
        assert result.messages == [
            f"cmnb: {origin}: 3 of 4 rows refused; nothing was sent:",
            "cmnb:   line 3: '   ': The name is blank (only whitespace).",
            "cmnb:   line 4: 'Good' is given twice (first at line 2).",
            "cmnb:   line 5: 'Tab\\there': The name contains a control character (U+0009).",
        ]
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("nowhere.csv", "cmnb: Not sent: Cannot read nowhere.csv: No such file or directory."),
        ("sources.xlsx", "cmnb: Not sent: 'sources.xlsx' is not a .csv, .tsv or .txt file"),
    ],
)
def test_plan_of_a_file_it_cannot_read_exits_3(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, file: str, message: str
) -> None:
    result = run("plan", file)
    assert (result.code, result.out) == (3, "")
    assert result.messages[0].startswith(message)
    assert sandbox.requests == []


# --- apply: confirmations --------------------------------------------------------------------


def test_apply_without_a_terminal_shows_the_plan_and_refuses(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, tmp_path: Path
) -> None:
    result = run("apply", names_file(tmp_path, "In-house billing"))
    assert (result.code, result.out) == (2, "")  # as `cmnb delete` without a terminal
    assert "In-house billing  create" in result.err
    assert result.messages[-1].startswith(NOT_A_TERMINAL)
    assert methods(sandbox) == ["GET"]  # the plan's one list, nothing more
    assert names_in(sandbox) == []


def test_apply_with_names_on_stdin_needs_yes(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTTY("In-house billing\n"))  # even on a terminal
    refused = run("apply", "-")
    assert refused.code == 2
    assert refused.messages[-1] == (
        "cmnb: Not applied: stdin holds the names, so there is no one to ask; pass --yes to apply."
    )
    assert names_in(sandbox) == []

    monkeypatch.setattr(sys, "stdin", io.StringIO("In-house billing\n"))
    assert run("apply", "-", "--yes").code == 0
    assert names_in(sandbox) == ["In-house billing"]


def test_apply_yes_creates_and_a_second_run_changes_nothing(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    account: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    file = names_file(tmp_path, "In-house billing", "Legacy invoices")
    result = run("apply", file, "--yes")
    assert result.code == 0
    created = next(s for s in sandbox.sources() if s["name"] == "Legacy invoices")
    assert table(result.out) == [
        {
            "name": "In-house billing",
            "action": "keep",
            "outcome": "kept",
            "uuid": account["In-house billing"]["uuid"],
            "error": "",
        },
        {
            "name": "Legacy invoices",
            "action": "create",
            "outcome": "created",
            "uuid": created["uuid"],
            "error": "",
        },
    ]
    assert result.lines[-1] == "2 steps: 1 created, 1 kept"
    assert "[y/N]" not in result.err

    sandbox.requests.clear()
    again = run("apply", file)  # no --yes and no terminal: nothing to ask about
    assert (again.code, again.out) == (0, "")
    assert again.messages == ["cmnb: nothing to change: 0 to create, 2 unchanged, 0 to delete."]


@pytest.mark.parametrize(("typed", "applied"), [("y\n", True), ("yes\n", True), ("n\n", False)])
def test_apply_asks_y_or_n_on_a_terminal(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    typed: str,
    applied: bool,
) -> None:
    terminal(monkeypatch, typed)
    result = run("apply", names_file(tmp_path, "In-house billing"))
    assert (
        f"Apply this plan (1 to create, 0 unchanged, 0 to delete) to the sandbox at {sandbox.url}?"
        " [y/N] "
    ) in result.err
    if applied:
        assert result.code == 0
        assert result.lines[-1] == "1 steps: 1 created"
        assert names_in(sandbox) == ["In-house billing"]
    else:
        assert (result.code, result.out) == (1, "")
        assert result.err.endswith("[y/N] cmnb: not applied.\n")  # a terminal echoes the Enter
        assert methods(sandbox) == ["GET"]


@pytest.mark.parametrize(("typed", "applied"), [("2\n", True), ("1\n", False), ("y\n", False)])
def test_apply_with_deletes_asks_for_their_number(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    account: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    typed: str,
    applied: bool,
) -> None:
    sandbox.add_source("Trial import")
    terminal(monkeypatch, typed)
    result = run("apply", names_file(tmp_path, "In-house billing"), "--prune")
    assert "Old import" in result.err and "Trial import" in result.err  # the plan, first
    assert "Stripe" not in result.err  # ignored steps are no change
    assert (
        f"This deletes 2 data sources from the sandbox at {sandbox.url}, and everything imported"
        " into them; this cannot be undone. To apply, type the number of deletes: "
    ) in result.err
    if applied:
        assert result.code == 0
        assert result.lines[-1] == "5 steps: 3 kept, 2 deleted"
        assert names_in(sandbox) == ["In-house billing", "Stripe", "Made long ago"]
    else:
        assert (result.code, result.out) == (1, "")
        assert result.err.endswith(
            f"deletes: cmnb: not applied: you typed {typed.strip()!r}; the plan deletes 2.\n"
        )
        assert methods(sandbox) == ["GET"]
        assert len(names_in(sandbox)) == 5


@pytest.mark.parametrize("stdin", [FakeTTY(""), InterruptedTTY()], ids=["ctrl-d", "ctrl-c"])
def test_apply_prompt_left_without_an_answer_sends_nothing(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    stdin: Any,
) -> None:
    monkeypatch.setattr(sys, "stdin", stdin)
    result = run("apply", names_file(tmp_path, "In-house billing"))
    assert result.code in (1, 130)
    assert result.messages[-1] in ("cmnb: not applied.", "cmnb: interrupted.")
    assert result.messages[-2].endswith("[y/N] ")  # the next message starts its own line
    assert methods(sandbox) == ["GET"]


def test_apply_prune_yes_deletes_custom_sources_only(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    account: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    result = run("apply", names_file(tmp_path, "In-house billing", "New one"), "--prune", "--yes")
    assert result.code == 0
    assert result.lines[-1] == "5 steps: 1 created, 3 kept, 1 deleted"
    outcomes = {row["name"]: (row["outcome"], row["uuid"]) for row in table(result.out)}
    assert outcomes["Old import"] == ("deleted", account["Old import"]["uuid"])
    assert outcomes["Stripe"][0] == outcomes["Made long ago"][0] == "kept"  # ignored, left be
    assert sorted(names_in(sandbox)) == ["In-house billing", "Made long ago", "New one", "Stripe"]
    deletes = [r.path for r in sandbox.requests if r.method == "DELETE"]
    assert deletes == [f"/v1/data_sources/{account['Old import']['uuid']}"]


def test_apply_prune_of_an_empty_list_is_refused(
    run: Callable[..., Run], sandbox: cmnb.Sandbox, account: dict[str, dict[str, Any]]
) -> None:
    # An empty pipe (its producer failed) must not wipe the account, even with --yes.
    result = run("apply", "-", "--prune", "--yes")
    assert (result.code, result.out) == (3, "")
    assert result.messages == [
        "cmnb: Not sent: stdin holds no names; with --prune that would delete every Custom "
        "source (2). Not applied."
    ]
    assert methods(sandbox) == ["GET"]


def test_apply_draws_the_bulk_progress_bar_on_a_terminal(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bar = FakeTTY()
    monkeypatch.setattr(sys, "stderr", bar)
    names = [f"Source {i}" for i in range(8)]
    assert run("apply", names_file(tmp_path, *names), "--yes").code == 0
    assert "create_many [" in bar.getvalue() and "8/8" in bar.getvalue()


# --- apply: failures, unknown, Ctrl-C ---------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "status", "code", "message"),
    [
        ("create", 500, 7, "cmnb: failed create 'New one': The sandbox had a server error"),
        ("delete", 403, 4, "cmnb: failed delete 'Old import': This account may not do that"),
        ("create", 422, 3, "cmnb: failed create 'New one': "),
    ],
)
def test_apply_failures_exit_like_create(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    account: dict[str, dict[str, Any]],
    tmp_path: Path,
    endpoint: str,
    status: int,
    code: int,
    message: str,
) -> None:
    sandbox.faults.add(endpoint, status=status, times=None)
    file = names_file(tmp_path, "In-house billing", "New one")
    result = run("--timeout", "2", "apply", file, "--prune", "--yes")
    assert result.code == code
    assert [row["outcome"] for row in table(result.out)].count("failed") == 1
    assert any(m.startswith(message) for m in result.messages)


def test_a_lost_delete_answer_nobody_can_settle_is_unknown_and_exits_6(
    run: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    account: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    sandbox.faults.add("delete", reset=True, times=None)
    sandbox.faults.add("retrieve", reset=True, times=None)  # the delete's own lookup fails
    sandbox.faults.add("list", reset=True, times=None, skip=2)  # the plan's and apply's pass
    file = names_file(tmp_path, "In-house billing", "Stripe", "Made long ago")
    result = run("--timeout", "0.5", "apply", file, "--prune", "--yes")
    assert result.code == 6
    assert result.lines[-1] == "4 steps: 3 kept, 1 unknown"
    assert result.messages[-1].startswith("cmnb: 1 unknown: the answer was lost")


def test_ctrl_c_during_apply_prints_the_partial_result_and_exits_130(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    partial = ApplyResult(
        [
            ApplyOutcome("First", "create", "created"),
            ApplyOutcome("Later", "create", "skipped"),
        ],
        interrupted=True,
    )

    def interrupted(self: Plan, **kwargs: Any) -> ApplyResult:
        raise ApplyInterrupted(partial)

    monkeypatch.setattr(Plan, "apply", interrupted)
    result = run("apply", names_file(tmp_path, "First", "Later"), "--yes")
    assert result.code == 130
    assert [(row["name"], row["outcome"]) for row in table(result.out)] == [
        ("First", "created"),
        ("Later", "skipped"),
    ]
    assert result.lines[-1] == "2 steps: 1 created, 1 skipped (interrupted)"
    assert result.messages[-1] == "cmnb: interrupted: the steps marked skipped were not sent."


# --- the key, help, imports ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "plan", "FILE", "--prune"],
        ["plan", "FILE", "--format", "csv"],
        ["-v", "apply", "FILE", "--prune", "--yes"],
        ["--timeout", "0.3", "apply", "FILE", "--yes"],
    ],
)
def test_the_key_never_appears_in_any_output(
    cli: Callable[..., Run],
    sandbox: cmnb.Sandbox,
    account: dict[str, dict[str, Any]],
    tmp_path: Path,
    argv: list[str],
) -> None:
    if "--timeout" in argv:  # an error path too
        sandbox.faults.add("any", status=500, times=None)
    file = names_file(tmp_path, "In-house billing", "New one")
    result = cli("--base-url", sandbox.url, *[file if arg == "FILE" else arg for arg in argv])
    assert result.out or result.err  # cli() checked both for the canary
    assert sandbox.requests  # the canary really was the key in use
    if "-v" in argv:
        assert "Authorization': 'Basic ********'" in result.err


def test_help(cli: Callable[..., Run]) -> None:
    for command in ("plan", "apply"):
        result = cli(command, "--help")
        assert result.code == 0
        assert result.out.startswith(f"usage: cmnb {command}")
        assert "--prune" in result.out
    assert "plan" in cli("--help").out and "apply" in cli("--help").out


def test_plan_and_apply_load_no_widgets(tmp_path: Path) -> None:
    names = names_file(tmp_path, "X")
    probe = (
        "import sys; from cmnb.cli import main; "
        f"codes = [main(['--sandbox', c, {names!r}, '--yes'][: 4 if c == 'apply' else 3]) "
        "for c in ('plan', 'apply')]; "
        "assert 'ipywidgets' not in sys.modules and 'IPython' not in sys.modules, 'widgets'; "
        "sys.exit(max(codes))"
    )
    checked = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr
