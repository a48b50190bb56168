"""No outcome left in doubt: after a create or delete whose retries ended without a clear answer,
the client looks the source up once, with its own small budget, and says what it found.

Each branch is stated as the exact requests expected (``OrderedRegistry``, every one fired);
time is fake, so the budgets are asserted to the second.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from fakes import FakeTime
from responses import matchers

import cmnb
from cmnb.api._models import format_timestamp
from cmnb.api._retries import LOOKUP_ATTEMPTS, LOOKUP_SHARE
from cmnb.errors import DuplicateNameError, NotFoundError, ServerError, TransportError

BASE = "https://api.chartmogul.com/v1"
URL = f"{BASE}/data_sources"
NAME = "In-house billing"
UUID = "ds_fef05d54-47b4-431b-aed2-eb6b9e545430"
ONE = f"{URL}/{UUID}"
SERVER_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
CREATES = [matchers.json_params_matcher({"name": NAME})]
BY_NAME = [matchers.query_param_matcher({"name": NAME})]
RESET = requests.ConnectionError("('Connection aborted.', ConnectionResetError(104, 'reset'))")


def dated(moment: datetime = SERVER_NOW) -> dict[str, str]:
    return {"Date": format_datetime(moment, usegmt=True)}


def source(created_at: datetime) -> dict[str, Any]:
    return {
        "uuid": UUID,
        "name": NAME,
        "system": "Custom",
        "created_at": format_timestamp(created_at),
        "status": "idle",
    }


@pytest.fixture
def client(canary: str, fake: FakeTime) -> Iterator[cmnb.Client]:
    # max_attempts=2, jitter 0: one retry, 0.25 s after the first attempt.
    with cmnb.Client(
        canary, max_attempts=2, _clock=fake.clock, _sleep=fake.sleep, _random=lambda: 0.0
    ) as the_client:
        yield the_client


def two_lost_creates(rsps: responses.RequestsMock, **second: Any) -> None:
    """Both attempts of a create end without a clear answer (a 502, then ``second``)."""
    rsps.post(URL, status=502, body="Bad Gateway", headers=dated(), match=CREATES)
    rsps.post(URL, match=CREATES, **(second or {"body": RESET}))


# --- create: the four branches ----------------------------------------------------------------


def test_found_and_made_during_the_call_is_returned(
    client: cmnb.Client, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    two_lost_creates(rsps)
    rsps.get(URL, json={"data_sources": [source(SERVER_NOW)]}, match=BY_NAME)
    with caplog.at_level(logging.DEBUG, logger="cmnb"):
        ds = client.data_sources.create(NAME)
    assert ds.uuid == UUID
    assert [c.request.method for c in rsps.calls] == ["POST", "POST", "GET"]
    found = [r for r in caplog.records if "answer was lost" in r.getMessage()]
    assert len(found) == 1 and found[0].levelno == logging.DEBUG and UUID in found[0].getMessage()


def test_found_but_older_raises_duplicate_name_with_the_existing_source(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    two_lost_creates(rsps)
    old = SERVER_NOW - timedelta(days=3)
    rsps.get(URL, json={"data_sources": [source(old)]}, match=BY_NAME)
    with pytest.raises(DuplicateNameError) as caught:
        client.data_sources.create(NAME)
    error = caught.value
    assert error.existing is not None and error.existing.uuid == UUID
    assert error.existing.created_at == old
    assert error.maybe_sent is False
    assert UUID in str(error) and "made before this call" in str(error)
    assert isinstance(error.__cause__, TransportError)  # the lost answer that led to the lookup


def test_absent_raises_the_original_error_saying_it_was_not_created(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    two_lost_creates(rsps, status=504, body="")
    rsps.get(URL, json={"data_sources": []}, match=BY_NAME)
    with pytest.raises(ServerError) as caught:
        client.data_sources.create(NAME)
    error = caught.value
    assert (error.status, error.maybe_sent) == (504, False)
    assert "It was not created" in str(error)


def test_a_failed_lookup_leaves_the_error_in_doubt_and_says_how_to_check(
    client: cmnb.Client, rsps: responses.RequestsMock, canary: str
) -> None:
    two_lost_creates(rsps)
    for _ in range(min(LOOKUP_ATTEMPTS, 2)):  # the lookup's own attempts, capped at max_attempts
        rsps.get(URL, status=503, body="Service Unavailable", match=BY_NAME)
    with pytest.raises(TransportError) as caught:
        client.data_sources.create(NAME)
    error = caught.value
    assert error.maybe_sent is True
    message = str(error)
    assert "It is unknown whether a data source named 'In-house billing' was created" in message
    assert "client.data_sources.list(name='In-house billing')" in message
    assert "503" in message  # why the lookup failed
    assert canary not in message and canary not in repr(error)


# --- which endings are in doubt -------------------------------------------------------------


def test_a_refusal_after_a_lost_answer_is_in_doubt_too(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    # The first attempt may have created it; the second's 429 says nothing about the first.
    rsps.post(URL, body=RESET, match=CREATES)
    rsps.post(URL, status=429, headers={"Retry-After": "1"}, match=CREATES)
    rsps.get(URL, json={"data_sources": []}, match=BY_NAME)
    with pytest.raises(cmnb.RateLimitError) as caught:
        client.data_sources.create(NAME)
    assert caught.value.maybe_sent is False and "It was not created" in str(caught.value)


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 501, "body": "Not Implemented"},  # POST is not retried: nothing ambiguous
        {"status": 400, "json": {"code": 400, "message": 'Parameter "name" is missing'}},
    ],
)
def test_a_clear_refusal_is_not_looked_up(
    client: cmnb.Client, rsps: responses.RequestsMock, answer: dict[str, Any]
) -> None:
    rsps.post(URL, match=CREATES, **answer)
    with pytest.raises(cmnb.APIError) as caught:
        client.data_sources.create(NAME)
    assert caught.value.maybe_sent is False
    assert len(rsps.calls) == 1


# --- the lookup's own budget ----------------------------------------------------------------


def test_the_lookup_gets_its_own_attempts_and_a_share_of_the_deadline(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    # deadline 10 s: the create may use 8 s, the lookup keeps 2 s and 3 attempts of its own.
    assert (LOOKUP_SHARE, LOOKUP_ATTEMPTS) == (0.2, 3)
    client = cmnb.Client(canary, deadline_s=10, _clock=fake.clock, _sleep=fake.sleep)
    rsps.post(URL, status=502, headers={"Retry-After": "5"}, match=CREATES)
    rsps.post(URL, status=502, headers={"Retry-After": "5"}, match=CREATES)  # 5 s > 3 s left
    rsps.get(URL, status=503, headers={"Retry-After": "0.5"}, match=BY_NAME)
    rsps.get(URL, status=503, headers={"Retry-After": "0.5"}, match=BY_NAME)
    rsps.get(URL, json={"data_sources": []}, match=BY_NAME)  # the third attempt answers
    with pytest.raises(ServerError) as caught:
        client.data_sources.create(NAME)
    assert "gave up" not in str(caught.value)  # a reply, not a transport failure
    assert "It was not created" in str(caught.value)
    assert fake.sleeps == [5.0, 0.5, 0.5]
    assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 8.0)  # the create's 8 s
    assert rsps.calls[2].request.req_kwargs["timeout"] == (2.0, 2.0)  # the lookup's 2 s


def test_inside_a_bulk_run_the_lookup_is_left_to_the_run(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    from cmnb.api._retries import defer_lookups

    two_lost_creates(rsps)
    with defer_lookups(), pytest.raises(TransportError) as caught:
        client.data_sources.create(NAME)
    assert caught.value.maybe_sent is True
    assert caught.value.server_started_at == SERVER_NOW.timestamp()  # the 502's Date, at t=0
    assert len(rsps.calls) == 2  # no GET


# --- delete ---------------------------------------------------------------------------------


def two_lost_deletes(rsps: responses.RequestsMock) -> None:
    rsps.delete(ONE, status=500, body="Internal Server Error")
    rsps.delete(ONE, body=RESET)


def test_a_lost_delete_then_404_means_deleted(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    two_lost_deletes(rsps)
    rsps.get(ONE, status=404, json={"error": "Data source not found"})
    assert client.data_sources.delete(UUID) is None


def test_a_lost_delete_then_the_source_means_not_deleted(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    two_lost_deletes(rsps)
    rsps.get(ONE, json=source(SERVER_NOW))
    with pytest.raises(TransportError) as caught:
        client.data_sources.delete(UUID)
    assert caught.value.maybe_sent is False
    assert f"It was not deleted: a lookup after the lost answer found {UUID}" in str(caught.value)


def test_a_lost_delete_whose_lookup_fails_says_how_to_check(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.delete(ONE, status=502, body="Bad Gateway")
    rsps.delete(ONE, status=504, body="")
    rsps.get(ONE, body=RESET)
    rsps.get(ONE, body=RESET)
    with pytest.raises(ServerError) as caught:
        client.data_sources.delete(UUID)
    assert caught.value.status == 504 and caught.value.maybe_sent is True
    assert f"It is unknown whether {UUID} was deleted" in str(caught.value)
    assert f"client.data_sources.retrieve('{UUID}')" in str(caught.value)


def test_a_clear_404_on_the_first_attempt_is_not_looked_up(
    client: cmnb.Client, rsps: responses.RequestsMock
) -> None:
    rsps.delete(ONE, status=404, json={"error": "Data source not found"})
    with pytest.raises(NotFoundError):
        client.data_sources.delete(UUID)
    assert len(rsps.calls) == 1


# --- against the sandbox, with scripted faults -----------------------------------------------


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ([{"status": 500, "after_commit": True}], "created"),  # the last attempt made it
        ([{"status": 502}], "not created"),  # every attempt refused before the store
        ([{"reset": True, "after_commit": True}, {"endpoint": "list", "reset": True}], "unknown"),
    ],
)
def test_sandbox_every_branch(canary: str, faults: list[dict[str, Any]], expected: str) -> None:
    with cmnb.Sandbox(canary) as sb, sb.client(max_attempts=1, _sleep=lambda s: None) as client:
        for fault in faults:
            sb.faults.add(**{"endpoint": "create", "times": None, **fault})
        outcome: str
        try:
            ds = client.data_sources.create(NAME)
            outcome = "created"
            assert [s["uuid"] for s in sb.sources()] == [ds.uuid]
        except (ServerError, TransportError) as error:
            outcome = "unknown" if error.maybe_sent else "not created"
            assert len(sb.sources()) == (1 if error.maybe_sent else 0)
        assert outcome == expected
        assert [r.method for r in sb.requests] == ["POST", "GET"]


# --- bulk: a taken name whose holder the lookup could not tell ------------------------------


@pytest.mark.parametrize("mode", ["ensure", "create"])
def test_a_bulk_create_taken_after_its_lost_answer_is_settled_by_the_runs_list(
    canary: str, mode: str
) -> None:
    """The first attempt creates the source but its answer is lost (a reset after the commit);
    the retry hears "name taken"; the lookup that would tell whose it is fails. The name is the
    account's, so it is never ``failed``: the run's one list at the end says this run made it."""
    with cmnb.Sandbox(canary, rate_limit_per_s=None) as sb:
        with sb.client(rate_limit_per_s=None, _sleep=lambda s: None) as client:
            sb.faults.add("create", reset=True, after_commit=True)
            # The lookup after "name taken" fails every attempt it has; ensure mode's own list
            # before the creates, and the run's list at the end, go through.
            sb.faults.add("list", status=500, times=LOOKUP_ATTEMPTS, skip=int(mode == "ensure"))
            result = client.data_sources.create_many([NAME], mode=mode)  # type: ignore[arg-type]
        (outcome,) = result
        assert [s["name"] for s in sb.sources()] == [NAME]
        assert outcome.outcome == "created", repr(outcome.error)
        assert outcome.source is not None and outcome.source.uuid == sb.sources()[0]["uuid"]


# --- a write that times out may still land ---------------------------------------------------


def test_a_create_that_timed_out_is_given_time_to_land_before_the_lookup(canary: str) -> None:
    """The server is slow: it creates the source 0.4 s after the request arrived, past the
    client's 0.3 s read timeout. A lookup right away would find nothing and report "not
    created" for a source about to exist; the read waits for the timed-out write first."""
    with cmnb.Sandbox(canary, rate_limit_per_s=None) as sb:
        sb.faults.add("create", delay_s=0.4)
        with sb.client(timeout=0.3, max_attempts=1, rate_limit_per_s=None) as client:
            made = client.data_sources.create(NAME)
            assert [s["uuid"] for s in sb.sources()] == [made.uuid]
        # create_many's own lookup at the end of the run waits the same way.
        sb.faults.add("create", delay_s=0.4)
        with sb.client(timeout=0.3, max_attempts=1, rate_limit_per_s=None) as client:
            result = client.data_sources.create_many(["Slow three"], mode="create")
        (outcome,) = result
        assert outcome.outcome == "created", repr(outcome.error)
        assert outcome.source is not None
        assert {s["name"] for s in sb.sources()} >= {NAME, "Slow three"}


def test_a_read_after_a_timed_out_write_waits_at_most_the_read_timeout(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    with cmnb.Client(
        canary, timeout=(1, 2), max_attempts=1, _clock=fake.clock, _sleep=fake.sleep
    ) as client:
        rsps.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
        rsps.get(URL, json={"data_sources": []})
        rsps.get(URL, json={"data_sources": []})
        with pytest.raises(TransportError):
            client.data_sources.create("Gone quiet")  # its lookup waits 2 s first
        waited = sum(fake.sleeps)
        client.data_sources.list()  # the grace is over: no more waiting
        assert sum(fake.sleeps) == waited
    assert 1.9 <= waited <= 2.0
