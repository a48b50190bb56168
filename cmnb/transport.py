"""The wire: one ``requests.Session`` per client, auth, pacing, timeouts, retries, logging.

Every request goes through :meth:`Transport.request`, which paces it, sends it with a timeout,
and retries it by the rules in :data:`RETRY_RULES` (the only place those rules live) within a
bounded number of attempts and a total deadline. It returns the final HTTP answer as a
:class:`Reply`; turning an error status into an exception is the caller's choice
(:meth:`Reply.error`). It raises :class:`~cmnb.errors.TransportError` when there is no answer.

Log records go to the ``cmnb`` logger at DEBUG; the ``Authorization`` header is always redacted.
"""

from __future__ import annotations

import base64
import email.utils
import enum
import json as jsonlib
import logging
import math
import os
import random as randomlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from . import __version__
from .errors import APIError, ConfigError, TransportError, error_from_response
from .pacing import Pacer
from .secret import Secret

__all__ = [
    "RETRY_RULES",
    "Decision",
    "Failure",
    "Reply",
    "Transport",
    "classify_failure",
    "may_have_acted",
    "parse_retry_after",
    "retry_decision",
]

logger = logging.getLogger("cmnb")

POOL_MAXSIZE = 20  # bulk creates run up to 20 threads on one client; ChartMogul allows 20
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
REDACTED_AUTH = "Basic ********"
USER_AGENT = f"cmnb/{__version__} python-requests/{requests.__version__}"


class Failure(enum.Enum):
    """How a request failed when no HTTP answer came back."""

    NOT_SENT = "not sent"  # connection refused, DNS failure, connect timeout
    MAYBE_SENT = "maybe sent"  # read timeout or connection reset after the request went out
    FATAL = "fatal"  # TLS failure, invalid URL: trying again cannot help


class Decision(enum.Enum):
    """What to do after a failed attempt."""

    STOP = "stop"
    RETRY = "retry"  # the server did not act on the request, or acting twice is harmless
    RETRY_AMBIGUOUS = "retry, ambiguous"  # the server may already have acted


#: Retry rules: outcome → (decision for GET/DELETE, decision for POST). Outcomes not listed
#: (4xx other than 429, 3xx, Failure.FATAL) are never retried; "5xx" stands for the others.
RETRY_RULES: Mapping[Failure | int | str, tuple[Decision, Decision]] = {
    Failure.NOT_SENT: (Decision.RETRY, Decision.RETRY),
    Failure.MAYBE_SENT: (Decision.RETRY, Decision.RETRY_AMBIGUOUS),
    429: (Decision.RETRY, Decision.RETRY),
    503: (Decision.RETRY, Decision.RETRY),
    500: (Decision.RETRY, Decision.RETRY_AMBIGUOUS),
    502: (Decision.RETRY, Decision.RETRY_AMBIGUOUS),
    504: (Decision.RETRY, Decision.RETRY_AMBIGUOUS),
    "5xx": (Decision.RETRY, Decision.STOP),
}

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def retry_decision(method: str, outcome: Failure | int) -> Decision:
    """Whether a request that ended with ``outcome`` (a :class:`Failure` or a status) is retried.

    Why POST is special: ChartMogul has no idempotency keys, so sending a create twice can make
    two sources. GET and DELETE can be repeated without harm (a repeated DELETE that answers 404
    is handled by the client), so they retry on every transient failure. POST is retried freely
    only when the server certainly did not act: 429 (rate limit) and 503 (more than 20
    connections) are refusals, and a failure before the request was sent (connection refused,
    DNS, connect timeout) never reached it. After an *ambiguous* failure — a read timeout or
    reset after sending, or 500/502/504 — the first attempt may have created the source; the
    retry is still made (:data:`Decision.RETRY_AMBIGUOUS`) because names are unique: if it
    answers "name already taken", the client looks the name up and returns the source the
    first attempt created. Nothing is duplicated and nothing is lost.
    """
    key: Failure | int | str = outcome
    if isinstance(outcome, int) and outcome >= 500 and outcome not in RETRY_RULES:
        key = "5xx"
    rule = RETRY_RULES.get(key)
    if rule is None:
        return Decision.STOP
    return rule[0] if method.upper() in _IDEMPOTENT else rule[1]


def may_have_acted(outcome: Failure | int) -> bool:
    """True if the server may have acted on a request that ended this way (any method).

    These are exactly the outcomes POST retries as :data:`Decision.RETRY_AMBIGUOUS`; the
    client uses this to recognise "name taken" or "404" answers caused by its own lost attempt.
    """
    return retry_decision("POST", outcome) is Decision.RETRY_AMBIGUOUS


def classify_failure(exc: requests.RequestException) -> Failure:
    """Whether a request that raised ``exc`` certainly did not reach the server."""
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.InvalidURL)):
        return Failure.FATAL
    if isinstance(exc, requests.exceptions.ConnectTimeout) or _failed_to_connect(exc):
        return Failure.NOT_SENT
    if isinstance(
        exc,
        (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ),
    ):
        return Failure.MAYBE_SENT
    return Failure.FATAL


