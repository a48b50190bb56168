"""DataSourceForm, driven as a user would: type, tick, click, read what the form shows.

``Button.click()`` swallows exceptions raised by callbacks (it only logs them), so the autouse
``strict_callbacks`` fixture makes ipywidgets' dispatcher re-raise: a callback that raised
would fail the test instead of passing silently.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import pytest
import requests
import responses

import cmnb
from cmnb.api._models import DataSource
from cmnb.errors import (
    AuthenticationError,
    ConfigError,
    DuplicateNameError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from cmnb.notebook._form import DataSourceForm
from cmnb.notebook._table import DataSourceTable

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
    return DataSourceForm(sb.client(max_attempts=1))


def text_of(widget: widgets.HTML) -> str:
    """What a user reads: the HTML with tags dropped and entities decoded."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", widget.value))


def every_widget(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from every_widget(child)


def all_state(form: DataSourceForm) -> str:
    return json.dumps([w.get_state() for w in every_widget(form.widget)], default=str)


def create(form: DataSourceForm, name: str, *, reuse: bool = False) -> str:
    form.reuse_checkbox.value = reuse
    form.name_input.value = name
    form.create_button.click()
    return text_of(form.status)


# -- what the user sees first --------------------------------------------------------------------


def test_fresh_form_in_sandbox_mode(form: DataSourceForm) -> None:
    assert form.name_input.description == "Source name"
    assert form.create_button.description == "Create"
    assert form.reuse_checkbox.description == "If it exists, reuse it"
    assert text_of(form.mode_line) == "SANDBOX — nothing leaves this machine."
    assert form.key_row.layout.display is None  # no key configured: offer to go LIVE
    assert form.create_button.disabled
    assert text_of(form.hint) == "The name is empty."
    assert text_of(form.table_view) == "No data sources yet."
    assert form.status.value == ""
    assert form.name_input.continuous_update


def test_only_core_widgets_common_to_ipywidgets_7_and_8(form: DataSourceForm) -> None:
    allowed = (
        widgets.HTML,
        widgets.Text,
        widgets.Button,
        widgets.Checkbox,
        widgets.Box,
        widgets.ToggleButtons,  # the one name / many names switch and bulk mode's widgets
        widgets.Textarea,
        widgets.IntProgress,
        widgets.Label,
    )
    assert all(isinstance(w, allowed) for w in every_widget(form.widget))
    assert isinstance(form.key_input, widgets.Password)


def test_client_none_uses_connect() -> None:
    form = DataSourceForm()
    assert form.mode == "SANDBOX"
    assert "Created “From connect”" in create(form, "From connect")


# -- live validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("   ", "The name is blank (only whitespace)."),
        ("a\tb", "The name contains a control character (U+0009)."),
        ("", "The name is empty."),
    ],
)
def test_invalid_names_disable_create(form: DataSourceForm, typed: str, hint: str) -> None:
    form.name_input.value = "fine"
    assert not form.create_button.disabled and form.hint.value == ""
    form.name_input.value = typed
    assert text_of(form.hint) == hint
    assert form.create_button.disabled


