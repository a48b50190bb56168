"""The wire: one ``requests.Session`` per client, auth, pacing, timeouts, retries, logging.

Every request goes through :meth:`Transport.request`, which paces it, sends it with a timeout,
and retries it by the rules of :mod:`cmnb.retries` (the only place those rules live) within
a bounded number of attempts and a total deadline. It returns the final HTTP answer as a
:class:`Reply`; turning an error status into an exception is the caller's choice
(:meth:`Reply.error`). It raises :class:`~cmnb.errors.TransportError` when there is no answer.

Log records go to the ``cmnb`` logger at DEBUG; the ``Authorization`` header is always redacted.
"""

from __future__ import annotations

import base64
import contextlib
import json as jsonlib
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
from ..errors import APIError, ConfigError, TransportError, error_from_response
from ._pacing import Pacer
from ._retries import (
    Decision,
    Failure,
    backoff_s,
    classify_failure,
    describe_failure,
    may_have_acted,
    retry_after_of,
    retry_decision,
    server_date_of,
)
from ._secret import Secret

__all__ = ["Reply", "Transport", "retries_stop_when"]

logger = logging.getLogger("cmnb")

#: ChartMogul refuses more than 20 parallel connections per account (503). A client never has
#: more than this many requests in flight, however many threads share it: a thread over the
#: limit waits (within its call's deadline) for another's request to finish.
MAX_CONNECTIONS = 20
POOL_MAXSIZE = MAX_CONNECTIONS
REDACTED_AUTH = "Basic ********"
USER_AGENT = f"cmnb/{__version__} python-requests/{requests.__version__}"


_stop_retrying: ContextVar[threading.Event | None] = ContextVar("cmnb_stop_retrying", default=None)


@contextlib.contextmanager
def retries_stop_when(event: threading.Event) -> Iterator[None]:
    """Inside this block, a call on this thread makes no new attempt once ``event`` is set.

    Bulk runs use it on their worker threads: after Ctrl-C, a request in flight finishes its
    current attempt and then gives up (with that attempt's answer or failure) instead of
    retrying until the deadline.
    """
    token = _stop_retrying.set(event)
    try:
        yield
    finally:
        _stop_retrying.reset(token)


@dataclass(frozen=True)
class Reply:
    """The final HTTP answer to one call (after any retries).

    ``attempts`` counts the requests sent; ``after_ambiguous`` is True when an earlier attempt
    may have reached the server without us seeing its answer (see :func:`may_have_acted`).
    ``server_started_at`` is the server's clock (Unix time) when the call started, estimated
    from the ``Date`` headers of the call's answers; ``None`` when none carried a valid one.
    """

    method: str
    path: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    retry_after_s: float | None = None
    attempts: int = 1
    after_ambiguous: bool = False
    server_started_at: float | None = None

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON; raises :class:`APIError` if it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            text = self.body.decode("utf-8", "replace")
            raise APIError(
                self.status,
                text.strip()[:200],
                method=self.method,
                path=self.path,
                body=text[:2000],
                hint="The server's answer is not the JSON the API sends",
            ) from None

    def error(self, *, name: str | None = None) -> APIError:
        """The :class:`APIError` subclass for this (error) status, keeping the server's words.

        ``name`` is the data source name the call was about (for the duplicate-name message).
        """
        return error_from_response(
            self.status,
            self.body,
            method=self.method,
            path=self.path,
            name=name,
            retry_after_s=self.retry_after_s,
        )


