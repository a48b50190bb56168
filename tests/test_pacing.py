"""Pacing: never more than N request starts in ANY one-second window (fake clock, no real time)."""

from __future__ import annotations

import threading
import time

import pytest
from fakes import FakeTime

from cmnb.api._pacing import MARGIN_S, Pacer
from cmnb.errors import ConfigError


def max_in_any_window(starts: list[float], window_s: float = 1.0) -> int:
    """The largest number of starts inside any half-open window [t, t + window_s)."""
    ordered = sorted(starts)
    best = 0
    for i, first in enumerate(ordered):
        count = sum(1 for t in ordered[i:] if t < first + window_s - 1e-9)
        best = max(best, count)
    return best


def test_41_calls_never_exceed_40_in_any_second() -> None:
    fake = FakeTime()
    pacer = Pacer(40, clock=fake.clock, sleep=fake.sleep, margin_s=0.0)
    starts = [pacer.acquire() for _ in range(41)]
    assert starts[:40] == [0.0] * 40
    assert starts[40] == pytest.approx(1.0)
    assert fake.sleeps == [pytest.approx(1.0)]
    assert max_in_any_window(starts) == 40


def test_long_run_keeps_the_sliding_window_invariant() -> None:
    fake = FakeTime()
    pacer = Pacer(40, clock=fake.clock, sleep=fake.sleep, margin_s=0.0)
    starts = []
    for i in range(300):
        if i % 7 == 0:
            fake.advance(0.013)  # irregular arrivals, like a real notebook
        starts.append(pacer.acquire())
    assert max_in_any_window(starts) == 40
    for earlier, later in zip(starts, starts[40:], strict=False):
        assert later - earlier >= 1.0 - 1e-9


def test_no_burst_across_a_second_boundary() -> None:
    # A token bucket with burst 40 would let 40 start at t=0.99 and 40 more at t=1.0
    # (80 inside one second). The sliding window lets only one more start at t=1.0:
    # the one slot freed by the start at t=0.
    fake = FakeTime()
    pacer = Pacer(40, clock=fake.clock, sleep=fake.sleep, margin_s=0.0)
    pacer.acquire()
    fake.advance(0.99)
    starts = [pacer.acquire() for _ in range(39)]
    assert starts == [pytest.approx(0.99)] * 39
    fake.advance(0.01)
    assert pacer.acquire() == pytest.approx(1.0)
    assert fake.sleeps == []
    assert pacer.acquire() == pytest.approx(1.99)
    assert fake.sleeps == [pytest.approx(0.99)]


def test_idle_time_frees_slots() -> None:
    fake = FakeTime()
    pacer = Pacer(3, clock=fake.clock, sleep=fake.sleep, margin_s=0.0)
    for _ in range(3):
        pacer.acquire()
    fake.advance(5)
    assert [pacer.acquire() for _ in range(3)] == [5.0, 5.0, 5.0]
    assert fake.sleeps == []


def test_fractional_rate_spaces_requests() -> None:
    fake = FakeTime()
    pacer = Pacer(0.5, clock=fake.clock, sleep=fake.sleep, margin_s=0.0)
    starts = [pacer.acquire() for _ in range(3)]
    assert starts == [0.0, pytest.approx(2.0), pytest.approx(4.0)]


def test_thread_safe_under_contention() -> None:
    fake = FakeTime()
    pacer = Pacer(10, clock=fake.clock, sleep=fake.sleep, margin_s=0.0)
    starts: list[float] = []
    record = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            started = pacer.acquire()
            with record:
                starts.append(started)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 200
    assert max_in_any_window(starts) == 10
    assert max(starts) == pytest.approx(19.0)  # 200 starts at 10/s: the last at t=19


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), "40", True])
def test_bad_rates_are_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="rate_limit_per_s"):
        Pacer(bad)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(Pacer(40)) == "Pacer(rate_per_s=40)"


def test_default_margin_keeps_arrival_jitter_under_the_limit() -> None:
    # The server counts arrivals: a margin past one second keeps a late arrival of request k
    # and a prompt arrival of request k+40 in different windows.
    fake = FakeTime()
    pacer = Pacer(40, clock=fake.clock, sleep=fake.sleep)
    starts = [pacer.acquire() for _ in range(81)]
    assert starts[40] == pytest.approx(1.0 + MARGIN_S)
    assert starts[80] == pytest.approx(2 * (1.0 + MARGIN_S))
    assert max_in_any_window(starts, window_s=1.0 + MARGIN_S) == 40


def test_a_stop_ends_the_wait_at_once_and_takes_no_turn() -> None:
    # Real time: the wait is an Event.wait that a stop (Ctrl-C in a bulk run) cuts short.
    pacer = Pacer(1, margin_s=0.0)  # one start per second
    stop = threading.Event()
    assert pacer.acquire(stop) is not None  # the first turn is free
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    assert pacer.acquire(stop) is None  # would have waited a second
    assert time.monotonic() - started < 0.5
    assert len(pacer._starts) == 1  # the stopped call took no turn
    assert pacer.acquire(stop) is None  # already stopped: no wait at all


def test_a_stop_with_injected_time_is_checked_before_each_wait() -> None:
    fake = FakeTime()
    pacer = Pacer(2, clock=fake.clock, sleep=fake.sleep, margin_s=0.0)
    stop = threading.Event()
    assert [pacer.acquire(stop), pacer.acquire(stop)] == [0.0, 0.0]
    stop.set()
    assert pacer.acquire(stop) is None and fake.sleeps == []
