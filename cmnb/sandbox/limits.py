"""ChartMogul's two limits: requests per second per key (429) and parallel connections (503)."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["ConnectionGate", "RateLimiter"]


class RateLimiter:
    """A sliding window: at most ``per_s`` admitted requests per key in any 1-second window.

    ``per_s=None`` admits everything. Refused requests do not count, so a client that waits
    as told gets in again. Below 1 request/s the window stretches (0.5/s = 1 per 2 s).
    """

    def __init__(self, per_s: float | None, clock: Callable[[], float]) -> None:
        if per_s is not None and per_s <= 0:
            raise ValueError("rate_limit_per_s must be positive (or None for no limit)")
        self._capacity = max(1, math.floor(per_s)) if per_s else 0
        self._window_s = self._capacity / per_s if per_s else 0.0
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}

    def admit(self, key: str) -> float | None:
        """``None`` if the request may proceed, else the seconds until a slot frees up."""
        if not self._capacity:
            return None
        now = self._clock()
        with self._lock:
            times = self._admitted.setdefault(key, deque())
            while times and times[0] <= now - self._window_s:
                times.popleft()
            if len(times) >= self._capacity:
                return max(0.0, times[0] + self._window_s - now)
            times.append(now)
            return None

    def reset(self) -> None:
        """Forget every request seen so far."""
        with self._lock:
            self._admitted.clear()


class ConnectionGate:
    """Counts connections with a request in progress; refuses the one over ``limit``.

    Idle keep-alive connections do not count: a client's pool of sleeping sockets is not load,
    and counting them would make long notebook sessions fail for no visible reason.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("max_connections must be at least 1 (or None for no limit)")
        self._limit = limit
        self._lock = threading.Lock()
        self._in_flight = 0
        self.refused = 0

    def enter(self) -> bool:
        """Take a slot; False (and nothing taken) when ``limit`` are already in progress."""
        with self._lock:
            if self._limit is not None and self._in_flight >= self._limit:
                self.refused += 1
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        """Give back a slot taken by a successful :meth:`enter`."""
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        """Requests in progress right now."""
        with self._lock:
            return self._in_flight
