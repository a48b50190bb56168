"""The wire: one ``requests.Session`` per client, auth, pacing, timeouts, retries, logging.

Every request goes through :meth:`Transport.request`, which paces it, sends it with a timeout,
and retries it by the rules of :mod:`cmnb.retries` (the only place those rules live) within
a bounded number of attempts and a total deadline. It returns the final HTTP answer as a
:class:`Reply`; turning an error status into an exception is the caller's choice
(:meth:`Reply.error`). It raises :class:`~cmnb.errors.TransportError` when there is no answer.

Log records go to the ``cmnb`` logger at DEBUG; the ``Authorization`` header is always redacted.

Why one module of ~450 lines: :class:`Transport` is one state machine (take a slot, send,
classify, wait, give up) whose small steps share the call's record; split apart, the retry flow
could no longer be read top to bottom. What a call returns lives in :mod:`._reply`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import random as randomlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from .._version import __version__
from ..errors import TARGET_CHARTMOGUL, TARGET_SANDBOX, ConfigError, TransportError
from ._pacing import Pacer
from ._reply import CHANGES, Reply, earliest_server_start
from ._retries import (
    Decision,
    Failure,
    backoff_s,
    classify_failure,
    describe_failure,
    may_have_acted,
    retry_after_of,
    retry_decision,
)
from ._secret import Secret
from ._settings import is_loopback_host

__all__ = ["Stopped", "Transport", "retries_stop_when"]

logger = logging.getLogger("cmnb")

#: ChartMogul refuses more than 20 parallel connections per account (503). A client never has
#: more than this many requests in flight, however many threads share it: a thread over the
#: limit waits (within its call's deadline) for another's request to finish.
MAX_CONNECTIONS = 20
POOL_MAXSIZE = MAX_CONNECTIONS
#: How long at most a read waits for a timed-out create or delete that may still land.
LANDING_GRACE_CAP_S = 5.0
#: How often a thread waiting for a connection slot checks for a stop (Ctrl-C).
_STOP_POLL_S = 0.05
REDACTED_AUTH = "Basic ********"
USER_AGENT = f"cmnb/{__version__} python-requests/{requests.__version__}"


_stop_retrying: ContextVar[threading.Event | None] = ContextVar("cmnb_stop_retrying", default=None)


@contextlib.contextmanager
def retries_stop_when(event: threading.Event) -> Iterator[None]:
    """Inside this block, a call on this thread sends nothing more once ``event`` is set.

    Bulk runs use it on their worker threads: after Ctrl-C, a request already on the wire
    finishes its current attempt and then gives up (with that attempt's answer or failure)
    instead of retrying until the deadline; a request still waiting for a connection slot, for
    the pacer or for a retry gives up at once, unsent (:class:`Stopped` if nothing was sent).
    """
    token = _stop_retrying.set(event)
    try:
        yield
    finally:
        _stop_retrying.reset(token)


class Stopped(TransportError):
    """A call stopped (see :func:`retries_stop_when`) before any of its attempts was sent."""


def _check_verify(verify: object) -> str | bool:
    if isinstance(verify, bool):
        return verify
    if not isinstance(verify, str):
        raise ConfigError(
            f"verify must be True, False or the path of a CA file, not {type(verify).__name__}."
        )
    if not os.path.exists(verify):
        raise ConfigError(f"verify: there is no CA file or directory at {verify!r}.")
    return verify


class _KeyAuth(requests.auth.AuthBase):
    """HTTP Basic auth with the API key as the user name and an empty password."""

    def __init__(self, key: Secret) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = base64.b64encode(f"{self._key.reveal()}:".encode()).decode("ascii")
        request.headers["Authorization"] = f"Basic {token}"
        return request

    def __repr__(self) -> str:
        return "_KeyAuth(Secret('********'))"


@dataclass
class _Call:
    """One call across its attempts: what is sent, and what came back so far."""

    method: str
    url: str
    path: str  # the URL's path, as errors and replies name it
    params: Mapping[str, str] | None
    json: Any
    started: float
    deadline_s: float
    deadline: float
    max_attempts: int
    attempt: int = 0  # attempts sent so far
    after_ambiguous: bool = False
    server_started_at: float | None = None
    reply: Reply | None = None
    failure: TransportError | None = None


class _GiveUp(Exception):
    """No further attempt: ``why`` is added to the last failure's message; ``fallback`` is the
    error to raise when the call has neither an answer nor a failure (nothing was sent)."""

    def __init__(self, why: str, fallback: TransportError | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.fallback = fallback


class Transport:
    """Sends requests for one client: keep-alive session, auth, pacing, retries, deadline.

    ``timeout`` is ``(connect_s, read_s)`` per attempt; ``deadline_s`` bounds a whole call
    across all attempts and waits; ``max_attempts`` bounds the number of requests per call.
    ``verify``: check the server's certificate against the default CA bundle (``True``), this
    CA file or directory (a path), or not at all (``False``). It is sent with every request,
    because requests lets ``REQUESTS_CA_BUNDLE`` override a session-wide setting.
    ``clock``/``sleep``/``random`` are injectable so tests can assert retry schedules exactly.
    Raises :class:`ConfigError` for a bad ``max_attempts``/``deadline_s``/``rate_limit_per_s``
    or a ``verify`` path that does not exist.
    """

    def __init__(
        self,
        api_key: Secret,
        base_url: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 4,
        deadline_s: float = 60.0,
        rate_limit_per_s: float | None = 40,
        trust_env: bool = True,
        verify: str | bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = randomlib.random,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigError(f"max_attempts must be an int >= 1, not {max_attempts!r}.")
        if (
            isinstance(deadline_s, bool)
            or not isinstance(deadline_s, (int, float))
            or not deadline_s > 0
        ):
            raise ConfigError(f"deadline_s must be a number of seconds > 0, not {deadline_s!r}.")
        self.verify = _check_verify(verify)
        self.base_url = base_url
        #: Who messages say answered: a base URL on this machine is a sandbox, never ChartMogul.
        loopback = is_loopback_host(urlsplit(base_url).hostname or "")
        self.target = TARGET_SANDBOX if loopback else TARGET_CHARTMOGUL
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.deadline_s = float(deadline_s)
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self.pacer = (
            Pacer(rate_limit_per_s, clock=clock, sleep=sleep)
            if rate_limit_per_s is not None
            else None
        )
        # urllib3's pool (block=False) opens an extra connection for every thread beyond its
        # size: without this gate, 30 threads sharing a client made 30 parallel connections.
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        # When a create or delete timed out unanswered, the server may still be working on it:
        # reads wait until then (see _let_writes_land).
        self._writes_may_land_until = float("-inf")
        self._landing_lock = threading.Lock()
        self.session = requests.Session()
        # max_retries=0: urllib3 must not retry on its own, or a POST could be sent twice
        # behind the back of the retry rules.
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=POOL_MAXSIZE, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.auth = _KeyAuth(api_key)
        self.session.trust_env = trust_env
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/data_sources``."""
        return self.base_url + path

    def redacted_headers(self, *, with_body: bool) -> dict[str, str]:
        """The headers a request carries, with ``Authorization`` redacted."""
        headers = {str(k): str(v) for k, v in self.session.headers.items()}
        headers["Authorization"] = REDACTED_AUTH
        if with_body:
            headers["Content-Type"] = "application/json"
        return headers

    def backoff_s(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1, 2, …); see :func:`cmnb.retries.backoff_s`."""
        return backoff_s(retry_number, self._random())

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        deadline_s: float | None = None,
        max_attempts: int | None = None,
    ) -> Reply:
        """Send one call, retrying by the :mod:`~cmnb.retries` rules; return the final HTTP answer.

        An error status is returned, not raised (see :meth:`Reply.error`). A ``Retry-After``
        longer than the time left before the deadline ends the call at once with that answer.
        ``deadline_s`` and ``max_attempts`` replace the transport's own for this call.
        Raises :class:`TransportError` when the last attempt got no HTTP answer, and
        :class:`Stopped` when a stop (:func:`retries_stop_when`) came before anything was sent.
        """
        if method.upper() == "GET":
            self._let_writes_land()
        url, started = self.url(path), self._clock()
        budget_s = self.deadline_s if deadline_s is None else deadline_s
        call = _Call(
            method=method.upper(),
            url=url,
            path=urlsplit(url).path,
            params=params,
            json=json,
            started=started,
            deadline_s=budget_s,
            deadline=started + budget_s,
            max_attempts=self.max_attempts if max_attempts is None else max_attempts,
        )
        try:
            try:
                while True:
                    outcome = self._attempt(call)
                    if call.reply is not None and call.reply.status < 400:
                        return call.reply
                    self._wait(call, self._classify(call, outcome))
            except _GiveUp as stop:
                why, fallback = stop.why, stop.fallback
            # Raised outside the except block, so the error carries no internal context.
            return self._give_up(call, why, fallback)
        except TransportError as failure:
            failure.target = self.target
            raise

    def _attempt(self, call: _Call) -> Failure | int:
        """Take a connection slot and the pacer's turn, then send: the attempt's outcome.

        Raises :class:`_GiveUp` when the deadline passes or a stop comes before it is sent.
        """
        late = self._too_late(call)
        # The slot comes before the pacer, so a request starts when the pacer says it may.
        if not self._take_slot(call):
            raise self._unsent(call, late)
        try:
            stop = _stop_retrying.get()
            if self.pacer is not None and self.pacer.acquire(stop=stop) is None:
                raise self._unsent(call, late)
            remaining = call.deadline - self._clock()
            if remaining <= 0:  # the pacer's wait used up the rest of the deadline
                raise _GiveUp("", late)
            if self._stopped():  # the last moment at which a stop still means "not sent"
                raise self._unsent(call, late)
            connect_s, read_s = self.timeout
            return self._send(call, (min(connect_s, remaining), min(read_s, remaining)))
        finally:
            self._slots.release()

    def _take_slot(self, call: _Call) -> bool:
        """Wait for one of the :data:`MAX_CONNECTIONS` slots, within the call's deadline.

        False when the deadline passed or a stop came first (the wait ends at once on a stop).
        """
        budget_s = max(0.0, call.deadline - self._clock())
        stop = _stop_retrying.get()
        if stop is None:
            return self._slots.acquire(timeout=budget_s)
        # A semaphore cannot be woken by an event: wait in short slices, checking the stop.
        ends_at = time.monotonic() + budget_s
        while not stop.is_set():
            slice_s = min(_STOP_POLL_S, max(0.0, ends_at - time.monotonic()))
            if self._slots.acquire(timeout=slice_s):
                if not stop.is_set():
                    return True
                self._slots.release()
                return False
            if time.monotonic() >= ends_at:
                return False
        return False

    def _unsent(self, call: _Call, late: TransportError) -> _GiveUp:
        """Give up on an attempt that could not be sent: stopped, or out of time."""
        if not self._stopped():
            return _GiveUp("", late)
        stopped = Stopped(
            f"{call.method} {call.url}: stopped before the request was sent",
            method=call.method,
            path=call.path,
        )
        return _GiveUp(f"stopped after {_attempts(call.attempt)}", stopped)

    def _send(self, call: _Call, timeout: tuple[float, float]) -> Failure | int:
        """Send the request once; record its answer or failure on ``call``; return the outcome."""
        method, url = call.method, call.url
        call.attempt += 1
        logger.debug(
            "%s %s attempt %d/%d params=%s json=%s headers=%s",
            method,
            url,
            call.attempt,
            call.max_attempts,
            dict(call.params or {}),
            call.json,
            self.redacted_headers(with_body=call.json is not None),
        )
        sent_at = self._clock()
        call.reply, call.failure = None, None
        try:
            response = self.session.request(
                method,
                url,
                params=call.params,
                json=call.json,
                timeout=timeout,
                allow_redirects=False,
                verify=self.verify,
            )
        except requests.RequestException as exc:
            kind = classify_failure(exc)
            if method in CHANGES and isinstance(exc, requests.exceptions.ReadTimeout):
                self._expect_landing(timeout[1])
            call.failure = self._failure(call, exc, kind)
            logger.debug("%s %s failed (%s): %s", method, url, kind.value, describe_failure(exc))
            return kind
        call.server_started_at = earliest_server_start(
            call.server_started_at, response.headers, self._clock() - call.started
        )
        call.reply = Reply(
            method=method,
            path=call.path,
            status=response.status_code,
            body=response.content,
            headers=response.headers,
            retry_after_s=retry_after_of(response.headers),
            attempts=call.attempt,
            after_ambiguous=call.after_ambiguous,
            server_started_at=call.server_started_at,
            target=self.target,
        )
        logger.debug(
            "%s %s -> %d in %.0f ms",
            method,
            url,
            call.reply.status,
            (self._clock() - sent_at) * 1000,
        )
        return call.reply.status

    @staticmethod
    def _failure(call: _Call, exc: requests.RequestException, kind: Failure) -> TransportError:
        """The :class:`TransportError` for an attempt that got no HTTP answer."""
        maybe_sent = call.after_ambiguous or kind is Failure.MAYBE_SENT
        return TransportError(
            f"{call.method} {call.url}: {describe_failure(exc)}"
            + (" (the request may have reached the server)" if maybe_sent else ""),
            method=call.method,
            path=call.path,
            maybe_sent=maybe_sent,
        )

    def _classify(self, call: _Call, outcome: Failure | int) -> float:
        """How long to wait before retrying a failed attempt, by the retry rules.

        Raises :class:`_GiveUp` when the rules, the attempt budget, the deadline or a stop
        (:func:`retries_stop_when`) say there is no retry.
        """
        if retry_decision(call.method, outcome) is Decision.STOP:
            raise _GiveUp("")
        tried = _attempts(call.attempt)
        if call.attempt >= call.max_attempts:
            raise _GiveUp(f"gave up after {tried}")
        server_wait = call.reply.retry_after_s if call.reply is not None else None
        wait_s = server_wait if server_wait is not None else self.backoff_s(call.attempt)
        left_s = call.deadline - self._clock()
        if wait_s > left_s:
            logger.debug(
                "%s %s: not retrying, a %.2f s wait exceeds the %.2f s left (deadline)",
                call.method,
                call.url,
                wait_s,
                left_s,
            )
            raise _GiveUp(
                f"gave up after {tried}: the {call.deadline_s:g} s deadline "
                "would pass before the next one"
            )
        if self._stopped():
            raise _GiveUp(f"stopped after {tried}")
        if may_have_acted(outcome):
            call.after_ambiguous = True
        logger.debug(
            "%s %s: retrying in %.3f s (%s%s)",
            call.method,
            call.url,
            wait_s,
            outcome.value if isinstance(outcome, Failure) else f"HTTP {outcome}",
            ", Retry-After" if server_wait is not None else "",
        )
        return wait_s

    def _expect_landing(self, read_timeout_s: float) -> None:
        """A create or delete got no answer within the read timeout: the server may still be
        working on it. Give it as long again (at most :data:`LANDING_GRACE_CAP_S`)."""
        until = self._clock() + min(read_timeout_s, LANDING_GRACE_CAP_S)
        with self._landing_lock:
            self._writes_may_land_until = max(self._writes_may_land_until, until)

    def _let_writes_land(self) -> None:
        """A read waits for a timed-out write that may still land, so that a lookup after a
        lost answer does not report absent a source the server was still creating."""
        with self._landing_lock:
            wait_s = self._writes_may_land_until - self._clock()
        if wait_s > 0:
            logger.debug("waiting %.2f s for an unanswered write to land before reading", wait_s)
            self._pause(wait_s)

    def _wait(self, call: _Call, wait_s: float) -> None:
        """Wait before the next attempt; raises :class:`_GiveUp` if a stop came meanwhile."""
        self._pause(wait_s)
        if self._stopped():
            raise _GiveUp(f"stopped after {_attempts(call.attempt)}")

    @staticmethod
    def _stopped() -> bool:
        stop = _stop_retrying.get()
        return stop is not None and stop.is_set()

    def _pause(self, seconds: float) -> None:
        stop = _stop_retrying.get()
        if stop is not None and self._sleep is time.sleep:
            stop.wait(seconds)  # a real wait that ends early when the run is interrupted
        else:
            self._sleep(seconds)

    def _too_late(self, call: _Call) -> TransportError:
        return TransportError(
            f"{call.method} {call.url}: the {call.deadline_s:g} s deadline passed before "
            "the request could be sent",
            method=call.method,
            path=call.path,
            maybe_sent=call.after_ambiguous,
        )

    @staticmethod
    def _give_up(call: _Call, why: str, fallback: TransportError | None) -> Reply:
        """End the call: its last answer, else raise its last failure (``why`` appended to the
        message), else ``fallback`` (the request could not be sent at all)."""
        if call.reply is not None:
            return call.reply
        if call.failure is not None:
            failure = call.failure
            if why:
                failure.args = (f"{failure.args[0]} ({why})",)
        else:
            assert fallback is not None
            failure = fallback
        failure.server_started_at = call.server_started_at
        raise failure

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"