def test_name_already_in_the_table_is_refused_before_sending(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    create(form, "Billing")
    requests_before = len(sb.requests)
    form.name_input.value = " Billing "
    assert text_of(form.hint) == "“Billing” is already in this table."
    assert form.create_button.disabled
    form._on_create()  # even a click that got through is refused
    assert len(sb.requests) == requests_before
    assert "Created “Billing”" in text_of(form.status)  # the last outcome stays visible


# -- outcomes against the sandbox ----------------------------------------------------------------


def test_create_shows_name_and_uuid_and_fills_the_table(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    status = create(form, "In-house billing")
    [made] = sb.sources()
    assert status == f"✔ Created “In-house billing” — {made['uuid']}"
    assert "In-house billing" in form.table_view.value
    assert made["uuid"] in form.table_view.value
    assert list(form.table.df["uuid"]) == [made["uuid"]]
    assert form.name_input.value == ""  # ready for the next name
    assert form.create_button.disabled  # ... which is empty, so Create waits


def test_status_colours_follow_the_jupyter_theme_with_the_light_colours_as_fallbacks(
    form: DataSourceForm,
) -> None:
    create(form, "Themed")
    assert 'style="color: var(--jp-success-color1, #1a7f37)"' in form.status.value
    create(form, "Themed")  # already in the table: refused
    assert 'style="color: var(--jp-error-color1, #b3261e)"' in form.hint.value
    assert "border-bottom: 1px solid var(--jp-border-color1, #999)" in form.table_view.value


def test_table_is_newest_first_and_is_form_table(form: DataSourceForm) -> None:
    create(form, "First")
    create(form, "Second")
    view = form.table_view.value
    assert view.index("Second") < view.index("First")
    assert "2 data sources" in text_of(form.table_view)
    assert form.table_view.value == form.table._repr_html_()
    assert list(form.table.df["name"]) == ["First", "Second"]


def test_duplicate_name_shows_the_existing_uuid(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    existing = sb.add_source("Taken")
    status = create(form, "Taken")
    assert status == (
        f"✖ A data source named “Taken” already exists ({existing['uuid']}). "
        "Tick “If it exists, reuse it” to use it."
    )
    assert len(form.table) == 0
    assert form.name_input.value == "Taken"  # kept, so the user can tick reuse and retry
    assert not form.create_button.disabled


def test_reuse_checkbox_switches_to_get_or_create(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    existing = sb.add_source("Taken")
    assert create(form, "Taken", reuse=True) == (f"✔ Reused existing “Taken” — {existing['uuid']}")
    assert [s.uuid for s in form.table] == [existing["uuid"]]
    status = create(form, "Brand new", reuse=True)
    assert status.startswith("✔ Created “Brand new” — ds_")
    assert [s["name"] for s in sb.sources()] == ["Taken", "Brand new"]


def test_hostile_name_is_escaped_in_status_and_table(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    create(form, HOSTILE)
    assert len(sb.sources()) == 1
    for html_value in (form.status.value, form.table_view.value):
        assert HOSTILE not in html_value
        assert ESCAPED in html_value
    create(form, "<b>dup</b>")
    sb.add_source("<script>x</script>")
    create(form, "<script>x</script>")
    assert "&lt;script&gt;x&lt;/script&gt;" in form.status.value
    assert "<script>" not in form.status.value


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 403}, "✖ This account may not do that (HTTP 403): is the trial expired?"),
        ({"retry_after": 2}, "✖ Rate limited by the sandbox (HTTP 429): wait 2 s and try again."),
        ({"status": 500}, "✖ The sandbox had a server error (HTTP 500); try again shortly."),
        ({"reset": True}, "✖ Could not reach the sandbox (network down or timed out)"),
    ],
)
def test_sandbox_faults_become_short_messages(
    sb: cmnb.Sandbox, form: DataSourceForm, fault: dict[str, Any], expected: str
) -> None:
    sb.faults.add("create", **fault)
    status = create(form, "Billing")
    assert status.startswith(expected)
    assert "Traceback" not in status
    assert not form.create_button.disabled  # restored, the name is still valid
    assert len(form.table) == 0


def test_bad_key_against_the_sandbox(sb: cmnb.Sandbox) -> None:
    form = DataSourceForm(sb.client(api_key="not-the-key", max_attempts=1))
    assert create(form, "Billing").startswith("✖ The API key was not accepted (HTTP 401)")


# -- every error class, one short message each ---------------------------------------------------


class FakeDataSources:
    def __init__(self, outcome: BaseException | DataSource, form_ref: list[DataSourceForm]):
        self.outcome = outcome
        self.form_ref = form_ref
        self.calls: list[str] = []
        self.disabled_during_call: list[bool] = []

    def create(self, name: str) -> DataSource:
        self.calls.append(name)
        form = self.form_ref[0] if self.form_ref else None
        if form is not None:
            self.disabled_during_call.append(form.create_button.disabled)
            form.create_button.click()  # a second click while this request is in flight
            form._on_create()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def get_or_create(self, name: str) -> tuple[DataSource, bool]:
        return self.create(name), False


class FakeClient:
    is_loopback = True
    base_url = "http://127.0.0.1:1/v1"

    def __init__(self, outcome: BaseException | DataSource) -> None:
        self.form_ref: list[DataSourceForm] = []
        self.data_sources = FakeDataSources(outcome, self.form_ref)


def fake_form(outcome: BaseException | DataSource) -> tuple[DataSourceForm, FakeClient]:
    client = FakeClient(outcome)
    form = DataSourceForm(client)  # type: ignore[arg-type]
    client.form_ref.append(form)
    return form, client


def duplicate_with_existing() -> DuplicateNameError:
    error = DuplicateNameError(422, "name: Has already been taken.", name="Billing")
    error.attach_existing(DataSource("ds_existing", "Billing"))
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (duplicate_with_existing(), "already exists (ds_existing)"),
        (DuplicateNameError(422, "taken", name="Billing"), "named “Billing” already exists."),
        (AuthenticationError(401, "No valid API key provided"), "API key was not accepted"),
        (ForbiddenError(403, "Trial expired"), "HTTP 403): is the trial expired? Server said: "),
        (RateLimitError(429, "slow down", retry_after_s=1.5), "wait 1.5 s and try again"),
        (RateLimitError(429, "slow down"), "wait a few seconds and try again"),
        (TransportError("connection refused"), "network down or timed out): connection refused"),
        (TransportError("read timeout", maybe_sent=True), "read timeout. Tick “If it exists"),
        (ServerError(502, "Bad Gateway"), "HTTP 502); try again shortly. Server said: Bad"),
        (InputError("The name is too long.", field="name"), "Not sent: The name is too long."),
        (NotFoundError(404, "Data source not found"), "refused the request (HTTP 404)"),
        (ConfigError("no key"), "Configuration problem: no key"),
        (RuntimeError("boom <b>"), "Unexpected error (RuntimeError); details are in the 'cmnb'"),
        (KeyboardInterrupt(), "Interrupted: the request may or may not have reached"),
    ],
)
def test_each_error_class_has_a_short_message(error: BaseException, expected: str) -> None:
    form, client = fake_form(error)
    form.name_input.value = "Billing"
    form.create_button.click()  # must not raise (strict_callbacks would re-raise)
    status = text_of(form.status)
    assert status.startswith("✖ ")
    assert expected in status
    assert "boom" not in status  # unexpected errors keep their details for the log
    assert client.data_sources.calls == ["Billing"]
    assert not form.create_button.disabled  # restored in finally
    assert not form._busy


