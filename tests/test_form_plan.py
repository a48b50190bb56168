"""Preview and Apply in the form's bulk mode, driven as a user would: paste, Preview, read, Apply.

As in test_form_bulk.py, ``strict_callbacks`` makes ipywidgets re-raise what a callback raises,
so a callback that raised fails the test instead of being logged and forgotten.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import responses
from test_canary import leaks
from test_form_bulk import ESCAPED, HOSTILE, LIVE_URL, server_names, text_of

import cmnb
from cmnb.api._apply_result import ApplyOutcome, ApplyResult
from cmnb.api._bulk import BulkResult
from cmnb.api._models import DataSource
from cmnb.errors import ServerError, TransportError
from cmnb.notebook._bulk_panel import check_box
from cmnb.notebook._form import DataSourceForm
from cmnb.notebook._messages import describe_error
from cmnb.notebook._plan_panel import (
    CREATED_ALL,
    EDITED,
    PlanPanel,
    apply_frame,
    apply_status,
    refusal,
    sent_steps,
    table_changes,
)

LIST = ("GET", "/v1/data_sources")
CREATE = ("POST", "/v1/data_sources")


@pytest.fixture(autouse=True)
def _strict(strict_callbacks: None) -> None:
    """Form callbacks that raise fail the test (see tests/conftest.py)."""


@pytest.fixture
def sb() -> Iterator[cmnb.Sandbox]:
    with cmnb.Sandbox(seed=1, rate_limit_per_s=None) as sandbox:
        sandbox.add_source("Stripe", system="Stripe")
        yield sandbox


@pytest.fixture
def form(sb: cmnb.Sandbox) -> DataSourceForm:
    form = DataSourceForm(sb.client(max_attempts=1))
    form.mode_toggle.value = "bulk"
    form.bulk.concurrency = 1  # faults strike in input order
    return form


def panel(form: DataSourceForm) -> PlanPanel:
    return form.bulk.plan_panel


def preview(form: DataSourceForm, text: str) -> str:
    form.bulk.names_input.value = text
    panel(form).preview_button.click()
    return text_of(form.status)


def apply(form: DataSourceForm) -> str:
    panel(form).apply_button.click()
    form.bulk.wait()
    return text_of(form.status)


def _text(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell))


def table_rows(value: str) -> list[dict[str, str]]:
    """An HTML table as a user reads it: one {column: text} per row (by header, not position)."""
    heads = [_text(head) for head in re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", value, flags=re.S)]
    rows = re.findall(r"<tr>(.*?)</tr>", value, flags=re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows]
    return [dict(zip(heads, map(_text, row), strict=True)) for row in cells if row]


def plan_rows(form: DataSourceForm) -> list[tuple[str, str]]:
    """The plan under the box: (name, action) per row."""
    return [(row["name"], row["action"]) for row in table_rows(panel(form).view.value)]


def outcome_rows(form: DataSourceForm) -> dict[str, dict[str, str]]:
    """The rows under the status line, by name."""
    return {row["name"]: row for row in table_rows(form.bulk.outcome_view.value)}


def sent(sb: cmnb.Sandbox, since: int = 0) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sb.requests[since:]]


# -- the buttons ------------------------------------------------------------------------------


def test_the_buttons_sit_next_to_create_all_and_wait_for_names(form: DataSourceForm) -> None:
    row = form.bulk.box.children[2]
    assert row.children[:4] == (
        form.bulk.create_all_button,
        panel(form).preview_button,
        panel(form).apply_button,
        form.bulk.stop_button,
    )
    assert panel(form).view in form.bulk.box.children  # the plan shows under the box
    assert panel(form).preview_button.disabled and panel(form).apply_button.disabled
    form.bulk.names_input.value = "A"
    assert not panel(form).preview_button.disabled
    assert panel(form).apply_button.disabled  # nothing previewed yet
    form.mode_toggle.value = "single"
    assert form.bulk.box.layout.display == "none"  # the plan goes with the bulk widgets
    assert repr(form) == "DataSourceForm(mode=SANDBOX)"


# -- Preview ----------------------------------------------------------------------------------


def test_preview_shows_the_plan_and_sends_one_list(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    status = preview(form, "In-house billing\n\nStripe\n Legacy invoices \nStripe")
    assert status == (
        "Preview: 2 to create, 1 unchanged; nothing is created yet. Press Apply to create them."
    )
    assert sent(sb) == [LIST]
    assert server_names(sb) == ["Stripe"]  # nothing written
    assert plan_rows(form) == [
        ("In-house billing", "+ create"),
        ("Stripe", "= keep"),
        ("Legacy invoices", "+ create"),
    ]
    assert "Plan: 2 to create, 1 unchanged, 0 to delete" in text_of(panel(form).view)
    assert panel(form).plan is not None and panel(form).plan.changes == 2
    assert not panel(form).apply_button.disabled and not panel(form).preview_button.disabled
    assert form.bulk.outcome_view.value == "" and len(form.table) == 0


def test_a_preview_with_nothing_to_change_leaves_apply_off(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    assert preview(form, "Stripe") == "✔ Nothing to change: the name is in the account."
    assert plan_rows(form) == [("Stripe", "= keep")]
    assert panel(form).apply_button.disabled
    panel(form)._on_apply()  # even a click that got through
    assert sent(sb) == [LIST]
    sb.add_source("Other")
    assert preview(form, "Stripe\nOther") == "✔ Nothing to change: all 2 names are in the account."


def test_bad_lines_refuse_the_preview_and_nothing_is_sent(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    preview(form, "A")  # a preview that stands, then the box gets bad lines
    before = len(sb.requests)
    status = preview(form, "A\nbad\tname\n\nB\n\x00")
    assert status == (
        "✖ Not sent: 2 lines cannot be previewed (lines 2 and 5): fix or remove them first "
        "(the reasons are under the box)."
    )
    assert "line 2 “bad\tname”: The name contains a control character" in text_of(form.bulk.summary)
    assert len(sb.requests) == before
    assert panel(form).plan is None and panel(form).view.value == ""
    assert panel(form).apply_button.disabled
    preview(form, "\x01")  # nothing usable at all: refused the same way, Preview not greyed
    assert text_of(form.status).startswith("✖ Not sent: 1 line cannot be previewed (line 1)")
    assert len(sb.requests) == before


def test_refusal_lists_at_most_ten_line_numbers() -> None:
    check = check_box("\n".join(f"bad\t{n}" for n in range(13)))
    assert refusal(check) == (
        "Not sent: 13 lines cannot be previewed (lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 "
        "more): fix or remove them first (the reasons are under the box)."
    )


def test_editing_the_names_drops_the_preview(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    preview(form, "A\nB")
    form.bulk.names_input.value = "A\nB\n\n  "  # the same names: the preview stands
    assert not panel(form).apply_button.disabled and "+ create" in panel(form).view.value
    form.bulk.names_input.value = "A\nB \nA"  # still the same names, once each
    assert not panel(form).apply_button.disabled
    form.bulk.names_input.value = "A\nC"
    assert panel(form).apply_button.disabled and panel(form).plan is None
    assert text_of(panel(form).view) == EDITED
    form.bulk.names_input.value = "A\nB"  # back as it was: still a new preview to press
    assert panel(form).apply_button.disabled
    panel(form)._on_apply()
    assert sent(sb) == [LIST] and server_names(sb) == ["Stripe"]
    preview(form, "A\nC")
    assert not panel(form).apply_button.disabled
    assert [name for name, _ in plan_rows(form)] == ["A", "C"]


def test_create_all_drops_the_preview(form: DataSourceForm) -> None:
    preview(form, "A\nbad\tline\nB")  # refused: bad line
    preview(form, "A\nB")
    form.bulk.names_input.value = "A\nB\nbad\tline"  # the same names: the preview stands
    assert not panel(form).apply_button.disabled
    form.bulk.create_all_button.click()  # creates A and B; the bad line stays in the box
    assert form.bulk.names_input.value == "bad\tline"
    assert text_of(panel(form).view) == CREATED_ALL
    assert panel(form).apply_button.disabled


# -- Apply ------------------------------------------------------------------------------------


def test_apply_creates_the_previewed_names_and_fills_the_table(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    stripe = sb.sources()[0]
    text = "In-house billing\nStripe\n" + HOSTILE
    preview(form, text)
    before = len(sb.requests)
    status = apply(form)

    assert status == "✔ Applied: 2 created, 0 existing, 0 failed, 1 unchanged"
    # the API's apply: the account read again (kept steps), create_many's lookup, the creates
    assert sent(sb, before) == [LIST, LIST, CREATE, CREATE]
    assert sorted(server_names(sb)) == sorted(["Stripe", "In-house billing", HOSTILE])
    rows = outcome_rows(form)  # one row per name sent, as Create all shows them
    assert [(name, row["outcome"]) for name, row in rows.items()] == [
        ("In-house billing", "created"),
        (HOSTILE, "created"),
    ]
    assert HOSTILE not in form.bulk.outcome_view.value and ESCAPED in form.bulk.outcome_view.value
    # the table holds every desired name the account now holds, kept ones too
    assert [s.name for s in form.table] == ["In-house billing", "Stripe", HOSTILE]
    assert form.table.find_name("Stripe").uuid == stripe["uuid"]  # type: ignore[union-attr]
    assert "3 data sources" in text_of(form.table_view)
    result = panel(form).result
    assert result is not None and result.ok and len(result) == 3
    # the box keeps the desired list; the plan is spent, and the next preview finds nothing to do
    assert form.bulk.names_input.value == text
    assert panel(form).view.value == "" and panel(form).apply_button.disabled
    bar = form.bulk.progress
    assert bar is not None and (bar.bar.value, bar.bar.max) == (3, 3)
    assert bar.text.value == "3 steps: 2 created, 1 kept"
    assert preview(form, text) == "✔ Nothing to change: all 3 names are in the account."


def test_a_stale_preview_is_applied_truthfully(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    old = sb.add_source("Old")
    form.table.add(DataSource.from_dict(old))
    preview(form, "Old\nA\nB")
    with sb.client() as someone_else:  # meanwhile
        someone_else.data_sources.create("B")
        someone_else.data_sources.delete(old["uuid"])

    status = apply(form)
    assert status == (
        "✖ Applied: 1 created, 1 existing, 1 failed, 0 unchanged. "
        "Press Preview, then Apply, for the rest."
    )
    rows = outcome_rows(form)
    assert (rows["A"]["outcome"], rows["B"]["outcome"], rows["Old"]["outcome"]) == (
        "created",
        "existing",
        "failed",
    )
    assert "deleted after the plan was made" in rows["Old"]["error"]
    assert sorted(server_names(sb)) == ["A", "B", "Stripe"]  # Old is not re-created
    assert sorted(s.name for s in form.table) == ["A", "B"]  # nor kept in the table


def test_apply_under_faults_keeps_the_table_in_step(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    preview(form, "A\nB\nC\nStripe")
    sb.faults.add("create", status=400)  # A: refused
    sb.faults.add("create", status=500, after_commit=True)  # B: made, its answer lost

    status = apply(form)
    rows = outcome_rows(form)
    assert rows["A"]["outcome"] == "failed"
    assert rows["A"]["error"].startswith("The sandbox refused the request (HTTP 400).")
    assert rows["B"]["outcome"] in ("created", "existing") and rows["C"]["outcome"] == "created"
    assert status.startswith("✖ Applied: ") and "1 failed, 1 unchanged" in status
    # the table and the server agree on every desired name
    on_server = {s["name"]: s["uuid"] for s in sb.sources()}
    assert {s.name: s.uuid for s in form.table} == {k: on_server[k] for k in ("B", "C", "Stripe")}
    # as the status line says: Preview, then Apply, for the rest
    preview(form, "A\nB\nC\nStripe")
    assert plan_rows(form)[0] == ("A", "+ create")
    assert apply(form) == "✔ Applied: 1 created, 0 existing, 0 failed, 3 unchanged"
    assert sorted(server_names(sb)) == ["A", "B", "C", "Stripe"]
    assert len(form.table) == 4


def test_apply_failing_before_any_create_keeps_the_preview(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    preview(form, "A\nStripe")
    sb.faults.add("list", status=503)  # apply reads the account first: nothing is sent
    status = apply(form)
    assert status.startswith("✖ The sandbox had a server error (HTTP 503)")
    assert server_names(sb) == ["Stripe"] and len(form.table) == 0
    assert not panel(form).apply_button.disabled  # the preview still stands: try again
    assert "+ create" in panel(form).view.value
    assert apply(form) == "✔ Applied: 1 created, 0 existing, 0 failed, 1 unchanged"


def test_an_unknown_outcome_says_to_preview_before_sending_again(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    preview(form, "A\nB\nStripe")
    # B is made and its answer lost; the lookup that would settle it fails too
    sb.faults.add("create", reset=True, after_commit=True, skip=1)
    sb.faults.add("list", reset=True, times=None, skip=2)  # apply's two reads go through
    status = apply(form)
    assert status.startswith("✖ Applied: 1 created, 0 existing, 0 failed, 1 unknown")
    rows = outcome_rows(form)
    assert rows["B"]["outcome"] == "unknown"
    assert rows["B"]["error"].endswith(
        "may or may not exist. Press Preview before sending it again."
    )
    assert "reuse it" not in form.bulk.outcome_view.value  # Apply always reuses


def test_stop_during_a_threaded_apply_sends_nothing_more(sb: cmnb.Sandbox) -> None:
    form = DataSourceForm(sb.client(rate_limit_per_s=2))  # a 2/s pacer keeps workers waiting
    form.mode_toggle.value = "bulk"
    form.bulk.threaded = True
    names = [f"S{i}" for i in range(12)]
    preview(form, "\n".join(["Stripe", *names]))
    panel(form).apply_button.click()
    assert form.bulk.running and form.bulk.stop_button.layout.display != "none"
    assert panel(form).apply_button.disabled and panel(form).preview_button.disabled
    panel(form).preview_button.click()  # clicks during the run do nothing
    form.bulk.create_all_button.click()
    for _ in range(1000):
        if len([r for r in sb.requests if r.method == "POST"]) >= 3:
            break
        threading.Event().wait(0.01)
    form.bulk.stop_button.click()
    stopped_at = time.monotonic()
    assert form.bulk.wait(timeout=5)
    took = time.monotonic() - stopped_at

    result = panel(form).result
    assert result is not None and result.interrupted
    posts = [r for r in sb.requests if r.method == "POST"]
    assert [r for r in posts if r.received_at > stopped_at] == []
    assert took < 2.0
    assert result.counts["created"] == len(posts) == len(sb.sources()) - 1
    assert result.counts["created"] + result.counts["skipped"] == len(names)
    assert text_of(form.status).startswith("✖ Interrupted: ")
    assert text_of(form.status).endswith("1 unchanged. Press Preview, then Apply, for the rest.")
    assert "skipped" in [row["outcome"] for row in outcome_rows(form).values()]
    assert sorted(s.name for s in form.table) == sorted(s["name"] for s in sb.sources())
    assert form.bulk.stop_button.layout.display == "none"
    assert not panel(form).preview_button.disabled and panel(form).apply_button.disabled
    preview(form, form.bulk.names_input.value)  # the rest, previewed again
    assert panel(form).plan is not None
    assert panel(form).plan.counts["create"] == result.counts["skipped"]


@responses.activate
def test_going_live_forgets_the_preview(form: DataSourceForm, canary: str) -> None:
    responses.add_passthru("http://127.0.0.1")
    responses.get(f"{LIVE_URL}/ping", json={"data": "pong!"})
    preview(form, "A")
    form.key_input.value = canary
    form.go_live_button.click()
    assert form.mode == "LIVE"
    # the plan was the sandbox's: applying it would create there, not in the account
    assert panel(form).plan is None and panel(form).view.value == ""
    assert panel(form).apply_button.disabled and not panel(form).preview_button.disabled


# -- fakes: the exact call, the busy guard --------------------------------------------------------


class FakePlan:
    """What the form needs of a Plan: counts, changes, apply, and what plan_html reads."""

    def __init__(self, names: list[str], answer: Any) -> None:
        self.names, self.answer = names, answer
        self.calls: list[dict[str, Any]] = []
        self.counts = {"create": len(names), "keep": 0, "delete": 0, "ignore": 0}
        self.changes = len(names)
        self.steps: tuple[Any, ...] = ()

    def __len__(self) -> int:
        return 0

    def summary(self) -> str:
        return f"{len(self.names)} to create, 0 unchanged, 0 to delete"

    def apply(self, **kwargs: Any) -> ApplyResult:
        self.calls.append(kwargs)
        return self.answer(self.names)


def fake_form(answer: Any) -> tuple[DataSourceForm, list[FakePlan]]:
    plans: list[FakePlan] = []

    class DataSources:
        def plan(self, names: list[str]) -> FakePlan:
            plans.append(FakePlan(names, answer))
            return plans[-1]

    class Client:
        is_loopback = True
        base_url = "http://127.0.0.1:1/v1"
        data_sources = DataSources()

    form = DataSourceForm(Client())  # type: ignore[arg-type]
    form.mode_toggle.value = "bulk"
    return form, plans


def test_apply_passes_the_bar_the_stop_and_the_concurrency_and_clicks_meanwhile_do_nothing() -> (
    None
):
    seen: dict[str, Any] = {}

    def answer(names: list[str]) -> ApplyResult:
        seen["disabled"] = [
            b.disabled
            for b in (
                form.bulk.create_all_button,
                panel(form).preview_button,
                panel(form).apply_button,
            )
        ]
        panel(form).apply_button.click()  # clicks delivered while the apply runs
        panel(form)._on_apply()
        panel(form).preview_button.click()
        form.bulk.create_all_button.click()
        return ApplyResult(
            [ApplyOutcome(n, "create", "created", DataSource(f"ds_{n}", n)) for n in names]
        )

    form, plans = fake_form(answer)
    form.bulk.concurrency = 3
    preview(form, "A\nB")
    assert apply(form) == "✔ Applied: 2 created, 0 existing, 0 failed, 0 unchanged"
    [plan] = plans  # no second preview
    [kwargs] = plan.calls  # one apply
    assert kwargs["concurrency"] == 3 and kwargs["progress"] is form.bulk.progress
    assert isinstance(kwargs["stop"], threading.Event)
    assert "prune" not in kwargs and "confirm_deletes" not in kwargs
    assert seen["disabled"] == [True, True, True]
    assert [s.name for s in form.table] == ["A", "B"]
    assert not form._busy and not panel(form).preview_button.disabled


def broken(names: list[str]) -> ApplyResult:
    raise RuntimeError("boom <b>")


def test_an_unexpected_failure_is_one_status_line() -> None:
    form, _ = fake_form(broken)
    preview(form, "A")
    status = apply(form)
    assert status.startswith("✖ Unexpected error (RuntimeError); details are in the 'cmnb' logger")
    assert "boom" not in form.status.value
    assert not form._busy and not panel(form).preview_button.disabled


def test_a_failing_preview_is_one_status_line(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    sb.faults.add("list", status=401)
    status = preview(form, "A")
    assert status.startswith("✖ The API key was not accepted (HTTP 401)")
    assert panel(form).plan is None and panel(form).apply_button.disabled
    assert not panel(form).preview_button.disabled


# -- the pure helpers ---------------------------------------------------------------------------


def outcome(name: str, action: Any, kind: Any, **details: Any) -> ApplyOutcome:
    return ApplyOutcome(name, action, kind, **details)


def test_apply_status_and_rows() -> None:
    lost = TransportError("read timed out", method="POST", maybe_sent=True)
    result = ApplyResult(
        [
            outcome("A", "create", "created", source=DataSource("ds_a", "A")),
            outcome("K", "keep", "kept", source=DataSource("ds_k", "K")),
            outcome("F", "create", "failed", error=ServerError(502, "Bad Gateway")),
            outcome("U", "create", "unknown", error=lost),
            outcome("G", "keep", "failed", source=DataSource("ds_g", "G"), error=lost),
            outcome("S", "create", "skipped"),
        ],
        interrupted=True,
    )
    assert apply_status(result) == (
        "error",
        "Interrupted: 1 created, 0 existing, 2 failed, 1 unknown, 1 not sent, 1 unchanged. "
        "Press Preview, then Apply, for the rest.",
    )
    steps = sent_steps(result)
    assert isinstance(steps, BulkResult) and steps.interrupted
    assert [(o.name, o.outcome) for o in steps] == [
        ("A", "created"),
        ("F", "failed"),
        ("U", "unknown"),
        ("G", "failed"),
        ("S", "skipped"),
    ]
    frame = apply_frame(result)
    assert {"name", "outcome", "uuid", "created_at", "error"} <= set(frame.columns)
    errors = frame["error"].tolist()
    assert pd.isna(errors[0]) and errors[1] == describe_error(ServerError(502, "Bad Gateway"))
    assert errors[2].endswith("Press Preview before sending it again.")
    assert errors[4] == "Not sent: the run was interrupted."
    sources, gone = table_changes(result)
    assert [s.uuid for s in sources] == ["ds_a", "ds_k"] and gone == ["ds_g"]


# -- the key never shows ------------------------------------------------------------------------


def test_the_key_never_shows_in_preview_or_apply(
    canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        cmnb.Sandbox(canary, seed=5, rate_limit_per_s=None) as account,
        cmnb.Sandbox("sbx_another_key", rate_limit_per_s=None) as other,
    ):
        form = DataSourceForm(account.client(max_attempts=1))
        form.mode_toggle.value = "bulk"
        preview(form, "A\nB\nbad\tline")
        seen = [form.status.value]
        preview(form, "A\nB")
        account.faults.add("create", status=500, after_commit=True)
        seen += [form.status.value, panel(form).view.value, apply(form)]
        seen += [form.bulk.outcome_view.value, form.table_view.value, repr(panel(form).result)]
        wrong = DataSourceForm(other.client(api_key=canary, max_attempts=1))
        wrong.mode_toggle.value = "bulk"
        seen.append(preview(wrong, "A"))
        assert "401" in seen[-1]

        def state(form: DataSourceForm) -> str:
            def walk(widget: Any) -> Iterator[Any]:
                yield widget
                for child in getattr(widget, "children", ()):
                    yield from walk(child)

            return json.dumps([w.get_state() for w in walk(form.widget)], default=str)

        seen += [state(form), state(wrong), caplog.text, repr(form), repr(form.bulk.progress)]
        for c in (form.client, wrong.client):
            c.close()
    found = [text for text in seen if any(leak in text for leak in leaks(canary))]
    assert not found