def _earliest(known: float | None, headers: Mapping[str, str], elapsed_s: float) -> float | None:
    """The server's clock at the start of a call, given one more answer ``elapsed_s`` into it.

    Each answer's ``Date`` minus the time since the call started is a lower bound of the server's
    clock at the start (``Date`` is stamped before we receive it, and truncated to the second).
    The lowest is kept: it never makes a source this call created look older than the call,
    even when a later answer came from a machine whose clock runs ahead.
    """
    date = server_date_of(headers)
    if date is None:
        return known
    estimate = date - elapsed_s
    return estimate if known is None else min(known, estimate)


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
    ) -> Reply:
        """Send one call, retrying by the :mod:`~cmnb.retries` rules; return the final HTTP answer.

        An error status is returned, not raised (see :meth:`Reply.error`). A ``Retry-After``
        longer than the time left before the deadline ends the call at once with that answer.
        Raises :class:`TransportError` when the last attempt got no HTTP answer.
        """
        method = method.upper()
        url = self.url(path)
        wire_path = urlsplit(url).path
        started = self._clock()
        deadline = started + self.deadline_s
        server_started_at: float | None = None
        after_ambiguous = False
        attempt = 0
        reply: Reply | None = None
        failure: TransportError | None = None
        while True:
            attempt += 1
            late = self._too_late(method, url, wire_path, maybe_sent=after_ambiguous)
            # The slot comes before the pacer, so a request starts when the pacer says it may.
            if not self._slots.acquire(timeout=max(0.0, deadline - self._clock())):
                return self._give_up(reply, failure or late, "")
            try:
                if self.pacer is not None:
                    self.pacer.acquire()
                remaining = deadline - self._clock()
                if remaining <= 0:  # the pacer's wait used up the rest of the deadline
                    return self._give_up(reply, failure or late, "")
                timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
                logger.debug(
                    "%s %s attempt %d/%d params=%s json=%s headers=%s",
                    method,
                    url,
                    attempt,
                    self.max_attempts,
                    dict(params or {}),
                    json,
                    self.redacted_headers(with_body=json is not None),
                )
                sent_at = self._clock()
                reply, failure = None, None
                try:
                    response = self.session.request(
                        method,
                        url,
                        params=params,
                        json=json,
                        timeout=timeout,
                        allow_redirects=False,
                        verify=self.verify,
                    )
                except requests.RequestException as exc:
                    kind = classify_failure(exc)
                    outcome: Failure | int = kind
                    maybe_sent = after_ambiguous or kind is Failure.MAYBE_SENT
                    failure = TransportError(
                        f"{method} {url}: {describe_failure(exc)}"
                        + (" (the request may have reached the server)" if maybe_sent else ""),
                        method=method,
                        path=wire_path,
                        maybe_sent=maybe_sent,
                    )
                    logger.debug(
                        "%s %s failed (%s): %s", method, url, kind.value, describe_failure(exc)
                    )
                else:
                    server_started_at = _earliest(
                        server_started_at, response.headers, self._clock() - started
                    )
                    reply = Reply(
                        method=method,
                        path=wire_path,
                        status=response.status_code,
                        body=response.content,
                        headers=response.headers,
                        retry_after_s=retry_after_of(response.headers),
                        attempts=attempt,
                        after_ambiguous=after_ambiguous,
                        server_started_at=server_started_at,
                    )
                    outcome = reply.status
                    logger.debug(
                        "%s %s -> %d in %.0f ms",
                        method,
                        url,
                        reply.status,
                        (self._clock() - sent_at) * 1000,
                    )
                    if reply.status < 400:
                        return reply
            finally:
                self._slots.release()
            decision = retry_decision(method, outcome)
            if decision is Decision.STOP:
                return self._give_up(reply, failure, "")
            if attempt >= self.max_attempts:
                return self._give_up(reply, failure, f"gave up after {_attempts(attempt)}")
            server_wait = reply.retry_after_s if reply is not None else None
            wait_s = server_wait if server_wait is not None else self.backoff_s(attempt)
            left_s = deadline - self._clock()
            if wait_s > left_s:
                logger.debug(
                    "%s %s: not retrying, a %.2f s wait exceeds the %.2f s left (deadline)",
                    method,
                    url,
                    wait_s,
                    left_s,
                )
                return self._give_up(
                    reply,
                    failure,
                    f"gave up after {_attempts(attempt)}: the {self.deadline_s:g} s deadline "
                    "would pass before the next one",
                )
            if self._stopped():
                return self._give_up(reply, failure, f"stopped after {_attempts(attempt)}")
            if may_have_acted(outcome):
                after_ambiguous = True
            logger.debug(
                "%s %s: retrying in %.3f s (%s%s)",
                method,
                url,
                wait_s,
                outcome.value if isinstance(outcome, Failure) else f"HTTP {outcome}",
                ", Retry-After" if server_wait is not None else "",
            )
            self._pause(wait_s)
            if self._stopped():
                return self._give_up(reply, failure, f"stopped after {_attempts(attempt)}")

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

    def _too_late(self, method: str, url: str, path: str, *, maybe_sent: bool) -> TransportError:
        return TransportError(
            f"{method} {url}: the {self.deadline_s:g} s deadline passed before "
            "the request could be sent",
            method=method,
            path=path,
            maybe_sent=maybe_sent,
        )

    @staticmethod
    def _give_up(reply: Reply | None, failure: TransportError | None, why: str) -> Reply:
        if reply is not None:
            return reply
        assert failure is not None
        if why:
            failure.args = (f"{failure.args[0]} ({why})",)
        raise failure

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"
