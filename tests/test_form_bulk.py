"""The form's bulk mode, driven as a user would: switch mode, paste lines, tick, click, read.

As in test_form.py, ``strict_callbacks`` makes ipywidgets re-raise what a callback raises, so a
callback that raised fails the test instead of being logged and forgotten.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
import responses

import cmnb
from cmnb.api._bulk import BulkInterrupted, BulkOutcome, BulkResult
from cmnb.api._models import DataSource
from cmnb.errors import DuplicateNameError, ServerError
from cmnb.notebook._bulk_panel import (
    BoxCheck,
    check_box,
    outcome_frame,
    remaining_lines,
    run_status,
    summary_html,
)
from cmnb.notebook._form import DataSourceForm
from cmnb.notebook._render import outcomes_html

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
LIVE_URL = "https://api.chartmogul.com/v1"


@pytest.fixture(autouse=True)
def _strict(strict_callbacks: None) -> None:
    """Form callbacks that raise fail the test (see tests/conftest.py)."""


@pytest.fixture
def sb() -> Iterator[cmnb.Sandbox]:
    with cmnb.Sandbox(seed=1, rate_limit_per_s=None) as sandbox:
        yield sandbox


@pytest.fixture
def form(sb: cmnb.Sandbox) -> DataSourceForm:
    form = DataSourceForm(sb.client(max_attempts=1))
    form.mode_toggle.value = "bulk"
    form.bulk.concurrency = 1  # faults strike in input order
    return form


def text_of(widget: widgets.HTML) -> str:
    """What a user reads: tags dropped, entities decoded, list items on their own lines."""
    value = re.sub(r"<li>", "\n", widget.value)
    return html.unescape(re.sub(r"<[^>]+>", "", value))


def outcome_rows(form: DataSourceForm) -> list[list[str]]:
    """The outcome table as a user reads it: one list of cell texts per row."""
    rows = re.findall(r"<tr>(.*?)</tr>", form.bulk.outcome_view.value, flags=re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows]
    return [[html.unescape(c) for c in row] for row in cells if row]


def create_all(form: DataSourceForm, text: str, *, reuse: bool) -> str:
    form.reuse_checkbox.value = reuse
    form.bulk.names_input.value = text
    form.bulk.create_all_button.click()
    return text_of(form.status)


def server_names(sb: cmnb.Sandbox) -> list[str]:
    return [s["name"] for s in sb.sources()]


def shown(widget: widgets.Widget) -> bool:
    return widget.layout.display != "none"


# -- switching modes and the live check ------------------------------------------------------------


def test_the_toggle_swaps_the_rows_and_single_mode_is_unchanged(sb: cmnb.Sandbox) -> None:
    form = DataSourceForm(sb.client())
    assert form.mode_toggle.value == "single"
    assert [label for label, _ in form.mode_toggle.options] == ["One name", "Many names"]
    assert shown(form.single_row) and not shown(form.bulk.box)
    assert not shown(form.bulk.outcome_view)
    form.mode_toggle.value = "bulk"
    assert not shown(form.single_row) and shown(form.bulk.box) and shown(form.bulk.outcome_view)
    assert form.bulk.names_input.description == "Names"
    assert form.bulk.create_all_button.description == "Create all"
    assert form.bulk.create_all_button.disabled
    assert text_of(form.bulk.summary) == "Type or paste one name per line."
    form.mode_toggle.value = "single"
    assert shown(form.single_row) and not shown(form.bulk.box)
    assert repr(form) == "DataSourceForm(mode=SANDBOX)"


def test_live_summary_lists_invalid_lines_and_repeats(form: DataSourceForm) -> None:
    form.bulk.names_input.value = "Billing US\n\n  Billing EU \na\tb\n   \nBilling US\nStripe"
    assert text_of(form.bulk.summary) == (
        "3 names to send. 1 line cannot be sent (fix or remove):"
        "\nline 4 “a\tb”: The name contains a control character (U+0009)."
        "\n“Billing US” is on lines 1 and 6: it is sent once."
    )
    assert not form.bulk.create_all_button.disabled
    form.bulk.names_input.value = "a\tb\n\x00"
    assert text_of(form.bulk.summary).startswith("No name to send. 2 lines cannot be sent")
    assert form.bulk.create_all_button.disabled
    form.bulk.names_input.value = "\n  \n\t\n"  # blank lines are ignored, not errors
    assert text_of(form.bulk.summary) == "Type or paste one name per line."
    assert form.bulk.create_all_button.disabled


def test_a_click_with_nothing_valid_sends_nothing(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    form.bulk.names_input.value = "a\tb"
    form.bulk._on_create_all()  # even a click that got through
    assert sb.requests == []
    assert form.status.value == ""


def test_check_box_rules() -> None:
    # U+001C and U+2028 end a line for str.splitlines(); in the box they are inside a name
    check = check_box("x\n\n x \ny\x1cz\n\r\nx\r\nlast\nline\u2028sep")
    assert check.names == ("x", "last", "line\u2028sep")
    assert check.invalid == ((4, "y\x1cz", "The name contains a control character (U+001C)."),)
    assert check.repeated == (("x", (1, 3, 6)),)  # "x\r" is x: the \r is whitespace
    assert check_box("").empty and check_box(" \n\n").empty and BoxCheck().empty
    assert not check_box("\x01").empty


def test_summary_lists_at_most_ten_problems_and_escapes() -> None:
    text = "\n".join(f"{HOSTILE}\t{n}" for n in range(12))
    value = summary_html(check_box(text))
    assert HOSTILE not in value and ESCAPED in value
    assert value.count("<li>") == 11
    assert "… and 2 more" in value


def test_remaining_lines_drops_blank_and_done_lines() -> None:
    text = "A\n\n B \nC\n  \nA \nbad\tline"
    assert remaining_lines(text, ["A", "B"]) == "C\nbad\tline"
    assert remaining_lines(text, []) == "A\n B \nC\nA \nbad\tline"


def outcome(name: str, kind: Any, index: int, **details: Any) -> BulkOutcome:
    return BulkOutcome(name, kind, index=index, **details)


@pytest.mark.parametrize(
    ("outcomes", "interrupted", "not_sent", "expected"),
    [
        (["created", "existing"], False, 0, ("ok", "1 created, 1 existing, 0 failed")),
        (
            ["created", "failed"],
            False,
            0,
            ("error", "1 created, 0 existing, 1 failed. The lines not done are still in the box."),
        ),
        (
            ["created"],
            False,
            2,
            (
                "error",
                "1 created, 0 existing, 0 failed; 2 invalid lines not sent. "
                "The lines not done are still in the box.",
            ),
        ),
        (
            ["created", "skipped", "skipped"],
            True,
            0,
            (
                "error",
                "Interrupted: 1 created, 0 existing, 0 failed, 2 not sent. "
                "The lines not done are still in the box.",
            ),
        ),
    ],
)
def test_run_status(
    outcomes: list[str], interrupted: bool, not_sent: int, expected: tuple[str, str]
) -> None:
    result = BulkResult(
        [outcome(f"n{i}", kind, i) for i, kind in enumerate(outcomes)], interrupted=interrupted
    )
    assert run_status(result, not_sent=not_sent) == expected


# -- against the sandbox ---------------------------------------------------------------------------

MIXED = "\n".join(["A", "", "B", "Old", "bad\tname", " C ", "A", HOSTILE])


def add_faults(sb: cmnb.Sandbox) -> None:
    # A (the first create): refused. A 400 concerns that request only; a 401 or 403 would stop
    # the whole run (the account refuses everything), which is create_many's business.
    sb.faults.add("create", status=400)
    # B (the next one): created, then the answer is lost. The client or create_many finds it
    # again, or (create mode) reports it failed with the uuid found: the form only relays.
    sb.faults.add("create", status=500, after_commit=True)


def assert_consistent(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    """Every sent name: on the server at most once; in the table and out of the box iff ok."""
    result = form.bulk.result
    assert result is not None
    box = [line.strip() for line in form.bulk.names_input.value.split("\n")]
    on_server = server_names(sb)
    for o in result:
        assert on_server.count(o.name) <= 1
        assert (form.table.find_name(o.name) is not None) is o.ok
        assert (o.name in box) is (not o.ok)


def test_create_mode_with_faults(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    old = sb.add_source("Old")
    add_faults(sb)
    status = create_all(form, MIXED, reuse=False)

    rows = outcome_rows(form)
    assert [row[0] for row in rows] == ["A", "B", "Old", "C", HOSTILE]
    outcomes = {row[0]: row[1] for row in rows}
    assert {k: outcomes[k] for k in ("A", "Old", "C", HOSTILE)} == {
        "A": "failed",
        "Old": "failed",
        "C": "created",
        HOSTILE: "created",
    }
    b_uuid = next(s["uuid"] for s in sb.sources() if s["name"] == "B")
    assert rows[1][4] == b_uuid  # created or not, the row says which source holds the name
    assert outcomes["B"] in ("created", "failed")
    created = 3 if outcomes["B"] == "created" else 2
    assert status == (
        f"✖ {created} created, 0 existing, {5 - created} failed; 1 invalid line not sent. "
        "The lines not done are still in the box."
    )
    # issue 15: the columns are name, outcome, created_at, error, uuid
    assert rows[0][3].startswith("The sandbox refused the request (HTTP 400).")
    assert rows[2][4] == old["uuid"]
    assert rows[2][3] == (
        f"A data source named “Old” already exists ({old['uuid']}). "
        "Tick “If it exists, reuse it” to use it."
    )
    # created sources join the table; failed lines (and the invalid one) stay in the box
    assert form.table.find_name("C") is not None and form.table.find_name(HOSTILE) is not None
    assert form.table.find_name("Old") is None
    assert f"{created} data sources" in text_of(form.table_view)
    kept = "A\nB\nOld\nbad\tname\nA" if outcomes["B"] == "failed" else "A\nOld\nbad\tname\nA"
    assert form.bulk.names_input.value == kept
    assert sorted(server_names(sb)) == sorted(["Old", "B", "C", HOSTILE])
    assert_consistent(sb, form)
    assert not form.bulk.create_all_button.disabled  # ready to retry


def test_ensure_mode_with_faults_then_retry(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    old = sb.add_source("Old")
    add_faults(sb)
    status = create_all(form, MIXED, reuse=True)

    rows = outcome_rows(form)
    outcomes = {row[0]: row[1] for row in rows}
    assert [row[0] for row in rows] == ["A", "B", "Old", "C", HOSTILE]
    assert outcomes["B"] in ("created", "existing")  # its lost answer was found again
    assert {k: outcomes[k] for k in ("A", "Old", "C", HOSTILE)} == {
        "A": "failed",
        "Old": "existing",
        "C": "created",
        HOSTILE: "created",
    }
    created = 3 if outcomes["B"] == "created" else 2
    assert status.startswith(
        f"✖ {created} created, {4 - created} existing, 1 failed; 1 invalid line not sent."
    )
    # created AND existing sources go into the table
    assert sorted(s.name for s in form.table) == sorted(["B", "Old", "C", HOSTILE])
    assert form.table.find_name("Old").uuid == old["uuid"]  # type: ignore[union-attr]
    assert form.bulk.names_input.value == "A\nbad\tname\nA"
    assert_consistent(sb, form)

    # the user fixes the invalid line and retries: only what is left is sent
    before = len(sb.requests)
    form.bulk.names_input.value = "A\nbad name"
    form.bulk.create_all_button.click()
    assert text_of(form.status) == "✔ 2 created, 0 existing, 0 failed"
    sent = [(r.method, r.path) for r in sb.requests[before:]]
    assert sent == [("GET", "/v1/data_sources")] + [("POST", "/v1/data_sources")] * 2
    assert form.bulk.names_input.value == ""
    assert form.bulk.create_all_button.disabled  # nothing left: a queued click does nothing
    form.bulk.create_all_button.click()
    assert len(sb.requests) == before + 3
    assert sorted(server_names(sb)) == sorted(["Old", "A", "B", "C", HOSTILE, "bad name"])
    assert len(form.table) == 6


def test_the_form_sends_only_create_many_requests(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    create_all(form, "One\nTwo\nThree", reuse=True)
    assert [(r.method, r.path) for r in sb.requests] == [("GET", "/v1/data_sources")] + [
        ("POST", "/v1/data_sources")
    ] * 3
    assert text_of(form.status) == "✔ 3 created, 0 existing, 0 failed"


def test_hostile_names_are_escaped_everywhere(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    sb.add_source("<script>x</script>")
    create_all(form, f"{HOSTILE}\n<script>x</script>\n<b>\tbold</b>", reuse=False)
    view = form.bulk.outcome_view.value
    assert HOSTILE not in view and ESCAPED in view
    assert "<script>" not in view and "&lt;script&gt;x&lt;/script&gt;" in view
    assert "<b>" not in form.bulk.summary.value and "&lt;b&gt;" in form.bulk.summary.value
    assert HOSTILE not in form.table_view.value and ESCAPED in form.table_view.value
    assert "<script>" not in form.status.value


def test_progress_bar_counts_every_name_up_to_total(form: DataSourceForm) -> None:
    seen: list[int] = []

    def watch(change: Any) -> None:
        if change["owner"] is not None and change["name"] == "value":
            seen.append(change["new"])

    names = "\n".join(f"Source {n}" for n in range(7))
    form.bulk.names_input.value = names
    original = form.bulk._create_all

    def spying(*args: Any) -> tuple[str, str]:
        assert form.bulk.progress is not None
        form.bulk.progress.bar.observe(watch, names="value")
        return original(*args)

    form.bulk._create_all = spying  # type: ignore[method-assign]
    form.bulk.create_all_button.click()
    bar = form.bulk.progress
    assert bar is not None
    assert form.bulk.progress_slot.children == (bar.box,)
    assert isinstance(bar.bar, widgets.IntProgress)
    assert (bar.bar.value, bar.bar.max) == (7, 7)
    assert bar.bar.bar_style == "success"
    assert bar.text.value == "7 names: 7 created, 0 failed"
    assert seen == sorted(seen) and seen[-1] == 7


def test_a_second_run_gets_a_fresh_bar(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    sb.faults.add("create", status=403)
    create_all(form, "X\nY", reuse=False)
    first = form.bulk.progress
    assert first is not None and first.bar.bar_style == "warning"
    create_all(form, "X", reuse=False)
    second = form.bulk.progress
    assert second is not None and second is not first
    assert (second.bar.value, second.bar.max, second.bar.bar_style) == (1, 1, "success")
    assert form.bulk.progress_slot.children == (second.box,)


# -- fakes: exact calls, the busy guard, interrupts ---------------------------------------------


class FakeDataSources:
    """Only create_many: the form must not need anything else for a bulk run."""

    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.during: list[dict[str, bool]] = []

    def create_many(self, names: list[str], **kwargs: Any) -> BulkResult:
        self.calls.append((list(names), kwargs))
        form = self.client.form
        if form is not None:
            self.during.append(
                {
                    "create_all": form.bulk.create_all_button.disabled,
                    "create": form.create_button.disabled,
                    "toggle": form.mode_toggle.disabled,
                }
            )
            # clicks delivered while the run is in flight
            form.bulk.create_all_button.click()
            form.bulk._on_create_all()
            form.name_input.value = "Single"
            form.create_button.click()
        return self.client.answer(names, kwargs)


class FakeClient:
    is_loopback = True
    base_url = "http://127.0.0.1:1/v1"

    def __init__(self, answer: Any) -> None:
        self.form: DataSourceForm | None = None
        self.answer = answer
        self.data_sources = FakeDataSources(self)


def fake_form(answer: Any) -> tuple[DataSourceForm, FakeDataSources]:
    client = FakeClient(answer)
    form = DataSourceForm(client)  # type: ignore[arg-type]
    client.form = form
    form.mode_toggle.value = "bulk"
    return form, client.data_sources


def all_created(names: list[str], kwargs: dict[str, Any]) -> BulkResult:
    outcomes = [
        outcome(name, "created", i, source=DataSource(f"ds_{i}", name))
        for i, name in enumerate(names)
    ]
    progress = kwargs.get("progress")
    if callable(progress):
        for done, o in enumerate(outcomes, start=1):
            progress(done, len(outcomes), o)
    return BulkResult(outcomes)


@pytest.mark.parametrize(("reuse", "mode"), [(True, "ensure"), (False, "create")])
def test_reuse_box_picks_the_mode_and_valid_names_go_once(reuse: bool, mode: str) -> None:
    form, data_sources = fake_form(all_created)
    form.bulk.concurrency = 5
    create_all(form, " A \n\nB\nA\nbad\tline\nC", reuse=reuse)
    [(names, kwargs)] = data_sources.calls
    assert names == ["A", "B", "C"]
    assert kwargs["mode"] == mode and kwargs["concurrency"] == 5
    assert kwargs["progress"] is form.bulk.progress


def test_busy_guard_ignores_clicks_during_the_run() -> None:
    form, data_sources = fake_form(all_created)
    status = create_all(form, "A\nB", reuse=False)
    assert len(data_sources.calls) == 1  # the nested clicks sent nothing
    assert data_sources.during == [{"create_all": True, "create": True, "toggle": True}]
    assert status == "✔ 2 created, 0 existing, 0 failed"
    assert [s.name for s in form.table] == ["A", "B"]  # no "Single" either
    assert not form._busy and not form.mode_toggle.disabled
    assert form.bulk.names_input.value == ""
    form.bulk.create_all_button.click()  # a click queued behind the run: the box is empty
    assert len(data_sources.calls) == 1


def partial(names: list[str], kwargs: dict[str, Any]) -> BulkResult:
    raise BulkInterrupted(
        BulkResult(
            [
                outcome(names[0], "created", 0, source=DataSource("ds_0", names[0])),
                outcome(names[1], "failed", 1, error=ServerError(502, "Bad Gateway")),
                outcome(names[2], "skipped", 2),
            ],
            interrupted=True,
        )
    )


def test_interrupt_shows_the_partial_result_never_a_traceback() -> None:
    form, _ = fake_form(partial)
    status = create_all(form, "A\nB\nC", reuse=True)
    assert status == (
        "✖ Interrupted: 1 created, 0 existing, 1 failed, 1 not sent. "
        "The lines not done are still in the box."
    )
    assert "Traceback" not in form.status.value + form.bulk.outcome_view.value
    assert [row[1] for row in outcome_rows(form)] == ["created", "failed", "skipped"]
    assert outcome_rows(form)[2][3] == "Not sent: the run was interrupted."
    assert [s.name for s in form.table] == ["A"]
    assert form.bulk.names_input.value == "B\nC"
    assert form.bulk.result is not None and form.bulk.result.interrupted
    assert not form._busy and not form.bulk.create_all_button.disabled


def plain_interrupt(names: list[str], kwargs: dict[str, Any]) -> BulkResult:
    raise KeyboardInterrupt


def broken(names: list[str], kwargs: dict[str, Any]) -> BulkResult:
    raise RuntimeError("boom <b>")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (plain_interrupt, "✖ Interrupted: the request may or may not have reached ChartMogul."),
        (broken, "✖ Unexpected error (RuntimeError); details are in the 'cmnb' logger"),
    ],
)
def test_other_failures_become_one_status_line(answer: Any, expected: str) -> None:
    form, _ = fake_form(answer)
    status = create_all(form, "A\nB", reuse=False)
    assert status.startswith(expected)
    assert "boom" not in status
    assert form.bulk.names_input.value == "A\nB"  # nothing is known: every line stays
    assert not form._busy and not form.bulk.create_all_button.disabled


def test_observer_never_raises(monkeypatch: pytest.MonkeyPatch, form: DataSourceForm) -> None:
    def broken_check(text: str) -> BoxCheck:
        raise ValueError("check broke")

    monkeypatch.setattr("cmnb.notebook._bulk_panel.check_box", broken_check)
    form.bulk.names_input.value = "A"
    assert text_of(form.status).startswith("✖ Unexpected error (ValueError)")


@responses.activate
def test_going_live_forgets_the_sandbox_outcomes(form: DataSourceForm, canary: str) -> None:
    responses.add_passthru("http://127.0.0.1")
    responses.get(f"{LIVE_URL}/ping", json={"data": "pong!"})
    create_all(form, "Sandbox one", reuse=False)
    assert outcome_rows(form) and form.bulk.result is not None
    form.key_input.value = canary
    form.go_live_button.click()
    assert form.mode == "LIVE"
    assert form.bulk.outcome_view.value == "" and form.bulk.result is None
    assert form.bulk.progress_slot.children == ()


# -- the outcome table renderer ------------------------------------------------------------------


def test_outcome_frame_speaks_the_forms_words() -> None:
    error = DuplicateNameError(422, "taken", name="Old")
    result = BulkResult([outcome("Old", "failed", 0, error=error), outcome("New", "skipped", 1)])
    frame = outcome_frame(result)
    # issue 15 changed the order: the name first, the uuid last (the note: see outcomes_html)
    assert list(frame.columns) == ["name", "outcome", "created_at", "error", "note", "uuid"]
    assert list(frame["error"]) == [
        "A data source named “Old” already exists. Tick “If it exists, reuse it” to use it.",
        "Not sent: the run was interrupted.",
    ]


def test_outcomes_html_keeps_order_and_puts_problems_first_when_cut() -> None:
    frame = pd.DataFrame(
        {
            "name": [f"n{i}" for i in range(25)],
            "outcome": ["failed" if i in (3, 24) else "created" for i in range(25)],
            "uuid": [None] * 25,
            "created_at": pd.to_datetime([None] * 25, utc=True),
            "error": [None] * 25,
        }
    )
    small = outcomes_html(frame.head(3))
    assert '<p class="cmnb-note">3 names</p>' in small
    assert re.findall(r">(n\d+)<", small) == ["n0", "n1", "n2"]
    big = outcomes_html(frame)
    assert "showing 20 of 25 names (problems first)" in big
    assert re.findall(r">(n\d+)<", big)[:3] == ["n3", "n24", "n0"]
    assert outcomes_html(frame.head(0)) == (
        '<div class="cmnb-outcomes"><p class="cmnb-note">No names were sent.</p></div>'
    )
    assert outcomes_html(frame) == outcomes_html(frame)  # deterministic
    with pytest.raises(ValueError):
        outcomes_html(frame, max_rows=0)


# -- issue 12: unknown outcomes --------------------------------------------------------------------


def test_run_status_counts_unknown_apart_from_failed() -> None:
    result = BulkResult([outcome("A", "created", 0), outcome("B", "unknown", 1)])
    assert run_status(result) == (
        "error",
        "1 created, 0 existing, 0 failed, 1 unknown. The lines not done are still in the box.",
    )


def test_a_lost_answer_the_lookup_cannot_settle_is_unknown_in_the_form(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    sb.faults.add("create", reset=True, after_commit=True, skip=1)  # B is made, its answer lost
    sb.faults.add("list", reset=True, times=None)  # the lookup that would tell fails
    form.reuse_checkbox.value = False  # create mode: that lookup is the only list
    form.bulk.names_input.value = "A\nB\nC"
    form.bulk.create_all_button.click()

    assert form.bulk.result is not None
    assert [o.outcome for o in form.bulk.result] == ["created", "unknown", "created"]
    assert "2 created, 0 existing, 0 failed, 1 unknown" in text_of(form.status)
    rows = text_of(form.bulk.outcome_view)
    assert "unknown" in rows and "may or may not exist" in rows
    assert form.bulk.names_input.value == "B"  # not done: it stays in the box


def test_a_lost_answer_found_by_the_lookup_is_created_with_a_note(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    sb.faults.add("create", status=502, after_commit=True, skip=1)  # B is made, its answer lost
    form.bulk.names_input.value = "A\nB\nC"
    form.bulk.create_all_button.click()

    assert form.bulk.result is not None
    assert [o.outcome for o in form.bulk.result] == ["created"] * 3
    assert "answer was lost" in text_of(form.bulk.outcome_view)
    assert [s["name"] for s in sb.sources()] == ["A", "B", "C"]
    assert form.bulk.names_input.value == ""


# -- Stop: stop sending --------------------------------------------------------------------------


def test_stop_during_a_threaded_run_sends_nothing_more(sb: cmnb.Sandbox) -> None:
    # In a kernel the run goes on in a thread so that Stop can be clicked; the test clicks it
    # from its own thread, as the kernel would. A 2/s pacer keeps the workers waiting their turn.
    form = DataSourceForm(sb.client(rate_limit_per_s=2))
    form.mode_toggle.value = "bulk"
    form.bulk.threaded = True
    names = [f"S{i}" for i in range(12)]
    form.bulk.names_input.value = "\n".join(names)
    assert form.bulk.stop_button.layout.display == "none"  # only while a run goes on

    form.bulk.create_all_button.click()
    assert form.bulk.running and form.bulk.stop_button.layout.display != "none"
    for _ in range(1000):
        if len([r for r in sb.requests if r.method == "POST"]) >= 2:
            break
        threading.Event().wait(0.01)
    # The pacer lets 2 go at once, then the next 2 about a second later: click in between, so
    # that no request is on its way at the moment of the click (one already written to the
    # socket would rightly finish, and arrive after it).
    threading.Event().wait(0.3)
    form.bulk.stop_button.click()
    stopped_at = time.monotonic()
    assert "Stopping" in text_of(form.status)
    assert form.bulk.wait(timeout=5)
    took = time.monotonic() - stopped_at

    result = form.bulk.result
    assert result is not None and result.interrupted
    sent = [r for r in sb.requests if r.method == "POST"]
    assert [r for r in sent if r.received_at > stopped_at] == []  # nothing after Stop
    assert took < 2.0
    assert result.counts["created"] == len(sent) == len(sb.sources())
    assert result.counts["created"] + result.counts["skipped"] == len(names), [
        (o.outcome, repr(o.error)) for o in result if o.outcome not in ("created", "skipped")
    ]
    assert text_of(form.status).startswith("✖ Interrupted:")
    left = form.bulk.names_input.value.split("\n")
    assert left == [o.name for o in result.skipped]  # the names not sent stay in the box
    assert form.bulk.stop_button.layout.display == "none"
    assert not form.bulk.create_all_button.disabled  # ready for the rest


def test_stop_is_shown_only_during_a_run_and_a_stale_click_does_nothing(
    form: DataSourceForm,
) -> None:
    seen: list[object] = []
    real = form.bulk._create_many

    def watching(names: list[str], **options: Any) -> BulkResult:
        seen.append(form.bulk.stop_button.layout.display)
        seen.append(options["stop"])
        return real(names, **options)

    form.bulk._create_many = watching
    form.bulk.stop_button.click()  # no run: nothing happens
    form.bulk.names_input.value = "A\nB"
    form.bulk.create_all_button.click()
    assert form.bulk.result is not None and not form.bulk.result.interrupted
    assert seen[0] is None and isinstance(seen[1], threading.Event)
    assert form.bulk.stop_button.layout.display == "none"


def test_the_live_summary_isolates_every_name_it_quotes() -> None:
    # A right-to-left override inside a pasted name must not reverse the words after it.
    rtl = "Billing \u202eSU"
    check = check_box(f"{rtl}\n{rtl}\nbad\x07name")
    html = summary_html(check)
    assert f"“<bdi>{rtl}</bdi>” is on lines 1 and 2: it is sent once." in html
    assert "line 3 “<bdi>" in html  # the refused line, isolated too
