"""The retry rules: which failed requests are sent again, and how long to wait first.

This is the one place the rules are written down; :class:`~cmnb.transport.Transport` applies
them. An attempt ends in an HTTP status or, when no answer came back, in a :class:`Failure`:

====================================  ===========  ====================
outcome                               GET, DELETE  POST
====================================  ===========  ====================
not sent (refused, DNS, connect t/o)  retry        retry
maybe sent (read t/o, reset)          retry        retry, ambiguous
429 Too Many Requests                 retry        retry
503 (more than 20 connections)        retry        retry
500, 502, 504                         retry        retry, ambiguous
other 5xx                             retry        stop
other 4xx, 3xx, fatal (TLS, bad URL)  stop         stop
====================================  ===========  ====================

Why POST is special: ChartMogul has no idempotency keys, so sending a create twice can make two
sources. GET and DELETE can be repeated without harm (a repeated DELETE that answers 404 is
handled by the client), so they retry on every transient failure. POST is retried freely only
when the server certainly did not act: 429 (rate limit) and 503 (more than 20 connections) are
refusals, and a failure before the request was sent never reached it. After an *ambiguous*
failure — a read timeout or reset after sending, or 500/502/504 — the first attempt may have
created the source; the retry is still made (:data:`Decision.RETRY_AMBIGUOUS`) because names
are unique: if it answers "name already taken", the client looks the name up and returns the
source the first attempt created. Nothing is duplicated and nothing is lost. The source found is
returned only if the server created it during the call (:func:`created_during_call`, judged on
the server's clock): a name taken long before stays a :class:`~cmnb.errors.DuplicateNameError`.

When the rules give up on a create or a delete while its effect is in doubt (every attempt
ambiguous, or a clear refusal after an ambiguous one), the client does not guess: it looks the
name (or the uuid) up once, with :data:`LOOKUP_ATTEMPTS` attempts and a share of the call's
deadline (:data:`LOOKUP_SHARE`) kept back for it, so the attempts before cannot starve it. A
bulk run defers these lookups (:func:`lookups_deferred`) and settles them all with one list.

The wait before a retry is the server's ``Retry-After`` when it sent one, else an exponential
backoff from :data:`BACKOFF_BASE_S` capped at :data:`BACKOFF_CAP_S`, with jitter.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import enum
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING

import requests
from urllib3.exceptions import ConnectTimeoutError

from ._models import format_timestamp

if TYPE_CHECKING:
    from ._models import DataSource

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "CREATED_DURING_CALL_TOLERANCE_S",
    "LOOKUP_ATTEMPTS",
    "LOOKUP_SHARE",
    "RETRY_RULES",
    "Decision",
    "Failure",
    "backoff_s",
    "classify_failure",
    "created_during_call",
    "defer_lookups",
    "describe_failure",
    "lookups_deferred",
    "made_by_this_call",
    "may_have_acted",
    "parse_retry_after",
    "retry_after_of",
    "retry_decision",
    "server_date_of",
]

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0

#: How much earlier than the call's start (on the server's clock) a source found after an
#: ambiguous create may have been created and still count as made by this call. The start is
#: estimated from ``Date`` headers, which have a resolution of one second; the rest covers the
#: time between the server stamping ``created_at`` and ``Date`` and small clock differences
#: between the machines behind the API.
CREATED_DURING_CALL_TOLERANCE_S = 2.0

#: Attempts of the one lookup made after a create or delete ended in doubt (at most the client's
#: ``max_attempts``): a separate, small budget, so a lost answer is settled, not guessed.
LOOKUP_ATTEMPTS = 3
#: The share of a create's or delete's deadline kept back for that lookup.
LOOKUP_SHARE = 0.2

logger = logging.getLogger("cmnb")
_deferred: ContextVar[bool] = ContextVar("cmnb_lookups_deferred", default=False)


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

    Looks the outcome up in :data:`RETRY_RULES`; the module docstring explains the rules.
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


def describe_failure(exc: BaseException) -> str:
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
    # "(read timeout=2.999977967000632)": the time left before the deadline, as urllib3 got it
    text = _TIMEOUT_VALUE.sub(lambda m: f"{m[1]} timeout {float(m[2]):.3g} s", text)
    return text if len(text) <= 200 else text[:197] + "..."


_TIMEOUT_VALUE = re.compile(r"\b(read|connect) timeout=(\d+(?:\.\d+)?)")


def backoff_s(retry_number: int, jitter: float) -> float:
    """The wait before retry ``retry_number`` (1, 2, …): exponential, capped, with jitter.

    ``jitter`` is a random fraction in [0, 1). Half the wait is fixed and half is random
    ("equal jitter"), so many clients that failed together do not all come back in the same
    instant.
    """
    full: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (retry_number - 1))
    return full * (0.5 + 0.5 * jitter)


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
        when = _http_date(text)
        if when is None:
            return None
        seconds = when - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` of an answer's headers in seconds (see :func:`parse_retry_after`)."""
    return parse_retry_after(headers.get("Retry-After"), now=_server_now(headers))


def server_date_of(headers: Mapping[str, str]) -> float | None:
    """The server's ``Date`` header as a Unix timestamp, or ``None`` if missing or unparseable."""
    return _http_date(headers.get("Date", ""))


def created_during_call(created_at: datetime.datetime, server_started_at: float) -> bool:
    """True if a source created at ``created_at`` was created after the call began.

    ``server_started_at`` is the server's clock at the start of the call (see
    :attr:`cmnb.transport.Reply.server_started_at`); :data:`CREATED_DURING_CALL_TOLERANCE_S`
    absorbs the ``Date`` header's one-second resolution.
    """
    return created_at.timestamp() >= server_started_at - CREATED_DURING_CALL_TOLERANCE_S


def _server_now(headers: Mapping[str, str]) -> float:
    # An HTTP-date Retry-After is measured against the server's own Date header when there is
    # one, so a skewed local clock cannot turn a 2-second wait into minutes (or into none).
    server_now = server_date_of(headers)
    return time.time() if server_now is None else server_now


def _http_date(text: str) -> float | None:
    """An HTTP date as a Unix timestamp, or ``None``. HTTP dates are always GMT: the asctime
    form (``Sun Nov  6 08:49:37 1994``) carries no zone and must not be read as local time."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def made_by_this_call(existing: DataSource, server_started_at: float | None) -> bool:
    """Whether ``existing``, found holding the name after an ambiguous create, may be the source
    this call made: created during the call (:func:`created_during_call`), or nothing to judge by.
    """
    if server_started_at is None or existing.created_at is None:
        # Nothing to judge by: adopt, as the name was taken while we may have created it.
        logger.debug(
            "POST /data_sources: no server Date or created_at to date %s by; taking it as ours",
            existing.uuid,
        )
        return True
    if created_during_call(existing.created_at, server_started_at):
        return True
    logger.debug(
        "POST /data_sources: %r is held by %s, created %s, before this call started "
        "(server clock ~%s): not ours, the name was already taken",
        existing.name,
        existing.uuid,
        format_timestamp(existing.created_at),
        format_timestamp(datetime.datetime.fromtimestamp(server_started_at, datetime.timezone.utc)),
    )
    return False


@contextlib.contextmanager
def defer_lookups() -> Iterator[None]:
    """Inside this block, a create or delete that ends in doubt raises at once (its error's
    ``maybe_sent`` True) instead of looking the source up: the caller settles every doubt of a
    run with one list call (create_many does)."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


def lookups_deferred() -> bool:
    """True inside :func:`defer_lookups` on this thread."""
    return _deferred.get()
