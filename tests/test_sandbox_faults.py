"""Scripted faults fire exactly as declared, in Python and as text specs, and are counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cmnb.sandbox import Fault, Sandbox, parse_fault


@pytest.fixture
def sb(canary: str) -> Iterator[Sandbox]:
    with Sandbox(canary, seed=1, rate_limit_per_s=None) as box:
        yield box


@pytest.fixture
def http_(sb: Sandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = (sb.api_key, "")
        yield session


def names(sb: Sandbox) -> list[str]:
    return [source["name"] for source in sb.sources()]


def post(session: requests.Session, sb: Sandbox, name: str, **kw: float) -> requests.Response:
    return session.post(f"{sb.url}/data_sources", json={"name": name}, **kw)  # type: ignore[arg-type]


# -- the text form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("create:500:after_commit:x2", Fault("create", 500, after_commit=True, times=2)),
        ("create:reset", Fault("create", reset=True)),
        ("create:reset:after_commit", Fault("create", reset=True, after_commit=True)),
        ("any:429:retry_after=2", Fault("any", 429, retry_after=2.0)),
        ("list:delay=10", Fault("list", delay_s=10.0)),
        ("list:delay_s=40", Fault("list", delay_s=40.0)),  # the keyword of faults.add()
        ("delete:502:skip=1:always", Fault("delete", 502, skip=1, times=None)),
        ("ping:retry_after=1.5:x3", Fault("ping", 429, retry_after=1.5, times=3)),
        (" Create : 503 : before_commit ", Fault("create", 503)),
    ],
)
def test_parse_fault_reads_the_cli_form(spec: str, expected: Fault) -> None:
    fault = parse_fault(spec)
    assert fault == expected
    assert parse_fault(fault.spec()) == fault  # spec() round-trips


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("create", "needs a status"),
        ("customers:500", "unknown endpoint"),
        ("create:500:reset", "not both"),
        ("create:500:sometimes", "unknown part 'sometimes'"),
        ("create:200", "unknown part '200'"),
        ("create:500:x0", "at least 1"),
        ("create:500:wait=2", "the parts are NNN, reset, .* delay=S, retry_after=S, skip=N"),
    ],
)
def test_parse_fault_refuses_what_it_cannot_read(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_fault(spec)


def test_add_accepts_keywords_specs_and_fault_objects(sb: Sandbox) -> None:
    first = sb.faults.add("create", status=500, after_commit=True, times=2)
    second = sb.faults.add("list:502")
    third = sb.faults.add(Fault("ping", delay_s=0.01))
    assert list(sb.faults) == [first, second, third]
    assert "create:500:after_commit:x2 (fired 0)" in repr(sb.faults)
    sb.faults.clear()
    assert len(sb.faults) == 0


# -- firing exactly as scripted ----------------------------------------------------------


def test_500_after_commit_fires_twice_and_the_sources_exist(
    sb: Sandbox, http_: requests.Session
) -> None:
    fault = sb.faults.add("create", status=500, after_commit=True, times=2)
    replies = [post(http_, sb, name) for name in ("a", "b", "c")]
    assert [r.status_code for r in replies] == [500, 500, 201]
    assert replies[0].text == "Internal Server Error"
    assert replies[0].headers["Content-Type"].startswith("text/plain")
    assert names(sb) == ["a", "b", "c"]  # committed despite the 500
    assert (fault.fired, fault.exhausted, sb.faults.fired, sb.faults.pending()) == (2, True, 2, [])
    assert [entry.fault for entry in sb.requests] == [fault.spec(), fault.spec(), None]


def test_500_before_commit_changes_nothing(sb: Sandbox, http_: requests.Session) -> None:
    sb.faults.add("create", status=500)
    assert post(http_, sb, "a").status_code == 500
    assert names(sb) == []
    assert post(http_, sb, "a").status_code == 201


@pytest.mark.parametrize("after_commit", [False, True])
def test_reset_before_or_after_commit(
    sb: Sandbox, http_: requests.Session, after_commit: bool
) -> None:
    fault = sb.faults.add("create", reset=True, after_commit=after_commit)
    with pytest.raises(requests.ConnectionError):
        post(http_, sb, "lost answer")
    assert names(sb) == (["lost answer"] if after_commit else [])
    assert fault.fired == 1
    assert sb.requests[-1].status is None
    assert http_.get(f"{sb.url}/ping").status_code == 200  # the server itself is fine


def test_429_with_retry_after(sb: Sandbox, http_: requests.Session) -> None:
    sb.faults.add("any", status=429, retry_after=2)
    reply = http_.get(f"{sb.url}/data_sources")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "2"
    assert reply.json() == {
        "code": 429,
        "message": "Your request rate has exceeded our rate limit.",
        "param": None,
    }


def test_502_has_an_html_body(sb: Sandbox, http_: requests.Session) -> None:
    sb.faults.add("retrieve:502")
    reply = http_.get(f"{sb.url}/data_sources/ds_00000000-0000-1000-8000-000000000000")
    assert reply.status_code == 502
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in reply.text


def test_a_custom_body_is_sent_as_given(sb: Sandbox, http_: requests.Session) -> None:
    sb.faults.add("ping", status=503, body="")
    sb.faults.add("ping", status=403, body='{"code":403,"message":"Trial expired","param":null}')
    first, second = http_.get(f"{sb.url}/ping"), http_.get(f"{sb.url}/ping")
    assert (first.status_code, first.content) == (503, b"")
    assert (second.status_code, second.json()["message"]) == (403, "Trial expired")


def test_delay_beyond_the_client_timeout(sb: Sandbox, http_: requests.Session) -> None:
    sb.faults.add("create", delay_s=30, after_commit=True)
    with pytest.raises(requests.ReadTimeout):
        post(http_, sb, "slow", timeout=0.3)
    assert names(sb) == ["slow"]  # committed before the delay
    started = time.monotonic()
    sb.stop()  # wakes the delayed request instead of waiting 30 s
    assert time.monotonic() - started < 10


def test_delay_before_commit_then_normal_answer(sb: Sandbox, http_: requests.Session) -> None:
    sb.faults.add("list", delay_s=0.05)
    assert http_.get(f"{sb.url}/data_sources").json() == {"data_sources": []}
    assert sb.requests[-1].fault == "list:delay=0.05:x1"


def test_skip_times_and_always(sb: Sandbox, http_: requests.Session) -> None:
    sb.faults.add("ping", status=500, skip=1, times=2)
    assert [http_.get(f"{sb.url}/ping").status_code for _ in range(4)] == [200, 500, 500, 200]
    always = sb.faults.add("delete", status=502, times=None)
    for _ in range(3):
        assert http_.delete(f"{sb.url}/data_sources/ds_x").status_code == 502
    assert (always.fired, always.exhausted) == (3, False)
    sb.faults.clear()
    assert http_.delete(f"{sb.url}/data_sources/ds_x").status_code == 404


def test_faults_only_hit_their_endpoint(sb: Sandbox, http_: requests.Session) -> None:
    fault = sb.faults.add("delete", status=500)
    assert post(http_, sb, "a").status_code == 201
    assert http_.get(f"{sb.url}/data_sources").status_code == 200
    assert fault.fired == 0


def test_unauthenticated_requests_do_not_trigger_faults(sb: Sandbox) -> None:
    fault = sb.faults.add("any", status=500)
    assert requests.get(f"{sb.url}/ping", timeout=5).status_code == 401
    assert fault.fired == 0


def test_faults_fire_exactly_n_times_under_concurrency(sb: Sandbox) -> None:
    fault = sb.faults.add("create", status=500, times=5)
    local = threading.local()

    def create(name: str) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.auth = (sb.api_key, "")
        return int(post(local.session, sb, name).status_code)

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(create, [f"n{i}" for i in range(40)]))
    assert statuses.count(500) == 5 and statuses.count(201) == 35
    assert fault.fired == 5 and len(sb.sources()) == 35
