"""Client-side pacing: never more than N requests in *any* window of one second.

ChartMogul allows 40 requests per second per account. A token bucket with a burst of 40 would
allow 80 requests inside one second (40 at the end of one second, 40 more at the start of the
next), so the pacer is a sliding window instead: it remembers when the last N requests started
and lets a new one start only when the oldest of them is at least one window old.

The window is a little longer than a second (:data:`MARGIN_S`): the server counts *arrivals*,
not starts, and a request that starts on time can arrive late (a thread not yet scheduled, a
connection being opened) while the one 40 places behind it arrives promptly — without a margin,
a client running flat out at the limit still meets a 429 now and then.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from ..errors import ConfigError

__all__ = ["MARGIN_S", "Pacer"]

#: Added to every window: 25 ms costs 2.5% of the rate and absorbs arrival jitter.
MARGIN_S = 0.025


class Pacer:
    """A thread-safe sliding-window limiter shared by every request of one client.

    ``rate_per_s`` may be fractional: 40 allows 40 starts per second, 0.5 allows one every two
    seconds. ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests need no real
    time. ``margin_s`` lengthens each window (see the module docstring). Raises
    :class:`ConfigError` if ``rate_per_s`` is not a positive number.
    """

    def __init__(
        self,
        rate_per_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_s: float = MARGIN_S,
    ) -> None:
        if (
            isinstance(rate_per_s, bool)
            or not isinstance(rate_per_s, (int, float))
            or not math.isfinite(rate_per_s)
            or rate_per_s <= 0
        ):
            raise ConfigError(f"rate_limit_per_s must be a number > 0 or None, not {rate_per_s!r}.")
        self.rate_per_s = float(rate_per_s)
        if rate_per_s >= 1:
            self.capacity, self.window_s = int(rate_per_s), 1.0 + margin_s
        else:
            self.capacity, self.window_s = 1, 1.0 / rate_per_s + margin_s
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=self.capacity)
        # Held while waiting on purpose: whoever waits holds the next slot, so threads are
        # served in turn and no two can claim the same slot.
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> float | None:
        """Wait until a request may start, record it, and return its start time (clock value).

        With ``stop``: return ``None`` at once, recording nothing, when it is set before the turn
        comes (a real wait ends early when it is set: Ctrl-C must not wait for the pacer).
        """
        with self._lock:
            while True:
                if stop is not None and stop.is_set():
                    return None
                now = self._clock()
                if len(self._starts) < self.capacity:
                    break
                wait_s = self._starts[0] + self.window_s - now
                if wait_s <= 0:
                    break
                self._wait(wait_s, stop)
            self._starts.append(now)
            return now

    def _wait(self, seconds: float, stop: threading.Event | None) -> None:
        if stop is not None and self._sleep is time.sleep:
            stop.wait(seconds)  # a real wait that ends early on a stop
        else:
            self._sleep(seconds)

    def __repr__(self) -> str:
        return f"Pacer(rate_per_s={self.rate_per_s:g})"
