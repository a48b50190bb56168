"""Scripted faults: make the sandbox fail on purpose, exactly as often as asked.

A fault names the endpoint it hits (``create``, ``list``, ``retrieve``, ``delete``, ``ping`` or
``any``), when it strikes (before the store is touched, or ``after_commit`` — the change is made
and then the answer is lost), and what happens:

- ``status=500`` (or 429, 502, …): that status with a realistic body (429 carries the recorded
  rate-limit message; 502/504 an HTML page; ``body=`` overrides it), ``retry_after=`` adds a
  ``Retry-After`` header (and implies 429 when no status is given);
- ``reset=True``: the TCP connection is reset and no answer is sent;
- ``delay_s=``: the answer is held back that long (e.g. beyond the client's timeout).

``times`` is how many matching requests it fires on (``None``: every one), ``skip`` how many
matching requests pass untouched first, ``probability`` the chance it fires on a matching
request (drawn from a generator seeded with ``seed``, so a sequential run is reproducible;
requests it lets pass do not count against ``times``). ``fault.fired`` counts what really
happened. The same faults can be written as text for the CLI: ``"create:500:after_commit:x2"``,
``"create:reset"``, ``"any:429:retry_after=2"``, ``"list:delay=10"``, ``"create:502:skip=1"``,
``"any:500:always:p=0.1:seed=7"``.
"""

from __future__ import annotations

import dataclasses
import http
import json
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ENDPOINTS", "Fault", "Faults", "parse_fault"]

ENDPOINTS = ("create", "list", "retrieve", "delete", "ping", "any")
RATE_LIMIT_MESSAGE = "Your request rate has exceeded our rate limit."


