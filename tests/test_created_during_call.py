"""A create whose lost answer adopts the source found only if the server made it during the call.

After an ambiguous first attempt (500/502/504, reset, read timeout) the retry's "name already
taken" is ours only if the source holding the name was created after the call started, judged
on the server's clock (``Date`` headers). Tested with scripted answers carrying explicit
``Date`` headers, then against the sandbox with the real clock and with its seeded clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
import requests
import responses
from fakes import FakeTime
from responses import matchers

import cmnb
from cmnb.api._models import format_timestamp, parse_timestamp
from cmnb.api._retries import CREATED_DURING_CALL_TOLERANCE_S, created_during_call
from cmnb.api._secret import Secret
from cmnb.api._transport import Transport
from cmnb.errors import DuplicateNameError

BASE = "https://api.chartmogul.com/v1"
URL = f"{BASE}/data_sources"
UUID = "ds_fef05d54-47b4-431b-aed2-eb6b9e545430"
NAME = "In-house billing"
TAKEN = {"errors": {"name": "Has already been taken."}}
SERVER_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
CREATES = [matchers.json_params_matcher({"name": NAME})]
BY_NAME = [matchers.query_param_matcher({"name": NAME})]


def http_date(moment: datetime) -> dict[str, str]:
    return {"Date": format_datetime(moment, usegmt=True)}


def source(created_at: datetime | None) -> dict[str, Any]:
    return {
        "uuid": UUID,
        "name": NAME,
        "system": "Custom",
        "created_at": format_timestamp(created_at),
        "status": "idle",
    }


@pytest.fixture
def client(canary: str, fake: FakeTime) -> Iterator[cmnb.Client]:
    # _random=0: the one retry waits exactly 0.25 s on the fake clock.
    with cmnb.Client(
        canary, _clock=fake.clock, _sleep=fake.sleep, _random=lambda: 0.0
    ) as the_client:
        yield the_client


def lost_then_taken(
    rsps: responses.RequestsMock,
    created_at: datetime | None,
    *,
    first: dict[str, Any] | None = None,
    taken_headers: dict[str, str] | None = None,
) -> None:
    lost = first if first is not None else {"status": 500, "headers": http_date(SERVER_NOW)}
    rsps.post(URL, match=CREATES, **lost)
    rsps.post(URL, status=422, json=TAKEN, match=CREATES, headers=taken_headers or {})
    rsps.get(URL, json={"data_sources": [source(created_at)]}, match=BY_NAME)


# --- the rule, with scripted answers ---------------------------------------------------------


@pytest.mark.parametrize(
    "offset_s",
    [0.0, 0.2, 30.0, -1.0, -2.0],  # the server's Date is whole seconds: a little earlier is ours
)
def test_a_source_created_during_the_call_is_adopted(
    client: cmnb.Client, rsps: responses.RequestsMock, fake: FakeTime, offset_s: float
) -> None:
    # The 500 answered at the call's start; the 422 came 0.25 s later (one backoff).
    lost_then_taken(
        rsps,
        SERVER_NOW + timedelta(seconds=offset_s),
        taken_headers=http_date(SERVER_NOW + timedelta(seconds=1)),
    )
    ds = client.data_sources.create(NAME)
    assert ds.uuid == UUID
    assert fake.sleeps == [0.25]


@pytest.mark.parametrize("created_at", [SERVER_NOW - timedelta(seconds=3), datetime(2023, 5, 1)])
def test_a_source_created_before_the_call_is_not_adopted(
    client: cmnb.Client,
    rsps: responses.RequestsMock,
    created_at: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first attempt failed before committing; the name was taken all along.
    created_at = created_at.replace(tzinfo=timezone.utc)
    lost_then_taken(rsps, created_at, taken_headers=http_date(SERVER_NOW))
    with caplog.at_level(logging.DEBUG, logger="cmnb"), pytest.raises(DuplicateNameError) as caught:
        client.data_sources.create(NAME)
    error = caught.value
    assert error.existing is not None and error.existing.uuid == UUID
    assert error.existing.created_at == created_at
    assert UUID in str(error) and "Has already been taken" in str(error)
    assert [c.request.method for c in rsps.calls] == ["POST", "POST", "GET"]
    refusal = [r.getMessage() for r in caplog.records if "before this call" in r.getMessage()]
    assert len(refusal) == 1 and UUID in refusal[0] and format_timestamp(created_at) in refusal[0]


@pytest.mark.parametrize(
    "lost",
    [
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection reset by peer")},
    ],
)
def test_without_an_answer_to_the_first_attempt_the_retry_dates_the_call(
    client: cmnb.Client, rsps: responses.RequestsMock, lost: dict[str, Any]
) -> None:
    # The 422 says SERVER_NOW, 0.25 s into the call: the call started at SERVER_NOW - 0.25 s.
    lost_then_taken(
        rsps,
        SERVER_NOW - timedelta(seconds=3),
        first=lost,
        taken_headers=http_date(SERVER_NOW),
    )
    with pytest.raises(DuplicateNameError) as caught:
        client.data_sources.create(NAME)
    assert caught.value.existing is not None


def test_the_earliest_estimate_wins_when_the_server_clocks_disagree(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    # The 500 came from a machine 10 s ahead; judged by it alone, a source created 1 s after
    # the 422's Date would look 7 s too old. The lowest estimate never refuses our own source.
    lost_then_taken(
        rsps,
        SERVER_NOW + timedelta(seconds=1),
        first={"status": 502, "headers": http_date(SERVER_NOW + timedelta(seconds=10))},
        taken_headers=http_date(SERVER_NOW),
    )
    assert client.data_sources.create(NAME).uuid == UUID


@pytest.mark.parametrize("date", [None, "yesterday-ish", ""])
def test_without_a_usable_date_the_source_is_adopted_as_before(
    client: cmnb.Client,
    rsps: responses.RequestsMock,
    date: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {} if date is None else {"Date": date}
    lost_then_taken(
        rsps,
        datetime(2023, 5, 1, tzinfo=timezone.utc),
        first={"status": 500, "headers": headers},
        taken_headers=headers,
    )
    with caplog.at_level(logging.DEBUG, logger="cmnb"):
        assert client.data_sources.create(NAME).uuid == UUID
    assert any("no server Date or created_at" in r.getMessage() for r in caplog.records)


def test_a_source_without_created_at_is_adopted(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    lost_then_taken(rsps, None, taken_headers=http_date(SERVER_NOW))
    assert client.data_sources.create(NAME).uuid == UUID


def test_a_duplicate_on_the_first_attempt_is_never_adopted(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    # Created this very second, but nothing was ambiguous: the user asked for a new source.
    rsps.post(URL, status=422, json=TAKEN, match=CREATES, headers=http_date(SERVER_NOW))
    rsps.get(URL, json={"data_sources": [source(SERVER_NOW)]}, match=BY_NAME)
    with pytest.raises(DuplicateNameError) as caught:
        client.data_sources.create(NAME)
    assert caught.value.existing is not None


def test_the_reply_carries_the_lowest_estimate_of_the_servers_clock_at_the_start(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    transport = Transport(
        Secret(canary),
        BASE,
        rate_limit_per_s=None,
        clock=fake.clock,
        sleep=fake.sleep,
        random=lambda: 0.0,
    )
    rsps.get(URL, status=503, headers=http_date(SERVER_NOW + timedelta(seconds=3)))
    rsps.get(URL, status=503)  # no Date: changes nothing
    rsps.get(URL, json={"data_sources": []}, headers=http_date(SERVER_NOW))
    reply = transport.request("GET", "/data_sources")
    assert fake.sleeps == [0.25, 0.5]
    assert reply.server_started_at == SERVER_NOW.timestamp() - 0.75
    rsps.get(URL, json={"data_sources": []})
    assert transport.request("GET", "/data_sources").server_started_at is None


def test_the_tolerance_boundary() -> None:
    start = SERVER_NOW.timestamp()
    edge = SERVER_NOW - timedelta(seconds=CREATED_DURING_CALL_TOLERANCE_S)
    assert created_during_call(edge, start)
    assert not created_during_call(edge - timedelta(milliseconds=1), start)


# --- the sandbox: real clock ----------------------------------------------------------------


def test_sandbox_real_clock_refuses_a_source_made_ten_seconds_before_the_call(
    canary: str,
) -> None:
    old = datetime.now(timezone.utc) - timedelta(seconds=10)
    with cmnb.Sandbox(canary) as sb, sb.client(_sleep=lambda s: None) as client:
        held = sb.add_source(NAME, created_at=old)
        sb.faults.add("create", status=500)  # before commit: this call created nothing
        with pytest.raises(DuplicateNameError) as caught:
            client.data_sources.create(NAME)
        assert caught.value.existing is not None
        assert caught.value.existing.uuid == held["uuid"]
        assert [(r.method, r.status) for r in sb.requests] == [
            ("POST", 500),
            ("POST", 422),
            ("GET", 200),
        ]
        assert len(sb.sources()) == 1


def test_sandbox_initial_sources_can_be_back_dated(canary: str) -> None:
    old = "2020-01-01T00:00:00.000Z"
    with cmnb.Sandbox(canary, sources=[{"name": NAME, "created_at": old}]) as sb:
        assert sb.sources()[0]["created_at"] == old
        sb.faults.add("create", reset=True)
        with sb.client(_sleep=lambda s: None) as client, pytest.raises(DuplicateNameError):
            client.data_sources.create(NAME)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "after_commit": True},
        {"status": 504, "after_commit": True},
        {"reset": True, "after_commit": True},
    ],
)
def test_sandbox_real_clock_adopts_what_the_lost_attempt_created(
    canary: str, fault: dict[str, Any]
) -> None:
    with cmnb.Sandbox(canary) as sb, sb.client(_sleep=lambda s: None) as client:
        sb.add_source("Older", created_at=datetime.now(timezone.utc) - timedelta(days=1))
        sb.faults.add("create", **fault)
        ds = client.data_sources.create(NAME)
        [ours] = [s for s in sb.sources() if s["name"] == NAME]
        assert ds.uuid == ours["uuid"]


def test_sandbox_date_header_is_the_real_clock(canary: str) -> None:
    with cmnb.Sandbox(canary) as sb:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        answer = requests.get(f"{sb.url}/ping", auth=(canary, ""), timeout=5)
        after = datetime.now(timezone.utc)
    date = parsedate_to_datetime(answer.headers["Date"])
    assert before <= date <= after


# --- the sandbox: seeded clock --------------------------------------------------------------


def test_seeded_sandbox_sends_its_fixed_clock_as_the_date(canary: str) -> None:
    with cmnb.Sandbox(canary, seed=42) as sb:
        made = requests.post(f"{sb.url}/data_sources", json={"name": "A"}, auth=(canary, ""))
        created = parse_timestamp(made.json()["created_at"])
        assert created is not None and created.year == 2024  # the seeded clock, not today
        later = requests.get(f"{sb.url}/ping", auth=(canary, ""), timeout=5)
    # Whole seconds, and the clock stands still until the next source is created.
    for answer in (made, later):
        assert parsedate_to_datetime(answer.headers["Date"]) == created.replace(microsecond=0)


@pytest.mark.parametrize(
    "fault", [{"status": 500, "after_commit": True}, {"reset": True, "after_commit": True}]
)
def test_seeded_sandbox_recovery_adopts_the_source_and_stays_deterministic(
    canary: str, fault: dict[str, Any]
) -> None:
    outcomes = []
    for _ in range(2):
        with cmnb.Sandbox(canary, seed=7, sources=[{"name": "Stripe", "system": "Stripe"}]) as sb:
            with sb.client(_sleep=lambda s: None) as client:
                client.data_sources.create("First")
                sb.faults.add("create", **fault)
                ds = client.data_sources.create(NAME)
            assert [s["name"] for s in sb.sources()] == ["Stripe", "First", NAME]
            assert ds.uuid == sb.sources()[-1]["uuid"]
            outcomes.append((ds.uuid, ds.created_at))
    assert outcomes[0] == outcomes[1]


def test_seeded_sandbox_refuses_a_back_dated_source(canary: str) -> None:
    old = {"name": NAME, "created_at": "2020-01-01T00:00:00.000Z"}
    with cmnb.Sandbox(canary, seed=7, sources=[old]) as sb:
        sb.faults.add("create", status=502)
        with (
            sb.client(_sleep=lambda s: None) as client,
            pytest.raises(DuplicateNameError) as caught,
        ):
            client.data_sources.create(NAME)
    assert caught.value.existing is not None
    assert format_timestamp(caught.value.existing.created_at) == old["created_at"]


# --- bulk -----------------------------------------------------------------------------------


def test_bulk_create_mode_keeps_a_name_taken_before_the_run_failed_after_a_lost_answer(
    canary: str,
) -> None:
    with cmnb.Sandbox(canary) as sb, sb.client(_sleep=lambda s: None) as client:
        taken = sb.add_source("Taken", created_at=datetime.now(timezone.utc) - timedelta(hours=1))
        sb.faults.add("create", status=500, times=1)  # hits "Taken" (concurrency 1: sent first)
        sb.faults.add("create", status=500, after_commit=True, times=1, skip=1)  # hits "Fresh"
        result = client.data_sources.create_many(["Taken", "Fresh"], mode="create", concurrency=1)
        assert [o.outcome for o in result] == ["failed", "created"]
        error = result.outcomes[0].error
        assert isinstance(error, DuplicateNameError)
        assert error.existing is not None and error.existing.uuid == taken["uuid"]
        assert result.outcomes[0].source is not None
        assert result.outcomes[0].source.uuid == taken["uuid"]
        fresh = result.outcomes[1].source
        assert fresh is not None and fresh.uuid == sb.sources()[-1]["uuid"]
        assert [f.fired for f in sb.faults] == [1, 1]
        assert len(sb.sources()) == 2