def test_unexpected_error_details_go_to_the_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    form, _ = fake_form(RuntimeError("boom details"))
    with caplog.at_level(logging.DEBUG, logger="cmnb"):
        create(form, "Billing")
    assert any(
        r.name == "cmnb" and r.exc_info and "boom details" in str(r.exc_info[1])
        for r in caplog.records
    )


def test_busy_guard_ignores_clicks_during_a_request() -> None:
    made = DataSource("ds_made", "Billing")
    form, client = fake_form(made)
    status = create(form, "Billing")
    # the nested click and the nested direct call both arrived mid-request: both ignored
    assert client.data_sources.calls == ["Billing"]
    assert client.data_sources.disabled_during_call == [True]
    assert status == "✔ Created “Billing” — ds_made"
    # a click queued behind the request finds the name cleared and already in the table
    form.create_button.click()
    assert client.data_sources.calls == ["Billing"]
    assert text_of(form.status) == "✔ Created “Billing” — ds_made"


def test_a_failing_render_is_still_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    form, _ = fake_form(DataSource("ds_made", "Billing"))

    def broken() -> str:
        raise ValueError("render broke")

    monkeypatch.setattr(form.table, "_repr_html_", broken)
    assert create(form, "Billing").startswith("✖ Unexpected error (ValueError)")
    assert not form._busy


