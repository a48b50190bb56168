"""``plan.apply(stop=event)``: setting the event stops sending, as Ctrl-C does (the form's Stop).

Like ``create_many(stop=)``: nothing more is sent once it is set, what was sent is reported,
the steps never sent are ``skipped``, and ``ApplyInterrupted`` carries the partial result.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import cmnb
from cmnb.api._apply_result import ApplyInterrupted
from cmnb.errors import InputError


@pytest.fixture
def sb() -> Iterator[cmnb.Sandbox]:
    with cmnb.Sandbox(seed=3, rate_limit_per_s=None) as sandbox:
        sandbox.add_source("Kept")
        yield sandbox


@pytest.fixture
def client(sb: cmnb.Sandbox) -> Iterator[cmnb.Client]:
    with sb.client(max_attempts=1) as client:
        yield client


def posts(sb: cmnb.Sandbox) -> int:
    return sum(1 for r in sb.requests if r.method == "POST")


def stop_after(first: str, stop: threading.Event) -> Any:
    """A progress callback that sets ``stop`` once an outcome ``first`` is reported."""

    def progress(done: int, total: int, outcome: Any) -> None:
        if outcome.outcome == first:
            stop.set()

    return progress


def test_a_stop_set_before_apply_sends_no_create(sb: cmnb.Sandbox, client: cmnb.Client) -> None:
    plan = client.data_sources.plan(["Kept", "A", "B"])
    stop = threading.Event()
    stop.set()
    with pytest.raises(ApplyInterrupted) as caught:
        plan.apply(stop=stop)
    result = caught.value.partial_result
    assert result.interrupted
    assert [(o.name, o.outcome) for o in result] == [
        ("Kept", "kept"),
        ("A", "skipped"),
        ("B", "skipped"),
    ]
    assert posts(sb) == 0


def test_a_stop_during_the_creates_sends_nothing_more(
    sb: cmnb.Sandbox, client: cmnb.Client
) -> None:
    names = [f"S{i}" for i in range(6)]
    plan = client.data_sources.plan(names)
    stop = threading.Event()
    with pytest.raises(ApplyInterrupted) as caught:
        plan.apply(concurrency=1, progress=stop_after("created", stop), stop=stop)
    result = caught.value.partial_result
    created = [o.name for o in result if o.outcome == "created"]
    assert created and result.counts["skipped"] == len(names) - len(created)
    assert posts(sb) == len(created)  # nothing sent after the stop
    assert sorted(s["name"] for s in sb.sources()) == sorted(["Kept", *created])


def test_a_stop_during_the_deletes_sends_no_more_deletes(
    sb: cmnb.Sandbox, client: cmnb.Client
) -> None:
    for name in ("Old 1", "Old 2", "Old 3"):
        sb.add_source(name)
    plan = client.data_sources.plan(["Kept"], prune=True)
    stop = threading.Event()
    with pytest.raises(ApplyInterrupted) as caught:
        plan.apply(
            confirm_deletes=3, concurrency=1, progress=stop_after("deleted", stop), stop=stop
        )
    outcomes = {o.name: o.outcome for o in caught.value.partial_result}
    assert outcomes == {"Kept": "kept", "Old 1": "deleted", "Old 2": "skipped", "Old 3": "skipped"}
    assert sorted(s["name"] for s in sb.sources()) == ["Kept", "Old 2", "Old 3"]


def test_stop_must_be_an_event(sb: cmnb.Sandbox, client: cmnb.Client) -> None:
    plan = client.data_sources.plan(["A"])
    before = len(sb.requests)
    with pytest.raises(InputError, match=r"stop must be a threading\.Event"):
        plan.apply(stop=True)  # type: ignore[arg-type]
    assert len(sb.requests) == before


def test_deletes_waiting_their_turn_when_stopped_are_skipped_not_failed(sb: cmnb.Sandbox) -> None:
    for name in ("Old 1", "Old 2", "Old 3"):
        sb.add_source(name)
    # One request a second: each delete waits its own turn at the pacer (at 2/s two could leave
    # together once the plan's and apply's list calls slid out of the window).
    with sb.client(max_attempts=1, rate_limit_per_s=1) as paced:
        plan = paced.data_sources.plan(["Kept"], prune=True)
        stop = threading.Event()
        with pytest.raises(ApplyInterrupted) as caught:
            plan.apply(
                confirm_deletes=3, concurrency=3, progress=stop_after("deleted", stop), stop=stop
            )
    outcomes = [o.outcome for o in caught.value.partial_result if o.action == "delete"]
    assert sorted(outcomes) == ["deleted", "skipped", "skipped"]
    assert len(sb.sources()) == 3  # Kept and the two never sent
