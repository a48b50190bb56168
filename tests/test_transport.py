"""Transport: session, auth, timeouts, the retry rules, Retry-After, deadline, redacted logs.

Time is fake everywhere: ``FakeTime.sleep`` records the wait and moves the clock, so retry
schedules and deadlines are asserted exactly and the tests take no real time.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests
import responses
from fakes import FakeTime
from requests.adapters import HTTPAdapter
from responses import matchers
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from cmnb.api._pacing import MARGIN_S
from cmnb.api._retries import (
    Decision,
    Failure,
    classify_failure,
    describe_failure,
    may_have_acted,
    parse_retry_after,
    retry_decision,
)
from cmnb.api._secret import Secret
from cmnb.api._transport import (
    MAX_CONNECTIONS,
    POOL_MAXSIZE,
    Stopped,
    Transport,
    retries_stop_when,
)
from cmnb.errors import TransportError

BASE = "https://api.chartmogul.com/v1"
URL = f"{BASE}/data_sources"


def make(canary: str, fake: FakeTime, *, jitter: float = 0.0, **options: Any) -> Transport:
    options.setdefault("rate_limit_per_s", None)
    return Transport(
        Secret(canary),
        BASE,
        clock=fake.clock,
        sleep=fake.sleep,
        random=lambda: jitter,
        **options,
    )


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens: the request was never sent."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, URL, reason))  # type: ignore[arg-type]


def reset() -> requests.ConnectionError:
    """A reset after the request went out: the server may have acted."""
    return requests.ConnectionError(
        "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
    )


# --- the rules, as a table ---------------------------------------------------------------

RULES = [
    # outcome,              GET/DELETE,     POST
    (Failure.NOT_SENT, "retry", "retry"),
    (Failure.MAYBE_SENT, "retry", "retry, ambiguous"),
    (Failure.FATAL, "stop", "stop"),
    (429, "retry", "retry"),
    (503, "retry", "retry"),
    (500, "retry", "retry, ambiguous"),
    (502, "retry", "retry, ambiguous"),
    (504, "retry", "retry, ambiguous"),
    (501, "retry", "stop"),
    (400, "stop", "stop"),
    (401, "stop", "stop"),
    (403, "stop", "stop"),
    (404, "stop", "stop"),
    (422, "stop", "stop"),
    (302, "stop", "stop"),
]


@pytest.mark.parametrize(("outcome", "idempotent", "post"), RULES)
def test_retry_rules(outcome: Failure | int, idempotent: str, post: str) -> None:
    assert retry_decision("GET", outcome) is Decision(idempotent)
    assert retry_decision("delete", outcome) is Decision(idempotent)
    assert retry_decision("POST", outcome) is Decision(post)
    assert may_have_acted(outcome) is (post == "retry, ambiguous")


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (refused(), Failure.NOT_SENT),
        (
            requests.ConnectionError(
                NameResolutionError("api.chartmogul.com", None, "no such host")  # type: ignore[arg-type]
            ),
            Failure.NOT_SENT,
        ),
        (requests.exceptions.ConnectTimeout("connect timed out"), Failure.NOT_SENT),
        (requests.exceptions.ReadTimeout("read timed out"), Failure.MAYBE_SENT),
        (reset(), Failure.MAYBE_SENT),
        (requests.exceptions.ChunkedEncodingError("broken body"), Failure.MAYBE_SENT),
        (requests.exceptions.SSLError("certificate verify failed"), Failure.FATAL),
        (requests.exceptions.InvalidURL("bad"), Failure.FATAL),
    ],
)
def test_classify_failure(exc: requests.RequestException, failure: Failure) -> None:
    assert classify_failure(exc) is failure


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        (format_datetime(NOW + timedelta(seconds=7), usegmt=True), 7.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW.timestamp()) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Wed May  1 12:00:07 2024",  # asctime: no zone written, GMT by definition
        "Wednesday, 01-May-24 12:00:07 GMT",  # RFC 850
        "Wed, 01 May 2024 12:00:07 GMT",
    ],
)
def test_retry_after_http_date_forms_are_gmt_whatever_the_local_zone(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HTTP accepts three date forms; the asctime one carries no zone and must not be read as
    # local time (in New York that turned a 7-second wait into 4 hours).
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_retry_after(value, now=NOW.timestamp()) == 7.0
    finally:
        monkeypatch.undo()
        time.tzset()


# --- session, auth, timeout --------------------------------------------------------------


def test_one_pooled_session_without_urllib3_retries(canary: str, fake: FakeTime) -> None:
    transport = make(canary, fake)
    for prefix in ("https://", "http://"):
        adapter = transport.session.get_adapter(prefix + "example.com")
        assert isinstance(adapter, HTTPAdapter)
        assert adapter._pool_maxsize >= 20 == POOL_MAXSIZE  # type: ignore[attr-defined]
        assert adapter.max_retries.total == 0
    assert canary not in repr(transport)
    assert canary not in repr(vars(transport))
    assert canary not in repr(vars(transport.session))


def test_never_more_than_20_requests_in_flight_however_many_threads(
    canary: str, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ChartMogul answers 503 beyond 20 parallel connections; urllib3 alone would open one per
    # thread. The 21st thread must wait for a slot, then go.
    transport = make(canary, fake)
    lock, in_flight, peak = threading.Lock(), [0], [0]
    go = threading.Event()

    def held_request(*args: Any, **kwargs: Any) -> requests.Response:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        go.wait(10)
        with lock:
            in_flight[0] -= 1
        response = requests.Response()
        response.status_code, response._content = 200, b'{"data":"pong!"}'
        return response

    monkeypatch.setattr(transport.session, "request", held_request)
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(transport.request("GET", "/ping").status))
        for _ in range(MAX_CONNECTIONS + 10)
    ]
    for thread in threads:
        thread.start()
    for _ in range(1000):  # until the first 20 are in (the others must be held back)
        with lock:
            if in_flight[0] >= MAX_CONNECTIONS:
                break
        threading.Event().wait(0.005)
    threading.Event().wait(0.2)  # give a 21st request every chance to get in
    with lock:
        assert peak[0] == MAX_CONNECTIONS == 20
    go.set()
    for thread in threads:
        thread.join(10)
    assert statuses == [200] * (MAX_CONNECTIONS + 10)
    assert peak[0] == MAX_CONNECTIONS


def test_waiting_for_a_connection_slot_counts_against_the_deadline(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    transport = make(canary, fake, deadline_s=0.05)
    for _ in range(MAX_CONNECTIONS):  # every slot taken by requests that do not finish
        transport._slots.acquire()
    with pytest.raises(TransportError, match="deadline passed before the request could be sent"):
        transport.request("GET", "/ping")
    assert len(rsps.calls) == 0


def test_basic_auth_with_key_as_user_and_default_timeout(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    token = base64.b64encode(f"{canary}:".encode()).decode()
    rsps.get(
        f"{BASE}/ping",
        json={"data": "pong!"},
        match=[
            matchers.header_matcher(
                {"Authorization": f"Basic {token}", "Accept": "application/json"}
            )
        ],
    )
    reply = make(canary, fake).request("GET", "/ping")
    assert (reply.status, reply.json(), reply.attempts) == (200, {"data": "pong!"}, 1)
    assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 30.0)


def test_attempt_timeout_never_outlives_the_deadline(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, status=503)
    rsps.get(URL, json={"data_sources": []})
    make(canary, fake, deadline_s=12, jitter=1.0).request("GET", "/data_sources")
    assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 12.0)
    assert rsps.calls[1].request.req_kwargs["timeout"] == (5.0, 11.5)  # after a 0.5 s backoff


# --- schedules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jitter", "expected"), [(0.0, [0.25, 0.5, 1.0]), (0.5, [0.375, 0.75, 1.5])]
)
def test_get_backoff_schedule_and_attempt_bound(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock, jitter: float, expected: list[float]
) -> None:
    for _ in range(4):
        rsps.get(URL, status=500, body="oops")
    reply = make(canary, fake, jitter=jitter).request("GET", "/data_sources")
    assert (reply.status, reply.attempts) == (500, 4)
    assert fake.sleeps == expected
    assert len(rsps.calls) == 4


def test_backoff_is_capped(canary: str, fake: FakeTime) -> None:
    transport = make(canary, fake, jitter=1.0)
    assert [transport.backoff_s(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_max_attempts_one_means_no_retry(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, status=503)
    reply = make(canary, fake, max_attempts=1).request("GET", "/data_sources")
    assert (reply.status, reply.attempts, fake.sleeps) == (503, 1, [])


@pytest.mark.parametrize("failure", [refused, reset, lambda: requests.exceptions.ReadTimeout("t")])
def test_get_retries_network_failures(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock, failure: Any
) -> None:
    rsps.get(URL, body=failure())
    rsps.get(URL, json={"data_sources": []})
    reply = make(canary, fake).request("GET", "/data_sources")
    assert (reply.status, reply.attempts, fake.sleeps) == (200, 2, [0.25])


def test_network_failure_on_every_attempt_raises_transport_error(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    for _ in range(3):
        rsps.get(URL, body=refused())
    with pytest.raises(TransportError) as caught:
        make(canary, fake, max_attempts=3).request("GET", "/data_sources")
    error = caught.value
    assert "refused" in str(error) and "gave up after 3 attempts" in str(error)
    assert (error.method, error.path, error.maybe_sent) == ("GET", "/v1/data_sources", False)
    assert fake.sleeps == [0.25, 0.5]
    assert canary not in str(error) and canary not in repr(error)
    assert str(error).startswith(
        f"GET {URL}: Failed to establish a new connection: [Errno 111] refused"
    )
    assert error.__cause__ is None and error.__context__ is None


def test_tls_failure_is_not_retried(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(TransportError, match="certificate verify failed"):
        make(canary, fake).request("GET", "/data_sources")
    assert fake.sleeps == []


def test_client_errors_are_not_retried(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL + "/x", status=404, json={"error": "Data source not found"})
    reply = make(canary, fake).request("GET", "/data_sources/x")
    assert (reply.status, reply.attempts, fake.sleeps) == (404, 1, [])


# --- POST ------------------------------------------------------------------------------------

CREATED = {"uuid": "ds_fef05d54-47b4-431b-aed2-eb6b9e545430", "name": "In-house billing"}
BODY = {"name": "In-house billing"}


@pytest.mark.parametrize(
    ("first", "ambiguous"),
    [
        ({"status": 429}, False),
        ({"status": 503}, False),
        ({"body": refused()}, False),
        ({"body": requests.exceptions.ConnectTimeout("connect timed out")}, False),
        ({"status": 500}, True),
        ({"status": 502, "body": "<html><title>502 Bad Gateway</title></html>"}, True),
        ({"status": 504, "body": ""}, True),
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, True),
        ({"body": reset()}, True),
    ],
)
def test_post_is_retried_where_safe_or_recoverable(
    canary: str,
    fake: FakeTime,
    rsps: responses.RequestsMock,
    first: dict[str, Any],
    ambiguous: bool,
) -> None:
    rsps.post(URL, match=[matchers.json_params_matcher(BODY)], **first)
    rsps.post(URL, status=201, json=CREATED, match=[matchers.json_params_matcher(BODY)])
    reply = make(canary, fake).request("POST", "/data_sources", json=BODY)
    assert (reply.status, reply.attempts, reply.after_ambiguous) == (201, 2, ambiguous)
    assert fake.sleeps == [0.25]


@pytest.mark.parametrize("status", [400, 401, 403, 422, 501])
def test_post_is_not_retried_otherwise(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock, status: int
) -> None:
    rsps.post(URL, status=status, json={"code": status, "message": "no"})
    reply = make(canary, fake).request("POST", "/data_sources", json=BODY)
    assert (reply.status, reply.attempts, fake.sleeps) == (status, 1, [])


def test_post_ambiguity_sticks_through_later_safe_retries(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.post(URL, status=429, headers={"Retry-After": "1"})
    rsps.post(URL, status=422, json={"errors": {"name": "Has already been taken."}})
    reply = make(canary, fake).request("POST", "/data_sources", json=BODY)
    assert (reply.status, reply.attempts, reply.after_ambiguous) == (422, 3, True)
    assert fake.sleeps == [0.25, 1.0]


def test_post_read_timeouts_until_the_end_say_maybe_sent(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.post(URL, body=refused())
    with pytest.raises(TransportError) as caught:
        make(canary, fake, max_attempts=2).request("POST", "/data_sources", json=BODY)
    assert caught.value.maybe_sent is True  # the first attempt may have created it
    assert "may have reached the server" in str(caught.value)


# --- Retry-After and the deadline ------------------------------------------------------------


def test_retry_after_seconds_is_honoured(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, status=429, headers={"Retry-After": "3"})
    rsps.get(URL, status=503, headers={"Retry-After": "0.5"})
    rsps.get(URL, json={"data_sources": []})
    reply = make(canary, fake).request("GET", "/data_sources")
    assert (reply.status, fake.sleeps) == (200, [3.0, 0.5])


def test_retry_after_http_date_is_measured_against_the_server_date(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    server_now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    rsps.post(
        URL,
        status=429,
        headers={
            "Date": format_datetime(server_now, usegmt=True),
            "Retry-After": format_datetime(server_now + timedelta(seconds=7), usegmt=True),
        },
    )
    rsps.post(URL, status=201, json=CREATED)
    reply = make(canary, fake).request("POST", "/data_sources", json=BODY)
    assert (reply.status, fake.sleeps) == (201, [7.0])


def test_retry_after_beyond_the_deadline_fails_at_once(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, status=429, headers={"Retry-After": "30"})
    reply = make(canary, fake, deadline_s=10).request("GET", "/data_sources")
    assert (reply.status, reply.attempts, reply.retry_after_s, fake.sleeps) == (429, 1, 30.0, [])
    assert reply.error().retry_after_s == 30.0  # type: ignore[attr-defined]


def test_deadline_stops_the_backoff(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    # Backoffs 0.5, 1, 2 s with jitter 1.0; a 2 s deadline allows the first two waits only.
    for _ in range(3):
        rsps.get(URL, body=reset())
    with pytest.raises(TransportError, match="2 s deadline") as caught:
        make(canary, fake, deadline_s=2, jitter=1.0, max_attempts=10).request(
            "GET", "/data_sources"
        )
    assert fake.sleeps == [0.5, 1.0]
    assert "gave up after 3 attempts" in str(caught.value)


def test_no_new_attempt_once_the_stop_event_is_set(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    stop = threading.Event()
    transport = make(canary, fake)

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        stop.set()  # Ctrl-C arrives while the first attempt is in flight
        return 500, {}, "boom"

    rsps.add_callback(responses.GET, URL, callback=answer)
    with retries_stop_when(stop):
        reply = transport.request("GET", "/data_sources")
    assert (reply.status, reply.attempts, len(rsps.calls)) == (500, 1, 1)
    stop.clear()  # with the event clear, retries are as usual
    rsps.get(URL, status=500)
    rsps.get(URL, json={"data_sources": []})
    assert transport.request("GET", "/data_sources").attempts == 2


def test_pacing_applies_to_every_attempt(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(URL, status=503, headers={"Retry-After": "0"})
    rsps.get(URL, json={"data_sources": []})
    transport = make(canary, fake, rate_limit_per_s=1)
    transport.request("GET", "/data_sources")
    # Retry-After 0, then the pacer holds the second start for one window
    assert fake.sleeps == [0.0, pytest.approx(1.0 + MARGIN_S)]


def test_deadline_used_up_by_pacing_fails_before_sending(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/ping", json={"data": "pong!"})
    transport = make(canary, fake, rate_limit_per_s=1, deadline_s=0.5)
    transport.request("GET", "/ping")
    with pytest.raises(TransportError, match=r"0\.5 s deadline passed before the request"):
        transport.request("GET", "/ping")  # the pacer holds it until t=1.0
    assert len(rsps.calls) == 1


# --- logging ---------------------------------------------------------------------------------


def test_debug_log_has_every_attempt_and_never_the_key(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.post(URL, status=201, json=CREATED)
    make(canary, fake).request("POST", "/data_sources", json=BODY)
    ours = [r for r in caplog.records if r.name == "cmnb"]
    messages = [r.getMessage() for r in ours]
    assert any("attempt 1/4" in m for m in messages)
    assert any("attempt 2/4" in m for m in messages)
    assert any("retrying in 0.250 s" in m for m in messages)
    assert any("Basic ********" in m for m in messages)
    token = base64.b64encode(f"{canary}:".encode()).decode()
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + repr(vars(record))
        assert canary not in text and token not in text


# --- real sockets: the failure classes requests really raises --------------------------------


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # or every keep-alive call stalls ~40 ms
    protocol_version = "HTTP/1.1"
    script: ClassVar[list[str]] = []  # "drop" or a status code, one per request
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append(self.command)
        action = self.script.pop(0)
        if action == "drop":  # read the request, then hang up without answering
            self.close_connection = True
            return
        body = b'{"errors":{"name":"Has already been taken."}}'
        self.send_response(int(action))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_real_hang_up_after_sending_is_ambiguous(canary: str, fake: FakeTime) -> None:
    _Handler.script, _Handler.seen = ["drop", "422"], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        transport = Transport(
            Secret(canary),
            f"http://127.0.0.1:{server.server_address[1]}/v1",
            rate_limit_per_s=None,
            clock=fake.clock,
            sleep=fake.sleep,
            random=lambda: 0.0,
        )
        reply = transport.request("POST", "/data_sources", json=BODY)
        transport.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (reply.status, reply.attempts, reply.after_ambiguous) == (422, 2, True)
    assert _Handler.seen == ["POST", "POST"]


def test_real_connection_refused_is_not_sent(canary: str, fake: FakeTime) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport(
        Secret(canary),
        f"http://127.0.0.1:{port}/v1",
        max_attempts=2,
        rate_limit_per_s=None,
        clock=fake.clock,
        sleep=fake.sleep,
        random=lambda: 0.0,
    )
    with pytest.raises(TransportError) as caught:
        transport.request("POST", "/data_sources", json=BODY)
    assert caught.value.maybe_sent is False
    assert "gave up after 2 attempts" in str(caught.value)
    assert "HTTPConnection object" not in str(caught.value)
    assert fake.sleeps == [0.25]  # a POST that never left is retried


def test_a_read_timeout_reads_cleanly_with_one_attempt(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    # urllib3 gives the time left before the deadline to 16 digits: "(read timeout=2.99997796…)"
    timed_out = requests.exceptions.ReadTimeout(
        "HTTPConnectionPool(host='127.0.0.1', port=8765): Read timed out. "
        "(read timeout=2.999977967000632)"
    )
    rsps.get(URL, body=timed_out)
    with pytest.raises(TransportError) as caught:
        make(canary, fake, max_attempts=1).request("GET", "/data_sources")
    message = str(caught.value)
    assert "read timeout 3 s" in message and "2.9999" not in message
    assert "gave up after 1 attempt" in message and "1 attempts" not in message
    assert describe_failure(requests.exceptions.ConnectTimeout("(connect timeout=0.25)")) == (
        "(connect timeout 0.25 s)"
    )


# --- a stop (Ctrl-C in a bulk run) sends nothing more ---------------------------------------


def test_a_stop_while_waiting_for_a_connection_slot_sends_nothing(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    transport = make(canary, fake)
    for _ in range(MAX_CONNECTIONS):  # every slot held by requests still on the wire
        transport._slots.acquire()
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    with retries_stop_when(stop), pytest.raises(Stopped) as caught:
        transport.request("POST", "/data_sources", json=BODY)
    assert time.monotonic() - started < 0.5  # not the 60 s deadline
    assert caught.value.maybe_sent is False and "stopped before the request was sent" in str(
        caught.value
    )
    assert len(rsps.calls) == 0


def test_a_call_stopped_before_its_first_attempt_sends_nothing(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    stop = threading.Event()
    stop.set()
    with retries_stop_when(stop), pytest.raises(Stopped):
        make(canary, fake, rate_limit_per_s=40).request("GET", "/data_sources")
    assert len(rsps.calls) == 0


def test_a_stop_after_an_attempt_gives_that_attempts_answer(
    canary: str, fake: FakeTime, rsps: responses.RequestsMock
) -> None:
    rsps.post(URL, body=reset())
    stop = threading.Event()
    transport = make(canary, fake)
    original = transport.session.request

    def send_then_stop(*args: Any, **kwargs: Any) -> requests.Response:
        try:
            return original(*args, **kwargs)
        finally:
            stop.set()  # Ctrl-C while this attempt was on the wire

    transport.session.request = send_then_stop  # type: ignore[method-assign]
    with retries_stop_when(stop), pytest.raises(TransportError) as caught:
        transport.request("POST", "/data_sources", json=BODY)
    assert not isinstance(caught.value, Stopped) and caught.value.maybe_sent is True
    assert "(stopped after 1 attempt)" in str(caught.value)
    assert len(rsps.calls) == 1