def test_observer_never_raises(monkeypatch: pytest.MonkeyPatch, form: DataSourceForm) -> None:
    def broken(name: str) -> None:
        raise RuntimeError("find_name broke")

    monkeypatch.setattr(form.table, "find_name", broken)
    form.name_input.value = "Billing"  # the observer runs; it must not raise into traitlets
    assert text_of(form.status).startswith("✖ Unexpected error (RuntimeError)")


# -- responses: the same form against a LIVE URL ---------------------------------------------------


@pytest.fixture
def live_form(canary: str) -> DataSourceForm:
    return DataSourceForm(cmnb.Client(api_key=canary, base_url=LIVE_URL, max_attempts=1))


@responses.activate
def test_live_mode_line_never_shows_the_key(live_form: DataSourceForm, canary: str) -> None:
    assert text_of(live_form.mode_line) == f"LIVE — requests go to {LIVE_URL}"
    assert live_form.key_row.layout.display == "none"
    assert repr(live_form) == "DataSourceForm(mode=LIVE)"
    assert canary not in all_state(live_form)


@responses.activate(assert_all_requests_are_fired=True)
def test_live_create_sends_exactly_the_name(live_form: DataSourceForm) -> None:
    responses.post(
        f"{LIVE_URL}/data_sources",
        status=201,
        json={
            "uuid": "ds_fef05d54-47b4-431b-aed2-eb6b9e545430",
            "name": "In-house billing",
            "system": "Custom",
            "created_at": "2023-01-10T15:34:05.918Z",
            "status": "idle",
        },
        match=[responses.matchers.json_params_matcher({"name": "In-house billing"})],
    )
    status = create(live_form, "  In-house billing ")
    assert status == "✔ Created “In-house billing” — ds_fef05d54-47b4-431b-aed2-eb6b9e545430"
    assert "2023-01-10 15:34:05 UTC" in live_form.table_view.value


@responses.activate
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            {"status": 401, "json": {"code": 401, "message": "No valid API key provided"}},
            "✖ The API key was not accepted (HTTP 401)",
        ),
        ({"status": 403, "json": {"error": "Trial expired"}}, "Server said: Trial expired"),
        (
            {"status": 429, "json": {"message": "rate"}, "headers": {"Retry-After": "3"}},
            "wait 3 s and try again",
        ),
        ({"status": 500, "body": "<html><title>Oops</title></html>"}, "Server said: Oops"),
        ({"body": requests.ConnectionError("network is down")}, "Could not reach ChartMogul"),
        ({"status": 400, "json": {"message": 'Parameter "name" is missing'}}, "HTTP 400"),
    ],
)
def test_live_errors(live_form: DataSourceForm, reply: dict[str, Any], expected: str) -> None:
    responses.post(f"{LIVE_URL}/data_sources", **reply)
    status = create(live_form, "Billing")
    assert expected in status
    assert not live_form.create_button.disabled


@responses.activate
def test_live_duplicate_looks_up_the_existing_uuid(live_form: DataSourceForm) -> None:
    existing = {"uuid": "ds_old", "name": "Billing", "system": "Custom", "status": "idle"}
    responses.post(
        f"{LIVE_URL}/data_sources", status=422, json={"errors": {"name": "Has already been taken."}}
    )
    responses.get(f"{LIVE_URL}/data_sources", json={"data_sources": [existing]})
    assert "already exists (ds_old)" in create(live_form, "Billing")


# -- going LIVE with a pasted key ----------------------------------------------------------------


@responses.activate
def test_go_live_clears_the_key_and_keeps_it_out_of_widget_state(
    form: DataSourceForm, canary: str
) -> None:
    responses.add_passthru("http://127.0.0.1")  # the sandbox stays reachable
    responses.get(f"{LIVE_URL}/ping", json={"data": "pong!"})
    assert create(form, "Sandbox only").startswith("✔ Created")
    form.key_input.value = f"  {canary}\n"
    form.go_live_button.click()
    assert form.key_input.value == ""
    assert canary not in all_state(form)
    assert canary not in repr(form) and canary not in repr(form.widget)
    assert text_of(form.status) == (
        f"✔ Now LIVE: requests go to {LIVE_URL} (the table was cleared: it listed sandbox sources)."
    )
    assert form.mode == "LIVE" and text_of(form.mode_line).startswith("LIVE")
    assert form.key_row.layout.display == "none"
    assert len(form.table) == 0
    [call] = responses.calls
    assert call.request.headers["Authorization"].startswith("Basic ")  # the key went to /ping


