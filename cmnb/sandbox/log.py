"""The sandbox's request log: what it received, for teaching and tests, never with the key."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["LoggedRequest", "RequestLog"]

logger = logging.getLogger("cmnb.sandbox")

REDACTED = "********"


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it. ``headers`` has Authorization redacted; ``status`` is
    ``None`` when a fault reset the connection; ``fault`` is the spec of the fault that fired;
    ``received_at`` is when its request line arrived (``time.monotonic()``; entries are kept in
    the order they were answered)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int | None
    fault: str | None = None
    received_at: float = 0.0


class RequestLog:
    """The last ``maxlen`` requests, thread-safe. The Authorization header is always redacted
    (whatever key it held) and the sandbox key is scrubbed from paths, queries and bodies."""

    def __init__(self, api_key: str, maxlen: int = 10_000) -> None:
        self._api_key = api_key
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def scrub(self, text: str) -> str:
        """``text`` with the sandbox key replaced by asterisks."""
        return text.replace(self._api_key, REDACTED) if self._api_key else text

    def record(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        status: int | None,
        fault: str | None,
        received_at: float = 0.0,
    ) -> LoggedRequest:
        """Keep one request (``target`` is the raw path with its query) and log it at DEBUG."""
        parts = urlsplit(target)
        shown_headers = {
            name: (
                f"{value.partition(' ')[0]} {REDACTED}"
                if name.lower() == "authorization"
                else self.scrub(value)
            )
            for name, value in headers
        }
        text = self.scrub(body.decode("utf-8", "replace"))
        try:
            shown_body: Any = json.loads(text) if text.strip() else None
        except ValueError:
            shown_body = text[:1000]
        query = {
            self.scrub(key): self.scrub(values[-1])
            for key, values in parse_qs(parts.query, keep_blank_values=True).items()
        }
        entry = LoggedRequest(
            method,
            self.scrub(parts.path),
            query,
            shown_headers,
            shown_body,
            status,
            fault,
            received_at,
        )
        with self._lock:
            self._entries.append(entry)
        logger.debug(
            "%s %s -> %s%s",
            entry.method,
            entry.path,
            status or "reset",
            f" (fault {fault})" if fault else "",
        )
        return entry

    def snapshot(self) -> list[LoggedRequest]:
        """The kept requests, oldest first (a copy)."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every kept request."""
        with self._lock:
            self._entries.clear()