def _failed_to_connect(exc: BaseException) -> bool:
    """True if urllib3 gave up while connecting (NewConnectionError, DNS, connect timeout)."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectTimeoutError):  # NewConnectionError is a subclass
            return True
        todo.extend(item.args)
        todo.extend((getattr(item, "reason", None), item.__cause__, item.__context__))
    return False


def _describe(exc: BaseException) -> str:
    """The innermost useful reason of a requests/urllib3 failure, in one short line."""
    reason: BaseException = exc
    for _ in range(5):
        inner = getattr(reason, "reason", None)
        if not isinstance(inner, BaseException):
            # ProtocolError("Connection aborted.", ConnectionResetError(...)) nests in args
            nested = [arg for arg in reason.args if isinstance(arg, BaseException)]
            inner = nested[-1] if nested else None
        if inner is None:
            break
        reason = inner
    # urllib3 prefixes NewConnectionError with the connection object's repr; keep the words.
    message = getattr(reason, "_message", None)
    text = (message if isinstance(message, str) else str(reason)).strip()
    text = text or type(reason).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds, or an HTTP date), or ``None``.

    ``now`` is the current time as a Unix timestamp, used for the HTTP-date form. A date in
    the past gives 0; an unparseable value gives ``None`` (the normal backoff then applies).
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _server_now(headers: Mapping[str, str]) -> float:
    # An HTTP-date Retry-After is measured against the server's own Date header when there is
    # one, so a skewed local clock cannot turn a 2-second wait into minutes (or into none).
    try:
        server_now: float = email.utils.parsedate_to_datetime(headers.get("Date", "")).timestamp()
    except (TypeError, ValueError, IndexError):
        return time.time()
    return server_now


@dataclass(frozen=True)
class Reply:
    """The final HTTP answer to one call (after any retries).

    ``attempts`` counts the requests sent; ``after_ambiguous`` is True when an earlier attempt
    may have reached the server without us seeing its answer (see :func:`may_have_acted`).
    """

    method: str
    path: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    retry_after_s: float | None = None
    attempts: int = 1
    after_ambiguous: bool = False

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
        self.session = requests.Session()
        # max_retries=0: urllib3 must not retry on its own, or a POST could be sent twice
        # behind the back of RETRY_RULES.
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
        """The wait before retry ``retry_number`` (1, 2, …): exponential, capped, with jitter.

        Half the wait is fixed and half is random ("equal jitter"), so many clients that failed
        together do not all come back in the same instant.
        """
        full: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (retry_number - 1))
        return full * (0.5 + 0.5 * self._random())

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Reply:
        """Send one call, retrying by :data:`RETRY_RULES`; return the final HTTP answer.

        An error status is returned, not raised (see :meth:`Reply.error`). A ``Retry-After``
        longer than the time left before the deadline ends the call at once with that answer.
        Raises :class:`TransportError` when the last attempt got no HTTP answer.
        """
        method = method.upper()
        url = self.url(path)
        wire_path = urlsplit(url).path
        deadline = self._clock() + self.deadline_s
        after_ambiguous = False
        attempt = 0
        reply: Reply | None = None
        failure: TransportError | None = None
        while True:
            attempt += 1
            if self.pacer is not None:
                self.pacer.acquire()
            remaining = deadline - self._clock()
            if remaining <= 0:  # the pacer's wait used up the rest of the deadline
                late = TransportError(
                    f"{method} {url}: the {self.deadline_s:g} s deadline passed before "
                    "the request could be sent",
                    method=method,
                    path=wire_path,
                    maybe_sent=after_ambiguous,
                )
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
                    f"{method} {url}: {_describe(exc)}"
                    + (" (the request may have reached the server)" if maybe_sent else ""),
                    method=method,
                    path=wire_path,
                    maybe_sent=maybe_sent,
                )
                logger.debug("%s %s failed (%s): %s", method, url, kind.value, _describe(exc))
            else:
                reply = Reply(
                    method=method,
                    path=wire_path,
                    status=response.status_code,
                    body=response.content,
                    headers=response.headers,
                    retry_after_s=parse_retry_after(
                        response.headers.get("Retry-After"), now=_server_now(response.headers)
                    ),
                    attempts=attempt,
                    after_ambiguous=after_ambiguous,
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
            decision = retry_decision(method, outcome)
            if decision is Decision.STOP:
                return self._give_up(reply, failure, "")
            if attempt >= self.max_attempts:
                return self._give_up(reply, failure, f"gave up after {attempt} attempts")
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
                    f"gave up after {attempt} attempts: the {self.deadline_s:g} s deadline "
                    "would pass before the next one",
                )
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
            self._sleep(wait_s)

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