@responses.activate
def test_go_live_with_a_rejected_key_stays_in_sandbox(form: DataSourceForm, canary: str) -> None:
    responses.get(f"{LIVE_URL}/ping", status=401, json={"code": 401, "message": "No valid key"})
    sandbox_client = form.client
    form.key_input.value = canary
    form.go_live_button.click()
    assert form.key_input.value == ""
    assert canary not in all_state(form)
    assert text_of(form.status).startswith("✖ The API key was not accepted (HTTP 401)")
    assert form.client is sandbox_client and form.mode == "SANDBOX"
    assert not form.go_live_button.disabled


def test_a_key_pasted_while_a_request_runs_is_cleared_too(
    form: DataSourceForm, canary: str
) -> None:
    form._busy = True  # a create is in flight; a Go LIVE click queued meanwhile arrives now
    form.key_input.value = canary
    form.go_live_button.click()
    assert form.key_input.value == ""  # never left in widget state, even when ignored
    assert canary not in all_state(form)
    assert form.mode == "SANDBOX"


@responses.activate
def test_a_key_pasted_but_not_used_yet_is_not_in_widget_state(
    form: DataSourceForm, canary: str
) -> None:
    responses.get(f"{LIVE_URL}/ping", json={"data": "pong!"})
    form.key_input.value = canary  # what the front end syncs on Enter or when the field blurs
    assert form.key_input.value == ""
    assert canary not in all_state(form)  # saving the notebook now would not save the key
    assert text_of(form.status) == "Key received (kept in memory, never saved): press Go LIVE."
    assert form.mode == "SANDBOX" and len(responses.calls) == 0
    form.go_live_button.click()  # the kept key is used, once
    assert form.mode == "LIVE"
    [call] = responses.calls
    sent = call.request.headers["Authorization"].split()[1]
    assert base64.b64decode(sent).decode() == f"{canary}:"


