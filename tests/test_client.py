"""The client as a user sees it: every endpoint and flag, errors, safe create, dry-run, secrecy.

Each test states the exact requests expected, in order (``OrderedRegistry``), and fails if one
is not sent (``assert_all_requests_are_fired``) or if anything else is sent.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
import responses
from fakes import FakeTime
from responses import matchers

import cmnb
from cmnb.api._data_sources import DryRun
from cmnb.api._models import DataSource
from cmnb.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CmnbError,
    ConfigError,
    DuplicateNameError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableError,
)

BASE = "https://api.chartmogul.com/v1"
URL = f"{BASE}/data_sources"
UUID = "ds_fef05d54-47b4-431b-aed2-eb6b9e545430"
SEED = {
    "uuid": UUID,
    "name": "In-house billing",
    "system": "Custom",
    "created_at": "2023-01-10T15:34:05.918Z",
    "status": "idle",
}
SEED_BODY = {"name": "In-house billing"}
TAKEN = {"errors": {"name": "Has already been taken."}}
BY_NAME = [matchers.query_param_matcher({"name": "In-house billing"})]


@pytest.fixture
def client(canary: str, fake: FakeTime) -> Iterator[cmnb.Client]:
    with cmnb.Client(
        canary, _clock=fake.clock, _sleep=fake.sleep, _random=lambda: 0.0
    ) as the_client:
        yield the_client


def auth_header(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def creates(body: dict[str, Any] = SEED_BODY) -> list[Any]:
    return [matchers.json_params_matcher(body)]


# --- create --------------------------------------------------------------------------------


def test_create_the_seed_example(
    client: cmnb.Client, rsps: responses.RequestsMock, canary: str
) -> None:
    rsps.post(
        URL,
        status=201,
        json=SEED,
        match=[*creates(), matchers.header_matcher(auth_header(canary))],
    )
    ds = client.data_sources.create("In-house billing")
    assert isinstance(ds, DataSource)
    assert ds.uuid == UUID and ds.name == "In-house billing" and ds.system == "Custom"
    assert ds.created_at == datetime(2023, 1, 10, 15, 34, 5, 918000, tzinfo=timezone.utc)
    assert ds.status == "idle"
    assert rsps.calls[0].request.headers["Content-Type"] == "application/json"


def test_create_strips_surrounding_whitespace(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, status=201, json=SEED, match=creates())
    assert client.data_sources.create("  In-house billing\n").name == "In-house billing"


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "empty"),
        ("   \t", "blank"),
        (None, "must be text"),
        (42, "must be text"),
        (b"In-house", "must be text"),
        ("In-house\x00billing", "control character"),
        ("In-house\nbilling", "control character"),
        ("bad \ud800 surrogate", "surrogate"),
    ],
)
def test_bad_names_are_refused_before_sending(
    client: cmnb.Client, rsps: responses.RequestsMock, bad: Any, problem: str
) -> None:
    calls = [
        lambda: client.data_sources.create(bad),
        lambda: client.data_sources.create(bad, dry_run=True),
        lambda: client.data_sources.ensure(bad),
    ]
    if bad is not None:  # list(name=None) means "no filter"
        calls.append(lambda: client.data_sources.list(name=bad))
    for call in calls:
        with pytest.raises(InputError, match=problem) as caught:
            call()
        assert caught.value.field == "name"
    assert len(rsps.calls) == 0


def test_duplicate_on_first_attempt_raises_with_the_existing_source(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, status=422, json=TAKEN, match=creates())
    rsps.get(URL, json={"data_sources": [SEED]}, match=BY_NAME)
    with pytest.raises(DuplicateNameError) as caught:
        client.data_sources.create("In-house billing")
    error = caught.value
    assert error.existing is not None and error.existing.uuid == UUID
    assert error.status == 422 and error.errors == TAKEN["errors"]
    assert "A data source named 'In-house billing' already exists" in str(error)
    assert UUID in str(error)
    assert "Has already been taken." in str(error)


def test_duplicate_still_raises_when_the_lookup_fails(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, status=422, json=TAKEN, match=creates())
    rsps.get(URL, status=403, json={"code": 403, "message": "Forbidden"}, match=BY_NAME)
    with pytest.raises(DuplicateNameError) as caught:
        client.data_sources.create("In-house billing")
    assert caught.value.existing is None
    assert "already exists" in str(caught.value)


@pytest.mark.parametrize(
    "lost",
    [
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection reset by peer")},
        {"status": 500, "body": "Internal Server Error"},
        {"status": 502, "body": "<html><title>502 Bad Gateway</title></html>"},
        {"status": 504, "body": ""},
    ],
)
def test_ambiguous_create_returns_the_source_the_first_attempt_made(
    client: cmnb.Client, rsps: responses.RequestsMock, fake: FakeTime, lost: dict[str, Any]
) -> None:
    rsps.post(URL, match=creates(), **lost)  # the server created it; we never saw the answer
    rsps.post(URL, status=422, json=TAKEN, match=creates())
    rsps.get(URL, json={"data_sources": [SEED]}, match=BY_NAME)
    ds = client.data_sources.create("In-house billing")
    assert ds.uuid == UUID
    assert [c.request.method for c in rsps.calls] == ["POST", "POST", "GET"]
    # After a timed-out create, a read first gives it time to land (5 s at most, from the
    # timeout on): the lookup waits out what is left of that.
    landing = [5.0 - 0.25] if "read timed out" in str(lost.get("body", "")) else []
    assert fake.sleeps == [0.25, *landing]


def test_ambiguous_create_then_name_vanished_raises_duplicate(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, status=502, match=creates())
    rsps.post(URL, status=422, json=TAKEN, match=creates())
    rsps.get(URL, json={"data_sources": []}, match=BY_NAME)
    with pytest.raises(DuplicateNameError) as caught:
        client.data_sources.create("In-house billing")
    assert caught.value.existing is None


def test_create_waits_out_a_rate_limit(
    client: cmnb.Client, rsps: responses.RequestsMock, fake: FakeTime
) -> None:
    rsps.post(URL, status=429, headers={"Retry-After": "2"}, match=creates())
    rsps.post(URL, status=201, json=SEED, match=creates())
    assert client.data_sources.create("In-house billing").uuid == UUID
    assert fake.sleeps == [2.0]


def test_rate_limit_beyond_the_deadline_raises_at_once(
    canary: str, rsps: responses.RequestsMock, fake: FakeTime
) -> None:
    rsps.post(
        URL,
        status=429,
        headers={"Retry-After": "120"},
        json={"code": 429, "message": "Your request rate has exceeded our rate limit."},
    )
    client = cmnb.Client(canary, deadline_s=60, _clock=fake.clock, _sleep=fake.sleep)
    with pytest.raises(RateLimitError) as caught:
        client.data_sources.create("In-house billing")
    assert caught.value.retry_after_s == 120.0
    assert "Your request rate has exceeded our rate limit." in str(caught.value)
    assert fake.sleeps == []


def test_create_is_not_retried_after_a_501(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, status=501, body="Not Implemented", match=creates())
    with pytest.raises(ServerError, match="Not Implemented"):
        client.data_sources.create("In-house billing")


def test_create_connection_refused_every_time(
    canary: str, rsps: responses.RequestsMock, fake: FakeTime
) -> None:
    from urllib3.exceptions import NewConnectionError

    refused = requests.ConnectionError(NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    for _ in range(2):
        rsps.post(URL, body=refused)
    client = cmnb.Client(canary, max_attempts=2, _clock=fake.clock, _sleep=fake.sleep)
    with pytest.raises(TransportError, match="Connection refused") as caught:
        client.data_sources.create("In-house billing")
    assert caught.value.maybe_sent is False  # certainly nothing was created


# --- dry run -------------------------------------------------------------------------------


def test_dry_run_sends_nothing_and_redacts_the_key(
    client: cmnb.Client, rsps: responses.RequestsMock, canary: str
) -> None:
    plan = client.data_sources.create("  In-house billing ", dry_run=True)
    assert isinstance(plan, DryRun)
    assert (plan.method, plan.url, plan.json) == ("POST", URL, SEED_BODY)
    assert plan.headers["Authorization"] == "Basic ********"
    assert plan.headers["Content-Type"] == "application/json"
    assert plan.headers["Accept"] == "application/json"
    token = auth_header(canary)["Authorization"]
    for shown in (repr(plan), str(plan), repr(plan.headers)):
        assert canary not in shown and token not in shown
    assert len(rsps.calls) == 0


# --- get_or_create / ensure ------------------------------------------------------------------


def test_ensure_returns_the_existing_source_without_creating(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, json={"data_sources": [SEED]}, match=BY_NAME)
    assert client.data_sources.get_or_create("In-house billing") == (
        DataSource.from_dict(SEED),
        False,
    )


def test_ensure_creates_when_missing(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.get(URL, json={"data_sources": []}, match=BY_NAME)
    rsps.post(URL, status=201, json=SEED, match=creates())
    source, created = client.data_sources.get_or_create(" In-house billing ")
    assert (source.uuid, created) == (UUID, True)


def test_ensure_ignores_a_server_that_matches_loosely(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    lookalike = {**SEED, "name": "in-house billing", "uuid": UUID.replace("fef", "aaa")}
    rsps.get(URL, json={"data_sources": [lookalike]}, match=BY_NAME)
    rsps.post(URL, status=201, json=SEED, match=creates())
    assert client.data_sources.ensure("In-house billing").uuid == UUID


def test_ensure_losing_a_race_returns_the_winner(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, json={"data_sources": []}, match=BY_NAME)
    rsps.post(URL, status=422, json=TAKEN, match=creates())  # someone else created it meanwhile
    rsps.get(URL, json={"data_sources": [SEED]}, match=BY_NAME)
    assert client.data_sources.get_or_create("In-house billing") == (
        DataSource.from_dict(SEED),
        False,
    )


# --- list ----------------------------------------------------------------------------------

STRIPE = {**SEED, "uuid": UUID.replace("fef", "bbb"), "name": "Stripe EU", "system": "Stripe"}
FLAGS = [
    "with_processing_status",
    "with_auto_churn_subscription_setting",
    "with_invoice_handling_setting",
]


def test_list_everything(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.get(URL, json={"data_sources": [SEED, STRIPE]}, match=[matchers.query_param_matcher({})])
    sources = client.data_sources.list()
    assert [(s.name, s.system) for s in sources] == [
        ("In-house billing", "Custom"),
        ("Stripe EU", "Stripe"),
    ]


def test_list_filters_by_name_and_system(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.get(
        URL,
        json={"data_sources": [STRIPE]},
        match=[matchers.query_param_matcher({"name": "Stripe EU", "system": "Stripe"})],
    )
    assert client.data_sources.list(name="Stripe EU ", system="Stripe")[0].uuid == STRIPE["uuid"]


@pytest.mark.parametrize("flag", FLAGS)
def test_list_sends_each_flag_as_true(
    client: cmnb.Client, rsps: responses.RequestsMock, flag: str
) -> None:
    rsps.get(URL, json={"data_sources": []}, match=[matchers.query_param_matcher({flag: "true"})])
    assert client.data_sources.list(**{flag: True}) == []


def test_list_with_all_flags_parses_the_blocks(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    full = {
        **SEED,
        "processing_status": {"processed": 5, "pending": 1, "failed": 0},
        "auto_churn_subscription_setting": {"enabled": True, "interval": 30},
        "invoice_handling_setting": {
            "manual": {"create_subscription_when_invoice_is": "open"},
            "automatic": {"create_subscription_when_invoice_is": "paid", "future_key": 1},
        },
        "brand_new_field": "kept",
    }
    rsps.get(
        URL,
        json={"data_sources": [full]},
        match=[matchers.query_param_matcher(dict.fromkeys(FLAGS, "true"))],
    )
    (ds,) = client.data_sources.list(**dict.fromkeys(FLAGS, True))
    assert ds.processing_status is not None and ds.processing_status.processed == 5
    assert ds.auto_churn_subscription_setting is not None
    assert ds.auto_churn_subscription_setting.interval == 30
    assert ds.invoice_handling_setting is not None
    assert ds.invoice_handling_setting.automatic is not None
    assert ds.invoice_handling_setting.automatic.create_subscription_when_invoice_is == "paid"
    assert ds.extra["brand_new_field"] == "kept"


def test_list_tolerates_extra_top_level_keys(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, json={"data_sources": [SEED], "has_more": False, "cursor": None, "meta": {}})
    assert [s.uuid for s in client.data_sources.list()] == [UUID]


@pytest.mark.parametrize("body", [{"sources": []}, [], {"data_sources": None}])
def test_list_with_an_unexpected_body_is_an_api_error(
    client: cmnb.Client, rsps: responses.RequestsMock, body: Any
) -> None:
    rsps.get(URL, json=body)
    with pytest.raises(APIError, match="no data_sources list"):
        client.data_sources.list()


def test_non_json_success_body_is_an_api_error(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, body="<html>captive portal</html>", content_type="text/html")
    with pytest.raises(APIError, match="not the JSON the API sends"):
        client.data_sources.list()


# --- retrieve / delete -----------------------------------------------------------------------


def test_retrieve(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{URL}/{UUID}", json=SEED, match=[matchers.query_param_matcher({})])
    assert client.data_sources.retrieve(UUID.upper().replace("DS_", "ds_")) == DataSource.from_dict(
        SEED
    )


@pytest.mark.parametrize("flag", FLAGS)
def test_retrieve_sends_each_flag_as_true(
    client: cmnb.Client, rsps: responses.RequestsMock, flag: str
) -> None:
    rsps.get(f"{URL}/{UUID}", json=SEED, match=[matchers.query_param_matcher({flag: "true"})])
    assert client.data_sources.retrieve(UUID, **{flag: True}).uuid == UUID


def test_delete_answers_204_with_no_body(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{URL}/{UUID}", status=204, body=b"", content_type=None)
    assert client.data_sources.delete(UUID) is None


def test_delete_of_an_unknown_uuid(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{URL}/{UUID}", status=404, json={"error": "Data source not found"})
    with pytest.raises(NotFoundError, match="Data source not found") as caught:
        client.data_sources.delete(UUID)
    assert (caught.value.method, caught.value.path) == ("DELETE", f"/v1/data_sources/{UUID}")


def test_delete_whose_first_answer_was_lost(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.delete(f"{URL}/{UUID}", body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.delete(f"{URL}/{UUID}", status=404, json={"error": "Data source not found"})
    assert client.data_sources.delete(UUID) is None  # the first attempt deleted it


@pytest.mark.parametrize("bad", ["", "fef05d54-47b4-431b-aed2-eb6b9e545430", "ds_123", None, 7])
def test_bad_uuids_are_refused_before_sending(
    client: cmnb.Client, rsps: responses.RequestsMock, bad: Any
) -> None:
    for call in (client.data_sources.retrieve, client.data_sources.delete):
        with pytest.raises(InputError) as caught:
            call(bad)
        assert caught.value.field == "uuid"
    assert len(rsps.calls) == 0


# --- errors through the client ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error_type", "message", "param"),
    [
        (
            400,
            {"code": 400, "message": 'Parameter "name" is missing', "param": "name"},
            BadRequestError,
            'Parameter "name" is missing',
            "name",
        ),
        (
            422,
            {"errors": {"name": "A name is required for each data source."}},
            UnprocessableError,
            "name: A name is required for each data source.",
            None,
        ),
        (404, {"error": "Data source not found"}, NotFoundError, "Data source not found", None),
        (
            401,
            {"code": 401, "message": "No valid API key provided", "param": None},
            AuthenticationError,
            "No valid API key provided",
            None,
        ),
        (403, {"code": 403, "message": "Trial expired"}, ForbiddenError, "Trial expired", None),
    ],
)
def test_error_shapes_keep_the_servers_words(
    client: cmnb.Client,
    rsps: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    error_type: type[APIError],
    message: str,
    param: str | None,
) -> None:
    rsps.get(f"{URL}/{UUID}", status=status, json=body)
    with pytest.raises(error_type) as caught:
        client.data_sources.retrieve(UUID)
    error = caught.value
    assert type(error) is error_type
    assert (error.status, error.message, error.param) == (status, message, param)
    assert message in str(error)
    assert (error.method, error.path) == ("GET", f"/v1/data_sources/{UUID}")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            "<html><head><title>502 Bad Gateway</title></head></html>",
            "text/html",
            "502 Bad Gateway",
        ),
        ("upstream connect error", "text/plain", "upstream connect error"),
        ("", None, ""),
    ],
)
def test_non_json_and_empty_5xx_bodies_give_clean_errors(
    canary: str, rsps: responses.RequestsMock, body: str, content_type: str | None, message: str
) -> None:
    rsps.get(f"{URL}/{UUID}", status=502, body=body, content_type=content_type)
    client = cmnb.Client(canary, max_attempts=1)
    with pytest.raises(ServerError) as caught:
        client.data_sources.retrieve(UUID)
    assert (caught.value.status, caught.value.message) == (502, message)
    assert "HTTP 502 on GET" in str(caught.value)


# --- ping, pacing, lifecycle -----------------------------------------------------------------


def test_ping(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/ping", json={"data": "pong!"})
    assert client.ping() is True


def test_ping_with_a_bad_key(client: cmnb.Client, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{BASE}/ping",
        status=401,
        json={"code": 401, "message": "No valid API key provided", "param": None},
    )
    with pytest.raises(AuthenticationError, match="CHARTMOGUL_API_KEY"):
        client.ping()


def test_client_paces_41_calls_within_40_per_second(
    canary: str, rsps: responses.RequestsMock, fake: FakeTime
) -> None:
    seen_at: list[float] = []

    def pong(request: Any) -> tuple[int, dict[str, str], str]:
        seen_at.append(fake.now)
        fake.now += 0.001  # each request takes a millisecond
        return 200, {}, '{"data": "pong!"}'

    for _ in range(41):
        rsps.add_callback(responses.GET, f"{BASE}/ping", callback=pong)
    client = cmnb.Client(canary, _clock=fake.clock, _sleep=fake.sleep)
    for _ in range(41):
        client.ping()
    assert seen_at[39] < 1.0 <= seen_at[40]
    for earlier, later in zip(seen_at, seen_at[40:], strict=False):
        assert later - earlier >= 1.0


def test_pacing_can_be_turned_off(
    canary: str, rsps: responses.RequestsMock, fake: FakeTime
) -> None:
    for _ in range(45):
        rsps.get(f"{BASE}/ping", json={"data": "pong!"})
    client = cmnb.Client(canary, rate_limit_per_s=None, _clock=fake.clock, _sleep=fake.sleep)
    for _ in range(45):
        client.ping()
    assert fake.sleeps == []


def test_context_manager_closes_the_session(canary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []
    with cmnb.Client(canary) as client:
        monkeypatch.setattr(client._transport.session, "close", lambda: closed.append(True))
    assert closed == [True]


def test_create_many_delegates_to_bulk(
    client: cmnb.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cmnb.api._bulk

    seen: dict[str, Any] = {}

    def fake_create_many(data_sources: Any, names: Any, **options: Any) -> str:
        seen.update(data_sources=data_sources, names=names, **options)
        return "result"

    monkeypatch.setattr(cmnb.api._bulk, "create_many", fake_create_many)
    names = ["a", "b"]
    assert client.data_sources.create_many(names, mode="create", concurrency=3) == "result"  # type: ignore[comparison-overlap]
    assert seen == {
        "data_sources": client.data_sources,
        "names": names,
        "mode": "create",
        "concurrency": 3,
        "progress": None,
        "stop": None,  # issue 12: the form's Stop button stops a run through this event
    }


def test_imports_stay_light() -> None:
    code = (
        "import sys, cmnb; assert 'requests' not in sys.modules, 'cmnb imported requests';"
        "import cmnb.api._client; "
        "assert 'cmnb.api._bulk' not in sys.modules, 'client imported bulk';"
        "assert 'pandas' not in sys.modules and 'ipywidgets' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the key never shows ---------------------------------------------------------------------


def test_canary_key_never_appears_anywhere_observable(
    canary: str,
    rsps: responses.RequestsMock,
    fake: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = auth_header(canary)["Authorization"].split()[1]
    rsps.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.post(URL, status=422, json=TAKEN)
    rsps.get(URL, json={"data_sources": [SEED]})
    rsps.post(URL, status=422, json=TAKEN)
    rsps.get(URL, json={"data_sources": [SEED]})
    rsps.get(f"{URL}/{UUID}", status=401, json={"code": 401, "message": "No valid API key"})
    rsps.get(f"{BASE}/ping", body=requests.exceptions.SSLError("handshake failed"))
    client = cmnb.Client(canary, _clock=fake.clock, _sleep=fake.sleep)
    observed: list[object] = [client, client.data_sources, client._transport, vars(client)]
    observed.append(client.data_sources.create("In-house billing"))
    observed.append(client.data_sources.create("X", dry_run=True))
    for call in (
        lambda: client.data_sources.create("In-house billing"),
        lambda: client.data_sources.retrieve(UUID),
        client.ping,
    ):
        with pytest.raises(CmnbError) as caught:
            call()
        observed += [caught.value, vars(caught.value), caught.value.args]
    with pytest.raises(ConfigError) as no_key:
        cmnb.Client(base_url="ftp://" + canary)
    observed.append(no_key.value)
    for thing in observed:
        for shown in (repr(thing), str(thing)):
            assert canary not in shown and token not in shown
    assert caplog.records, "expected DEBUG records from the cmnb logger"
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + repr(vars(record))
        assert canary not in text and token not in text
