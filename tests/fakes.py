"""Test doubles shared by several test modules (imported as ``from fakes import ...``)."""

from __future__ import annotations

import threading


class FakeTime:
    """A clock that only moves when someone sleeps (or ``advance`` is called); thread-safe.

    Pass ``clock`` and ``sleep`` as a client's ``_clock``/``_sleep`` (or a Pacer's): every wait
    is recorded in ``sleeps`` and moves the clock, so schedules are asserted exactly and fast.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