def test_going_live_hides_the_key_row_even_on_a_loopback_url(
    form: DataSourceForm, canary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cmnb.Sandbox(canary, rate_limit_per_s=None) as account:
        monkeypatch.setenv("CHARTMOGUL_BASE_URL", account.url)  # e.g. `cmnb sandbox` as "LIVE"
        form.key_input.value = canary
        form.go_live_button.click()
        assert text_of(form.status) == f"✔ Now LIVE: requests go to {account.url}."
        assert form.key_row.layout.display == "none"  # the switch happened: no second offer


def test_go_live_without_a_key(form: DataSourceForm) -> None:
    form.key_input.value = "   "
    form.go_live_button.click()
    assert text_of(form.status) == "Paste an API key first."
    assert form.key_input.value == ""


def test_no_go_live_row_when_a_key_is_configured(
    sb: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    form = DataSourceForm(sb.client())
    assert form.key_row.layout.display == "none"
    assert canary not in all_state(form)


# -- stable text/plain ---------------------------------------------------------------------------


def test_text_repr_is_stable_and_holds_no_field_values(form: DataSourceForm) -> None:
    form.name_input.value = "Secret project name"
    bundle = form._repr_mimebundle_()
    assert bundle["text/plain"] == "DataSourceForm(mode=SANDBOX)"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id
    assert repr(form) == repr(form.widget) == "DataSourceForm(mode=SANDBOX)"
    if hasattr(form.widget, "_repr_mimebundle_"):  # ipywidgets 8 (7.7 displays by hand)
        widget_bundle = form.widget._repr_mimebundle_()
        assert widget_bundle["text/plain"] == "DataSourceForm(mode=SANDBOX)"

    class Printer:
        text_out = ""

        def text(self, value: str) -> None:
            self.text_out += value

    printer = Printer()
    form._repr_pretty_(printer, False)
    assert printer.text_out == "DataSourceForm(mode=SANDBOX)"


def test_form_shares_a_given_table(sb: cmnb.Sandbox) -> None:
    table = DataSourceTable([DataSource("ds_old", "Old")])
    form = DataSourceForm(sb.client(), table=table)
    assert form.table is table
    assert "Old" in form.table_view.value
    create(form, "New")
    assert [s.name for s in table] == ["Old", "New"]


def test_a_long_table_under_the_form_shows_the_newest_and_says_how_many(
    sb: cmnb.Sandbox,
) -> None:
    form = DataSourceForm(sb.client(), max_rows=3)
    for n in range(1, 6):
        create(form, f"Source {n}")
    shown = text_of(form.table_view)
    assert "showing 3 of 5 data sources (newest first)" in shown
    assert [f"Source {n}" in shown for n in range(1, 6)] == [False, False, True, True, True]
    assert shown.index("Source 5") < shown.index("Source 3")
    assert len(form.table.df) == 5  # the DataFrame holds every source, in the order created


def press_enter(field: widgets.Text) -> None:
    """What the front end sends when Enter is pressed in a Text (ipywidgets 7 and 8 alike)."""
    field._handle_custom_msg({"event": "submit"}, [])


def test_enter_in_the_name_field_creates(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    form.name_input.value = "Entered billing"
    press_enter(form.name_input)
    assert text_of(form.status).startswith("✔ Created “Entered billing” — ds_")
    assert [s["name"] for s in sb.sources()] == ["Entered billing"]
    assert form.name_input.value == ""


def test_enter_reuses_when_the_box_is_ticked(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    sb.add_source("Stripe", system="Stripe")
    form.reuse_checkbox.value = True
    form.name_input.value = "Stripe"
    press_enter(form.name_input)
    assert text_of(form.status).startswith("✔ Reused existing “Stripe” — ds_")


@pytest.mark.parametrize("typed", ["", "   ", "Tab\there"])
def test_enter_on_an_unusable_name_sends_nothing(
    sb: cmnb.Sandbox, form: DataSourceForm, typed: str
) -> None:
    form.name_input.value = typed
    press_enter(form.name_input)
    assert sb.requests == []
    assert text_of(form.status) == ""


def test_enter_while_a_request_runs_is_ignored(sb: cmnb.Sandbox, form: DataSourceForm) -> None:
    form.name_input.value = "Only once"
    form._busy = True
    press_enter(form.name_input)
    assert sb.requests == []


def test_other_messages_from_the_name_field_do_nothing(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    form.name_input.value = "Not submitted"
    form.name_input._handle_custom_msg({"event": "focus"}, [])
    assert sb.requests == []


RTL = "Billing \u202eSU"  # a right-to-left override inside a name


def test_a_right_to_left_name_cannot_reverse_the_rest_of_the_status_line(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    shown = create(form, RTL)
    assert shown.startswith(f"✔ Created “{RTL}” — ds_")  # the same words for a reader...
    # ...and the name isolated, so the override stops at its end: the uuid reads left to right
    assert f"“<bdi>{RTL}</bdi>” — ds_" in form.status.value


def test_a_right_to_left_name_is_isolated_in_errors_and_hints(
    sb: cmnb.Sandbox, form: DataSourceForm
) -> None:
    sb.add_source(RTL)
    create(form, RTL)
    assert f"named “<bdi>{RTL}</bdi>” already exists (ds_" in form.status.value
    form.reuse_checkbox.value = True
    form.create_button.click()
    form.name_input.value = RTL
    assert f"“<bdi>{RTL}</bdi>” is already in this table." in form.hint.value


def test_a_hostile_name_is_still_escaped_when_isolated(form: DataSourceForm) -> None:
    create(form, HOSTILE)
    assert f"“<bdi>{ESCAPED}</bdi>”" in form.status.value
    assert "<img" not in form.status.value