@dataclass
class Fault:
    """One scripted fault; ``fired`` counts the requests it has hit so far."""

    endpoint: str
    status: int | None = None
    after_commit: bool = False
    reset: bool = False
    delay_s: float = 0.0
    retry_after: float | None = None
    body: str | None = None
    times: int | None = 1
    skip: int = 0
    fired: int = 0
    probability: float = 1.0
    seed: int | None = None
    _rng: random.Random = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.probability <= 1.0:
            raise ValueError(f"probability must be in (0, 1], not {self.probability}")
        self._rng = random.Random(self.seed)
        if self.endpoint not in ENDPOINTS:
            raise ValueError(
                f"unknown endpoint {self.endpoint!r}; use one of {', '.join(ENDPOINTS)}"
            )
        if self.retry_after is not None and self.status is None:
            self.status = 429
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"a fault status must be 400-599, not {self.status}")
        if self.reset and self.status is not None:
            raise ValueError("a fault either resets the connection or answers a status, not both")
        if not self.reset and self.status is None and self.delay_s <= 0:
            raise ValueError("a fault needs a status, reset=True or a delay_s > 0")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        if self.skip < 0 or self.delay_s < 0:
            raise ValueError("skip and delay_s cannot be negative")

    def strikes(self) -> bool:
        """Draw whether it fires on this matching request (always True at probability 1)."""
        return self.probability >= 1.0 or self._rng.random() < self.probability

    @property
    def exhausted(self) -> bool:
        """True once it has fired ``times`` times."""
        return self.times is not None and self.fired >= self.times

    def spec(self) -> str:
        """The text form, e.g. ``create:500:after_commit:x2`` (``parse_fault`` reads it back)."""
        parts = [self.endpoint]
        if self.status is not None:
            parts.append(str(self.status))
        if self.reset:
            parts.append("reset")
        if self.after_commit:
            parts.append("after_commit")
        if self.delay_s:
            parts.append(f"delay={self.delay_s:g}")
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after:g}")
        if self.skip:
            parts.append(f"skip={self.skip}")
        parts.append("always" if self.times is None else f"x{self.times}")
        if self.probability < 1.0:
            parts.append(f"p={self.probability:g}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ":".join(parts)

    def response(self) -> tuple[int, bytes, str, dict[str, str]]:
        """``(status, body, content_type, extra_headers)`` of the answer this fault gives."""
        status = self.status or 500
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        if self.body is not None:
            text = self.body
        elif status == 429:
            text = json.dumps(
                {"code": 429, "message": RATE_LIMIT_MESSAGE, "param": None}, separators=(",", ":")
            )
        elif status in (502, 504):
            phrase = f"{status} {_phrase(status)}"
            text = (
                f"<html><head><title>{phrase}</title></head><body><h1>{phrase}</h1></body></html>"
            )
        elif status >= 500:
            text = _phrase(status)
        else:
            text = json.dumps(
                {"code": status, "message": _phrase(status), "param": None}, separators=(",", ":")
            )
        return status, text.encode("utf-8"), _content_type(text), headers


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Server Error" if status >= 500 else "Error"


def _content_type(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "application/json; charset=utf-8"
    if stripped.startswith("<"):
        return "text/html; charset=utf-8"
    return "text/plain; charset=utf-8"


class Faults:
    """The sandbox's fault script: ``add(...)`` faults, ``clear()`` them, iterate over them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._passed: dict[int, int] = {}

    def add(
        self,
        endpoint: str | Fault = "any",
        *,
        status: int | None = None,
        after_commit: bool = False,
        reset: bool = False,
        delay_s: float = 0.0,
        retry_after: float | None = None,
        body: str | None = None,
        times: int | None = 1,
        skip: int = 0,
        probability: float = 1.0,
        seed: int | None = None,
    ) -> Fault:
        """Script a fault (see the module docstring) and return it; ``endpoint`` may also be a
        :class:`Fault` or a text spec like ``"create:500:after_commit:x2"``.

        Raises ``ValueError`` for an impossible fault (unknown endpoint, status and reset, …).
        """
        if isinstance(endpoint, Fault):
            fault = endpoint
        elif ":" in endpoint:
            fault = parse_fault(endpoint)
        else:
            fault = Fault(
                endpoint,
                status,
                after_commit,
                reset,
                delay_s,
                retry_after,
                body,
                times,
                skip,
                probability=probability,
                seed=seed,
            )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()
            self._passed.clear()

    def take(self, endpoint: str) -> Fault | None:
        """The fault that fires on this request (counted as fired), or ``None``. Thread-safe."""
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or fault.endpoint not in (endpoint, "any"):
                    continue
                passed = self._passed.get(id(fault), 0)
                if passed < fault.skip:
                    self._passed[id(fault)] = passed + 1
                    continue
                if not fault.strikes():
                    continue
                fault.fired += 1
                return fault
        return None

    @property
    def fired(self) -> int:
        """How many requests were hit by a fault in total."""
        with self._lock:
            return sum(fault.fired for fault in self._faults)

    def pending(self) -> list[Fault]:
        """Faults that will still fire."""
        with self._lock:
            return [fault for fault in self._faults if not fault.exhausted]

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def __repr__(self) -> str:
        with self._lock:
            shown = ", ".join(f"{f.spec()} (fired {f.fired})" for f in self._faults)
        return f"Faults([{shown}])"


_NUMBER = r"(\d+(?:\.\d+)?)"
_TOKENS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^([45]\d\d)$"), "status"),
    (re.compile(r"^x(\d+)$"), "times"),
    (re.compile(rf"^delay(?:_s)?={_NUMBER}$"), "delay_s"),  # delay_s= as in faults.add()
    (re.compile(rf"^retry_after={_NUMBER}$"), "retry_after"),
    (re.compile(r"^skip=(\d+)$"), "skip"),
    (re.compile(rf"^p={_NUMBER}$"), "probability"),
    (re.compile(r"^seed=(\d+)$"), "seed"),
]


def parse_fault(spec: str) -> Fault:
    """Read a text fault like ``create:500:after_commit:x2``; raises ``ValueError`` if unclear.

    Grammar: ``ENDPOINT`` then any of ``NNN`` (status), ``reset``, ``after_commit``,
    ``before_commit``, ``xN`` (times), ``always``, ``delay=S`` (or ``delay_s=S``),
    ``retry_after=S``, ``skip=N``, ``p=P`` (probability), ``seed=N``.
    """
    endpoint, *tokens = [part.strip() for part in spec.strip().split(":")]
    values: dict[str, object] = {}
    for token in tokens:
        lowered = token.lower()
        if lowered in ("reset", "after_commit"):
            values[lowered] = True
        elif lowered == "before_commit":
            values["after_commit"] = False
        elif lowered in ("always", "x*"):
            values["times"] = None
        else:
            for pattern, field in _TOKENS:
                match = pattern.match(lowered)
                if match:
                    number = match.group(1)
                    is_int = field in ("status", "times", "skip", "seed")
                    values[field] = int(number) if is_int else float(number)
                    break
            else:
                raise ValueError(
                    f"cannot read fault {spec!r}: unknown part {token!r} (the parts are NNN, "
                    "reset, after_commit, before_commit, xN, always, delay=S, retry_after=S, "
                    "skip=N, p=P, seed=N; e.g. create:500:after_commit:x2, list:delay=40)"
                )
    return Fault(endpoint.lower(), **values)  # type: ignore[arg-type]
