"""create_many: one outcome per name, in input order, nothing sent twice, Ctrl-C keeps the record.

Most tests drive a thread-safe fake ``data_sources`` (counts calls, injects failures); the tests
at the end run against the real client and sandbox.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from cmnb.api._bulk import BulkInterrupted, BulkOutcome, BulkResult, _Run, create_many
from cmnb.api._client import Client
from cmnb.api._models import DataSource
from cmnb.api._pacing import MARGIN_S, Pacer
from cmnb.errors import (
    AuthenticationError,
    BadRequestError,
    DuplicateNameError,
    ForbiddenError,
    InputError,
    RateLimitError,
    ServerError,
    TransportError,
)
from cmnb.notebook._progress import TextProgress
from cmnb.notebook._widget_progress import WidgetProgress, auto_progress
from cmnb.sandbox import LoggedRequest, Sandbox

CREATED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class FakeDataSources:
    """A thread-safe stand-in for ``client.data_sources`` with the server's duplicate rule.

    ``failures[name]`` is a list of errors raised by the next creates of that name (in order);
    ``lost_answers[name]`` is raised once *after* the source is stored (the answer was lost);
    ``barrier`` makes the first ``barrier.parties`` creates wait for each other, proving they ran
    at the same time; ``on_create`` runs inside each create (outside the lock).
    """

    def __init__(
        self,
        existing: Iterable[str] = (),
        *,
        failures: dict[str, list[Exception]] | None = None,
        lost_answers: dict[str, Exception] | None = None,
        barrier: threading.Barrier | None = None,
        on_create: Callable[[str], None] | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.store: dict[str, DataSource] = {}
        for name in existing:
            self._add(name)
        self.failures = failures or {}
        self.lost_answers = dict(lost_answers or {})
        self.barrier = barrier
        self.on_create = on_create
        self.create_calls: list[str] = []
        self.list_calls = 0
        self.in_flight = 0
        self.in_flight_at_start: list[tuple[str, int]] = []
        self.threads: set[str] = set()

    def _add(self, name: str) -> DataSource:
        source = DataSource(
            uuid=f"ds_{uuid_module.uuid4()}",
            name=name,
            system="Custom",
            created_at=CREATED_AT,
            status="idle",
        )
        self.store[name] = source
        return source

    def create(self, name: str) -> DataSource:
        with self.lock:
            self.create_calls.append(name)
            self.in_flight += 1
            self.in_flight_at_start.append((name, self.in_flight))
            self.threads.add(threading.current_thread().name)
            at_barrier = self.barrier is not None and len(self.create_calls) <= self.barrier.parties
        try:
            if at_barrier:
                assert self.barrier is not None
                self.barrier.wait(timeout=10)
            if self.on_create is not None:
                self.on_create(name)
            with self.lock:
                queued = self.failures.get(name)
                if queued:
                    raise queued.pop(0)
                if name in self.store:
                    error = DuplicateNameError(
                        422,
                        "name: Has already been taken.",
                        errors={"name": "Has already been taken."},
                        method="POST",
                        path="/v1/data_sources",
                        name=name,
                    )
                    error.attach_existing(self.store[name])
                    raise error
                source = self._add(name)
                if name in self.lost_answers:
                    raise self.lost_answers.pop(name)
                return source
        finally:
            with self.lock:
                self.in_flight -= 1

    def list(self) -> list[DataSource]:
        with self.lock:
            self.list_calls += 1
            return list(self.store.values())


def rate_limited(retry_after_s: float | None = 0.01) -> RateLimitError:
    return RateLimitError(
        429,
        "Your request rate has exceeded our rate limit.",
        method="POST",
        path="/v1/data_sources",
        retry_after_s=retry_after_s,
    )


def by_outcome(result: BulkResult) -> dict[str, str]:
    return {o.name: o.outcome for o in result}


# --- validation: nothing is sent for bad names; a repeat is sent once ----------------------------


def test_invalid_names_fail_and_repeats_are_sent_once_without_failing() -> None:
    fake = FakeDataSources()
    names: list[Any] = ["Billing", "   ", "", None, "Stripe EU", " Billing ", "bad\x00name", 3]
    names.append("Stripe EU")

    result = create_many(fake, names)

    assert [o.outcome for o in result] == [
        "created", "failed", "failed", "failed", "created", "repeated", "failed", "failed",
        "repeated",
    ]  # fmt: skip
    assert [o.index for o in result] == list(range(len(names)))
    assert sorted(fake.create_calls) == ["Billing", "Stripe EU"]
    assert fake.list_calls == 1
    assert all(isinstance(o.error, InputError) for o in result.failed)
    assert "blank" in str(result.outcomes[1].error)
    assert "control character" in str(result.outcomes[6].error)
    assert result.outcomes[3].name == "None" and result.outcomes[7].name == "3"
    # issue 15: a repeat is a duplicate of the input, not a failure: it shares its first's fate
    billing, again = result.outcomes[0], result.outcomes[5]
    assert again.name == "Billing" and again.error is None  # stripped
    assert again.repeat_of is billing and again.source is billing.source and again.ok
    assert again.note == "Same name as index 0: sent once."
    assert result.outcomes[8].note == "Same name as index 4: sent once."
    assert result.counts["repeated"] == 2 and result.repeated == [again, result.outcomes[8]]
    assert result.summary() == "9 names: 2 created, 2 repeated, 5 failed"
    assert [s.name for s in result.sources] == ["Billing", "Stripe EU"]  # each source once


def test_a_repeat_follows_its_first_occurrence_whatever_it_becomes() -> None:
    fake = FakeDataSources(existing=["Taken"], failures={"Broken": [BadRequestError(400, "no")]})
    names = ["Taken", "Broken", "Taken", "Broken", "Broken"]

    result = create_many(fake, names, mode="create")

    assert [o.outcome for o in result] == ["failed", "failed", "repeated", "repeated", "repeated"]
    assert [o.ok for o in result] == [False] * 5
    assert fake.create_calls.count("Broken") == 1  # sent once
    assert [o.repeat_of.index for o in result.repeated if o.repeat_of] == [0, 1, 1]
    ensured = create_many(fake, ["Taken", "Taken"])
    assert [(o.outcome, o.ok) for o in ensured] == [("existing", True), ("repeated", True)]
    assert ensured.ok and ensured.counts["repeated"] == 1


def test_a_repeat_of_a_name_never_sent_is_reported_with_it_after_ctrl_c() -> None:
    fake = FakeDataSources()

    def progress(done: int, total: int, outcome: BulkOutcome) -> None:
        if outcome.name == "A":
            raise KeyboardInterrupt

    with pytest.raises(BulkInterrupted) as caught:
        create_many(fake, ["A", "B", "C", "B"], concurrency=1, progress=progress)
    outcomes = caught.value.partial_result.outcomes
    assert [o.index for o in outcomes] == [0, 1, 2, 3]
    assert outcomes[3].outcome == "repeated" and outcomes[3].repeat_of is outcomes[1]
    assert outcomes[3].ok == outcomes[1].ok


def test_all_invalid_sends_no_request_at_all() -> None:
    fake = FakeDataSources()
    result = create_many(fake, ["", " ", None])
    assert result.counts == {
        "created": 0, "existing": 0, "repeated": 0, "failed": 3, "unknown": 0, "skipped": 0,
    }  # fmt: skip
    assert fake.list_calls == 0 and fake.create_calls == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"names": "one string"}, "names"),
        ({"names": ["a"], "mode": "upsert"}, "mode"),
        ({"names": ["a"], "concurrency": 2.5}, "concurrency"),
        ({"names": ["a"], "concurrency": True}, "concurrency"),
        ({"names": ["a"], "progress": "fancy"}, "progress"),
        ({"names": ["a"], "progress": 1}, "progress"),
    ],
)
def test_bad_arguments_raise_input_error_before_sending(kwargs: dict[str, Any], field: str) -> None:
    fake = FakeDataSources()
    with pytest.raises(InputError) as caught:
        create_many(fake, **kwargs)
    assert caught.value.field == field
    assert fake.create_calls == [] and fake.list_calls == 0


def test_a_dataframe_is_refused_with_a_hint_to_pass_a_column() -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(InputError, match="one column"):
        create_many(FakeDataSources(), pd.DataFrame({"name": ["a"]}))


def test_accepts_a_pandas_series_a_csv_column_and_a_generator() -> None:
    pd = pytest.importorskip("pandas")
    column = pd.read_csv(io.StringIO("name,plan\nAlpha,x\n,y\n Beta ,z\n"))["name"]
    fake = FakeDataSources()

    result = create_many(fake, column)

    assert [o.outcome for o in result] == ["created", "failed", "created"]
    assert "must be text, not float" in str(result.outcomes[1].error)  # the empty CSV cell
    assert sorted(fake.create_calls) == ["Alpha", "Beta"]
    assert by_outcome(create_many(fake, (n for n in ["Gamma"]))) == {"Gamma": "created"}


# --- ensure and create modes ---------------------------------------------------------------------


def test_ensure_mode_looks_up_with_one_list_call_and_creates_only_missing_names() -> None:
    fake = FakeDataSources(existing=["A", "C"])
    before = dict(fake.store)

    result = create_many(fake, ["A", "B", "C", "D", "E"], mode="ensure")

    assert fake.list_calls == 1
    assert sorted(fake.create_calls) == ["B", "D", "E"]
    assert by_outcome(result) == {
        "A": "existing", "B": "created", "C": "existing", "D": "created", "E": "created",
    }  # fmt: skip
    assert result.outcomes[0].source == before["A"]
    assert [s.name for s in result.sources] == ["A", "B", "C", "D", "E"]
    assert result.ok


def test_ensure_mode_adopts_a_name_taken_after_the_lookup() -> None:
    fake = FakeDataSources()
    original_list = fake.list

    def list_then_someone_else_creates_b() -> list[DataSource]:
        listed = original_list()
        with fake.lock:
            fake._add("B")
        return listed

    fake.list = list_then_someone_else_creates_b  # type: ignore[method-assign]
    result = create_many(fake, ["A", "B"])

    assert by_outcome(result) == {"A": "created", "B": "existing"}
    assert result.outcomes[1].source == fake.store["B"]


def test_create_mode_reports_existing_names_as_duplicate_failures() -> None:
    fake = FakeDataSources(existing=["A"])

    result = create_many(fake, ["A", "B"], mode="create")

    assert fake.list_calls == 0
    assert by_outcome(result) == {"A": "failed", "B": "created"}
    error = result.outcomes[0].error
    assert isinstance(error, DuplicateNameError) and error.existing == fake.store["A"]
    assert result.outcomes[0].source == fake.store["A"]  # the row shows who holds the name
    assert result.sources == [fake.store["B"]]  # only the names this run created or found


def test_a_failed_lookup_fails_every_name_it_was_needed_for_and_sends_nothing() -> None:
    fake = FakeDataSources()
    denied = AuthenticationError(401, "No valid API key provided", method="GET", path="/v1/x")
    fake.list = lambda: (_ for _ in ()).throw(denied)  # type: ignore[method-assign]

    result = create_many(fake, ["A", "", "B"])

    assert [o.outcome for o in result] == ["failed", "failed", "failed"]
    assert result.outcomes[0].error is denied and result.outcomes[2].error is denied
    assert fake.create_calls == []


def test_refusals_become_failed_outcomes_that_keep_the_servers_message() -> None:
    refused = BadRequestError(400, 'Parameter "name" is missing', method="POST", path="/v1/x")
    fake = FakeDataSources(failures={"B": [refused]})

    result = create_many(fake, ["A", "B", "C"])

    assert by_outcome(result) == {"A": "created", "B": "failed", "C": "created"}
    assert result.outcomes[1].error is refused
    assert 'Parameter "name" is missing' in str(refused)
    assert fake.list_calls == 1 and fake.create_calls.count("B") == 1


def lost(status: int = 502) -> ServerError:
    return ServerError(status, "Bad Gateway", method="POST", path="/v1/data_sources")


def test_a_source_whose_answer_was_lost_is_found_by_one_more_list_call() -> None:
    # The client gave up retrying after a 502; the create had in fact been stored.
    fake = FakeDataSources(lost_answers={"B": lost()})
    seen: list[str] = []

    result = create_many(fake, ["A", "B", "C"], progress=lambda d, t, o: seen.append(o.name))

    # Issue 12: this run made B, so it is "created" (it was "existing"), and the row says why.
    assert by_outcome(result) == {"A": "created", "B": "created", "C": "created"}
    assert result.outcomes[1].source == fake.store["B"] and result.outcomes[1].error is None
    assert "answer was lost" in result.outcomes[1].note
    assert fake.list_calls == 2 and fake.create_calls.count("B") == 1
    assert sorted(seen) == ["A", "B", "C"]  # B reported once, with its final outcome


def test_in_create_mode_a_lost_answer_found_by_the_lookup_is_created() -> None:
    # Issue 12: a lost answer is settled, not left "failed" while the account holds the name.
    fake = FakeDataSources(lost_answers={"B": lost(500)}, failures={"C": [lost(504)]})

    result = create_many(fake, ["A", "B", "C"], mode="create")

    assert by_outcome(result) == {"A": "created", "B": "created", "C": "failed"}
    assert result.outcomes[1].error is None and result.outcomes[1].source == fake.store["B"]
    assert result.outcomes[2].source is None  # C's 504 happened before anything was stored
    not_created = result.outcomes[2].error
    assert isinstance(not_created, ServerError) and not_created.maybe_sent is False
    assert "It was not created" in str(not_created)
    assert fake.list_calls == 1 and "C" not in fake.store


# --- concurrency and rate limits ------------------------------------------------------------------


@pytest.mark.parametrize(("asked", "expected"), [(3, 3), (100, 20), (0, 1), (-5, 1)])
def test_concurrency_is_clamped_and_really_parallel(asked: int, expected: int) -> None:
    # The first `expected` creates wait for each other: fewer threads would break the barrier.
    fake = FakeDataSources(barrier=threading.Barrier(expected))

    result = create_many(fake, [f"n{i}" for i in range(expected * 3)], concurrency=asked)

    assert result.counts["created"] == expected * 3, result
    assert max(count for _, count in fake.in_flight_at_start) == expected
    assert len(fake.threads) <= expected


def test_a_429_the_client_could_not_absorb_is_retried_with_fewer_requests_in_flight() -> None:
    # n1..n3 stay in flight for a while; n0 gets a 429 with no pause asked for. With the
    # in-flight limit still at 4, n0 would be re-sent at once next to the three slow ones.
    slow = threading.Event()

    def hold_first_wave(name: str) -> None:
        if name in ("n1", "n2", "n3"):
            slow.wait(0.3)

    fake = FakeDataSources(failures={"n0": [rate_limited(0.0)]}, on_create=hold_first_wave)

    result = create_many(fake, [f"n{i}" for i in range(12)], concurrency=4)

    assert result.ok and result.counts["created"] == 12
    assert fake.create_calls.count("n0") == 2
    assert sorted(fake.store) == sorted(f"n{i}" for i in range(12))
    retry_at = [name for name, _ in fake.in_flight_at_start].index("n0", 1)
    assert fake.in_flight_at_start[retry_at][1] <= 2  # the limit halved from 4 to 2


def test_a_name_that_keeps_getting_429_fails_after_three_retries() -> None:
    fake = FakeDataSources(failures={"A": [rate_limited(0.0) for _ in range(10)]})

    result = create_many(fake, ["A", "B"])

    assert by_outcome(result) == {"A": "failed", "B": "created"}
    assert isinstance(result.outcomes[0].error, RateLimitError)
    assert fake.create_calls.count("A") == 4


# --- progress ------------------------------------------------------------------------------------


def test_progress_is_called_once_per_name_on_the_calling_thread() -> None:
    calls: list[tuple[int, int, str, str]] = []

    def progress(done: int, total: int, outcome: BulkOutcome) -> None:
        calls.append((done, total, outcome.name, threading.current_thread().name))

    create_many(FakeDataSources(existing=["B"]), ["A", "B", "", "C"], progress=progress)

    assert [(d, t) for d, t, _, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert sorted(n for _, _, n, _ in calls) == ["", "A", "B", "C"]
    assert {thread for *_, thread in calls} == {threading.current_thread().name}


def test_a_broken_progress_callback_is_switched_off_and_the_run_completes() -> None:
    seen: list[int] = []

    def progress(done: int, total: int, outcome: BulkOutcome) -> None:
        seen.append(done)
        raise ValueError("bug in my callback")

    result = create_many(FakeDataSources(), ["A", "B", "C"], progress=progress)
    assert result.counts["created"] == 3 and seen == [1]


def test_text_progress_draws_a_bar_and_ends_with_the_summary_line() -> None:
    stream = io.StringIO()
    result = create_many(
        FakeDataSources(existing=["B"]), ["A", "B", ""], progress=TextProgress(stream)
    )

    last = stream.getvalue().split("\r")[-1]
    assert last.endswith("\n")
    assert "3/3" in last and "1 created" in last and "1 existing" in last and "1 failed" in last
    assert result.counts["failed"] == 1


def test_auto_progress_is_silent_when_not_on_a_terminal_nor_in_a_notebook() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert auto_progress(io.StringIO()) is None
    assert isinstance(auto_progress(Tty()), TextProgress)
    assert create_many(FakeDataSources(), ["A"], progress="auto").ok


def test_auto_progress_picks_the_widget_in_a_notebook_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("ipywidgets")
    ipython = pytest.importorskip("IPython")

    class ZMQInteractiveShell:  # what get_ipython() returns inside Jupyter
        pass

    monkeypatch.setattr(ipython, "get_ipython", lambda: ZMQInteractiveShell())
    assert isinstance(auto_progress(io.StringIO()), WidgetProgress)


def test_widget_progress_counts_up_and_turns_green(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ipywidgets")
    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    bar = WidgetProgress()

    create_many(FakeDataSources(), ["A", "B"], progress=bar)

    assert shown == [bar.box]
    assert repr(bar.box) == "create_many progress bar (2 names)"  # stable text stand-in
    assert bar.bar.value == 2 and bar.bar.max == 2 and bar.bar.bar_style == "success"
    assert bar.text.value == "2 names: 2 created, 0 failed"

    embedded = WidgetProgress(show=False)  # a form puts embedded.box in its own layout
    create_many(FakeDataSources(), ["A", "", "C"], progress=embedded)
    assert shown == [bar.box]
    assert embedded.bar.value == 3 and embedded.bar.bar_style == "warning"


class FakeTqdm:
    """The part of tqdm that create_many drives (tqdm itself is not a test dependency)."""

    made: ClassVar[list[FakeTqdm]] = []

    def __init__(self, iterable: Any = None, desc: str | None = None, total: int | None = None):
        self.desc, self.total = desc, total
        self.n, self.postfix, self.closed = 0, "", False
        FakeTqdm.made.append(self)

    def update(self, n: int = 1) -> None:
        if self.closed:
            raise AssertionError("update() after close()")
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def close(self) -> None:
        self.closed = True


def test_a_tqdm_class_gets_one_bar_per_run_counted_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(FakeTqdm, "made", [])

    create_many(FakeDataSources(existing=["B"]), ["A", "B", ""], progress=FakeTqdm)
    create_many(FakeDataSources(), ["C"], progress=FakeTqdm)

    first, second = FakeTqdm.made
    assert (first.total, first.desc, first.n, first.closed) == (3, "create_many", 3, True)
    assert sorted(first.postfix.split(", ")) == ["1 created", "1 existing", "1 failed"]
    assert (second.total, second.n, second.closed) == (1, 1, True)


def test_a_tqdm_like_instance_is_updated_per_name_and_closed() -> None:
    class Minimal:  # update(n) and close() only: no postfix, no total to set
        def __init__(self) -> None:
            self.steps: list[int] = []
            self.closed = False

        def update(self, n: int = 1) -> None:
            self.steps.append(n)

        def close(self) -> None:
            self.closed = True

    bar = Minimal()
    result = create_many(FakeDataSources(), ["A", "B"], progress=bar)
    assert result.ok and bar.steps == [1, 1] and bar.closed


def test_a_tqdm_bar_is_closed_after_ctrl_c_too() -> None:
    class Interrupting(FakeTqdm):
        def update(self, n: int = 1) -> None:
            super().update(n)
            if self.n == 2:
                raise KeyboardInterrupt

    bar = Interrupting(total=5)
    with pytest.raises(BulkInterrupted) as caught:
        create_many(FakeDataSources(), list("ABCDE"), concurrency=1, progress=bar)
    assert bar.closed and bar.n == 2
    assert caught.value.partial_result.counts["skipped"] >= 1


def test_auto_progress_and_a_shown_result_load_no_display_libraries() -> None:
    # progress="auto" and BulkResult's repr reach the display layer only when called, and off a
    # notebook and a terminal (stderr is a pipe here) they need neither widgets nor pandas.
    code = (
        "import sys, cmnb\n"
        "with cmnb.Sandbox(seed=1, rate_limit_per_s=None) as sb, sb.client() as client:\n"
        "    result = client.data_sources.create_many(['A', '', 'B'], progress='auto')\n"
        "    assert repr(result).startswith('BulkResult(3 names: 2 created, 1 failed)')\n"
        "    assert '<table ' in result._repr_html_()\n"
        "print(sorted(m for m in ('pandas', 'ipywidgets', 'IPython') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTMOGUL_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"


# --- Ctrl-C ------------------------------------------------------------------------------------


def test_ctrl_c_stops_promptly_and_the_partial_result_reports_every_name() -> None:
    fake = FakeDataSources()
    names = [f"n{i:02d}" for i in range(40)]

    def progress(done: int, total: int, outcome: BulkOutcome) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(BulkInterrupted) as caught:
        create_many(fake, names, concurrency=3, progress=progress)

    assert isinstance(caught.value, KeyboardInterrupt)
    partial = caught.value.partial_result
    assert partial.interrupted and [o.name for o in partial] == names
    assert fake.in_flight == 0  # the requests in flight were waited for, not abandoned
    created = {o.name: o.source for o in partial.created}
    assert created == fake.store  # everything the server created is in the record, and only that
    assert len(created) >= 5
    assert len(partial.skipped) == 40 - len(created)
    assert not {o.name for o in partial.skipped} & set(fake.create_calls)  # skipped = never sent
    assert "interrupted" in str(caught.value) and "skipped" in str(caught.value)


@pytest.mark.usefixtures("sigint_raises")
def test_a_real_sigint_mid_run_raises_bulk_interrupted_with_the_record() -> None:
    # A genuine Ctrl-C: SIGINT to this process once the run is under way.
    under_way = threading.Event()

    def slow_create(name: str) -> None:
        if name == "n005":
            under_way.set()
        time.sleep(0.02)

    def interrupt() -> None:
        if under_way.wait(timeout=10):
            os.kill(os.getpid(), signal.SIGINT)

    fake = FakeDataSources(on_create=slow_create)
    names = [f"n{i:03d}" for i in range(400)]  # about 2 s of work: the signal lands mid-run
    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(BulkInterrupted) as caught:
        create_many(fake, names, concurrency=4)

    partial = caught.value.partial_result
    assert [o.name for o in partial] == names
    assert {o.name: o.source for o in partial.created} == fake.store
    assert fake.in_flight == 0 and partial.counts["skipped"] > 0
    assert partial.counts["created"] + partial.counts["skipped"] == 400


def test_ctrl_c_during_the_lookup_skips_every_name_and_creates_nothing() -> None:
    fake = FakeDataSources()

    def interrupted_list() -> list[DataSource]:
        raise KeyboardInterrupt

    fake.list = interrupted_list  # type: ignore[method-assign]
    with pytest.raises(BulkInterrupted) as caught:
        create_many(fake, ["A", "", "B"])
    assert [o.outcome for o in caught.value.partial_result] == ["skipped", "failed", "skipped"]
    assert fake.create_calls == []


def test_a_second_ctrl_c_marks_requests_still_in_flight_as_unknown_not_as_skipped() -> None:
    class ImpatientPool:
        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            raise KeyboardInterrupt

    source = DataSource(uuid="ds_1", name="done", created_at=CREATED_AT)
    run = _Run(FakeDataSources(), ["done", "flying", "waiting", "refused"], "ensure", 4, None)
    run.names = {0: "done", 1: "flying", 2: "waiting", 3: "refused"}
    run.started = {0, 1, 3}
    run.landed = {0: source, 3: rate_limited()}

    run.drain(ImpatientPool())  # type: ignore[arg-type]

    outcomes = [o.outcome if o else None for o in run.outcomes]
    assert outcomes == ["created", "unknown", "skipped", "skipped"]  # issue 12: was "failed"
    unknown = run.outcomes[1].error if run.outcomes[1] else None
    assert isinstance(unknown, TransportError) and unknown.maybe_sent
    assert "may exist" in str(unknown)


# --- the result ---------------------------------------------------------------------------------


def test_to_frame_has_one_row_per_name_with_whole_errors_and_real_missing_values() -> None:
    pytest.importorskip("pandas")
    fake = FakeDataSources(existing=["B"])
    result = create_many(fake, ["A", "B", " ", "A"], mode="create")

    frame = result.to_frame()

    # issue 15 changed the order: the name first, the uuid last; the note is a column
    assert list(frame.columns) == ["name", "outcome", "created_at", "error", "note", "uuid"]
    assert list(frame["outcome"]) == ["created", "failed", "failed", "repeated"]
    assert list(frame.index) == [0, 1, 2, 3]  # the input positions
    assert frame.loc[0, "uuid"] == frame.loc[3, "uuid"] == fake.store["A"].uuid
    assert frame.loc[0, "created_at"] == CREATED_AT
    assert str(frame["created_at"].dtype).startswith("datetime64") and "UTC" in str(
        frame["created_at"].dtype
    )
    assert frame.loc[1, "error"].startswith("DuplicateNameError: A data source named 'B'")
    assert frame.loc[2, "error"] == "InputError: The name is blank (only whitespace)."
    assert frame.loc[3, "note"] == "Same name as index 0: sent once."
    # to_frame keeps real missing values (the displayed result shows empty cells)
    assert frame["error"].isna().tolist() == [True, False, False, True]
    assert frame["created_at"].isna().tolist() == [False, False, True, False]  # B: the holder
    assert frame["note"].isna().tolist() == [True, True, True, False]


def test_the_shown_result_has_empty_cells_whole_errors_and_the_uuid_last() -> None:
    long_reason = "refused " * 40
    fake = FakeDataSources(failures={"B": [BadRequestError(400, long_reason)]})
    result = create_many(fake, ["A", "B", "A"])

    page = result._repr_html_()
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page.split("<tbody>")[0])
    assert headers == ["", "name", "outcome", "created_at", "error", "uuid"]
    assert "NaN" not in page and "NaT" not in page and "None" not in page
    assert long_reason.strip() in page  # whole: the cell wraps
    assert "white-space: normal" in page
    assert "Same name as index 0: sent once." in page  # a note shows where there is no error
    assert result.summary() == "3 names: 1 created, 1 repeated, 1 failed"


def test_repr_and_html_summarise_and_escape() -> None:
    fake = FakeDataSources()
    result = create_many(fake, ["<script>x</script>", "", "ok"])

    text = repr(result)
    assert text.startswith("BulkResult(3 names: 2 created, 1 failed)")
    assert "failed [1] '': InputError: The name is empty." in text
    html = result._repr_html_()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert result.counts == {
        "created": 2, "existing": 0, "repeated": 0, "failed": 1, "unknown": 0, "skipped": 0,
    }  # fmt: skip
    assert len(result) == 3 and not result.ok


# --- against the real client and sandbox ---------------------------------------------------------


def posts(sb: Sandbox) -> list[LoggedRequest]:
    return [r for r in sb.requests if r.method == "POST" and r.path == "/v1/data_sources"]


def lists(sb: Sandbox) -> list[LoggedRequest]:
    return [r for r in sb.requests if r.method == "GET" and r.path == "/v1/data_sources"]


def test_sandbox_ensure_mode_sends_one_list_and_one_create_per_missing_name(canary: str) -> None:
    with Sandbox(canary, seed=7, rate_limit_per_s=None) as sb, sb.client() as client:
        sb.add_source("Stripe", system="Stripe")
        sb.add_source("In-house billing")

        result = client.data_sources.create_many(
            ["In-house billing", "Stripe", "Recurly EU", " Recurly EU", "", "Legacy"]
        )

        assert [o.outcome for o in result] == [
            "existing", "existing", "created", "repeated", "failed", "created",
        ]  # fmt: skip
        assert [r.query for r in lists(sb)] == [{}]
        assert sorted(r.body["name"] for r in posts(sb)) == ["Legacy", "Recurly EU"]
        assert {s["name"]: s["uuid"] for s in sb.sources()} == {
            o.name: o.source.uuid for o in result if o.source
        }
        assert result.outcomes[1].source is not None
        assert result.outcomes[1].source.system == "Stripe"


def test_sandbox_create_mode_fails_a_taken_name_with_the_servers_words(canary: str) -> None:
    with Sandbox(canary, rate_limit_per_s=None) as sb, sb.client() as client:
        taken = sb.add_source("Taken")

        result = client.data_sources.create_many(["Taken", "Fresh"], mode="create")

        assert [o.outcome for o in result] == ["failed", "created"]
        error = result.outcomes[0].error
        assert isinstance(error, DuplicateNameError)
        assert error.existing is not None and error.existing.uuid == taken["uuid"]
        assert result.to_frame()["uuid"].tolist()[0] == taken["uuid"]
        assert "Has already been taken" in str(error)
        assert [r.query for r in lists(sb)] == [{"name": "Taken"}]  # the client's own lookup


@pytest.mark.parametrize("mode", ["ensure", "create"])
def test_two_concurrent_runs_of_the_same_names_under_faults_create_each_name_once(
    mode: Literal["ensure", "create"], canary: str
) -> None:
    names = [f"Shared {i:02d}" for i in range(60)]
    with Sandbox(canary, rate_limit_per_s=None, max_connections=None) as sb:
        # Answers lost after the source was stored (500 and connection resets), and refusals.
        sb.faults.add("create", status=500, after_commit=True, times=6)
        sb.faults.add("create", status=502, after_commit=True, times=2, skip=10)
        sb.faults.add("create", reset=True, after_commit=True, times=3, skip=20)
        sb.faults.add("create", status=429, times=3, skip=5)
        sb.faults.add("create", status=503, times=2, skip=30)
        clients = [sb.client(rate_limit_per_s=None, _sleep=lambda s: None) for _ in range(2)]
        start = threading.Barrier(2)
        results: list[BulkResult] = []

        def run(client: Client) -> None:
            start.wait(timeout=10)
            results.append(client.data_sources.create_many(names, mode=mode, concurrency=10))

        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for client in clients:
            client.close()

        assert len(results) == 2
        assert sum(f.fired for f in sb.faults) == 16  # every fault really struck
        on_server = {s["name"]: s["uuid"] for s in sb.sources()}
        assert sorted(on_server) == names and len(sb.sources()) == len(names)  # no duplicates
        double_claims = 0
        for index, name in enumerate(names):
            pair = [r.outcomes[index] for r in results]
            assert [o.name for o in pair] == [name, name]
            for o in pair:
                assert o.source is None or o.source.uuid == on_server[name]
                if mode == "ensure":
                    assert o.ok and o.source is not None, o
                elif o.outcome == "failed":  # taken by the other run, or gave up after faults
                    assert isinstance(o.error, (DuplicateNameError, ServerError, TransportError))
            assert any(o.source is not None for o in pair), pair  # the source is in the record
            # Both runs claim the name only when one lost an answer and then found the name
            # taken: with no idempotency keys, "my lost attempt" and "the other run" look alike.
            double_claims += max(0, sum(o.outcome == "created" for o in pair) - 1)
        assert double_claims <= 11  # at most one per ambiguous fault (500/502/reset after commit)


def test_pacing_with_an_injected_clock_keeps_40_per_window_and_loses_no_time(
    canary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Virtual time: the client's pacer sleeps on this clock, so no real second passes.
    now = [1000.0]
    clock_lock = threading.Lock()

    def clock() -> float:
        with clock_lock:
            return now[0]

    def sleep(seconds: float) -> None:
        with clock_lock:
            now[0] += max(0.0, seconds)

    starts: list[float] = []
    original_acquire = Pacer.acquire

    def recording_acquire(self: Pacer, stop: threading.Event | None = None) -> float | None:
        started = original_acquire(self, stop)
        if started is not None:
            starts.append(started)
        return started

    monkeypatch.setattr(Pacer, "acquire", recording_acquire)
    with Sandbox(canary, rate_limit_per_s=None) as sb, sb.client(_clock=clock, _sleep=sleep) as c:
        result = c.data_sources.create_many([f"n{i:03d}" for i in range(119)], concurrency=20)

    assert result.counts["created"] == 119
    assert len(starts) == 120  # one list call and 119 creates
    ordered = sorted(starts)
    for i in range(len(ordered) - 40):
        assert ordered[i + 40] - ordered[i] >= 1.0  # never 41 starts within one second
    # ...and no slack: 120 requests at 40/s start in 3 windows (0, 1 and 2 windows in).
    assert ordered[-1] - ordered[0] == pytest.approx(2 * (1.0 + MARGIN_S))


def test_sandbox_ctrl_c_keeps_every_created_source_in_the_record(canary: str) -> None:
    with Sandbox(canary, rate_limit_per_s=None, latency_s=0.01) as sb, sb.client() as client:

        def progress(done: int, total: int, outcome: BulkOutcome) -> None:
            if done == 8:
                raise KeyboardInterrupt

        with pytest.raises(BulkInterrupted) as caught:
            client.data_sources.create_many(
                [f"n{i:03d}" for i in range(100)], concurrency=4, progress=progress
            )

        partial = caught.value.partial_result
        on_server = {s["uuid"] for s in sb.sources()}
        assert {o.source.uuid for o in partial.created if o.source} == on_server
        assert len(posts(sb)) == len(on_server)  # skipped names were never sent
        assert partial.counts["created"] + partial.counts["skipped"] == 100
        assert partial.counts["skipped"] >= 80


@pytest.mark.usefixtures("sigint_raises")
def test_after_ctrl_c_requests_in_flight_are_not_retried(canary: str) -> None:
    # Every create is refused with Retry-After: 5. Without the stop, each worker would sleep
    # 5 s after Ctrl-C and send its create again: Ctrl-C would take seconds to minutes.
    with Sandbox(canary, rate_limit_per_s=None) as sb, sb.client() as client:
        sb.faults.add("create", status=503, retry_after=5, times=None)

        def interrupt() -> None:
            for _ in range(1000):
                if len(posts(sb)) >= 4:
                    os.kill(os.getpid(), signal.SIGINT)
                    return
                time.sleep(0.01)

        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(BulkInterrupted) as caught:
            client.data_sources.create_many(["A", "B", "C", "D", "E"], concurrency=4)

        partial = caught.value.partial_result
        assert len(posts(sb)) == 4  # the first attempts only: nothing was sent again
        assert [o.outcome for o in partial] == ["failed"] * 4 + ["skipped"]
        assert all(getattr(o.error, "status", None) == 503 for o in partial.failed)


def test_the_api_key_never_shows_in_a_result(canary: str) -> None:
    pytest.importorskip("pandas")
    with (
        Sandbox(canary, rate_limit_per_s=None) as sb,
        sb.client(rate_limit_per_s=None, _sleep=lambda s: None) as client,
    ):
        sb.faults.add("create", status=500, times=None)
        # Made well before the run: the lookup settling the 500s must not take it as ours.
        sb.add_source("Taken", created_at=datetime.now(timezone.utc) - timedelta(hours=1))
        result = client.data_sources.create_many(["Taken", "Broken", ""], mode="create")

    assert [o.outcome for o in result] == ["failed", "failed", "failed"]
    shown = [repr(result), result._repr_html_(), result.to_frame().to_string()]
    shown += [repr(o.error) for o in result] + [str(o.error) for o in result]
    assert all(canary not in text for text in shown)


def test_benchmark_smoke_run_prints_figures_that_parse() -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bulk", "--n", "12"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    row = re.compile(
        r"^(?P<label>.+?)\s+(?P<created>\d+)\s+(?P<failed>\d+)\s+(?P<dupes>\d+)\s+(?P<r429>\d+)"
        r"\s+(?P<seconds>\d+\.\d+)\s+(?P<rate>\d+\.\d)\s+(?P<share>\d+\.\d)%$"
    )
    rows = [m.groupdict() for line in done.stdout.splitlines() if (m := row.match(line))]
    assert [r["label"] for r in rows] == [
        "cmnb create_many (concurrency 8)",
        "chartmogul SDK, sequential loop",
    ]
    for r in rows:
        assert (r["created"], r["failed"], r["dupes"]) == ("12", "0", "0")
        assert float(r["rate"]) > 0
    goals = dict(
        re.findall(
            r"^ratio (\S+) (\d+\.\d+)x \(goal >= \d\.\d\dx: (?:met|MISSED)\)$", done.stdout, re.M
        )
    )
    assert set(goals) == {"bulk.share_of_limit", "bulk.create_many_over_sdk"}
    assert all(float(value) > 0 for value in goals.values())


@pytest.mark.parametrize(
    "fatal",
    [
        AuthenticationError(401, "No valid API key provided", method="POST", path="/v1/x"),
        ForbiddenError(403, "Trial expired", method="POST", path="/v1/x"),
        TransportError("POST /v1/x: Connection refused", method="POST", path="/v1/x"),
    ],
    ids=["401", "403", "refused"],
)
def test_a_refused_key_or_an_unreachable_server_stops_sending(
    fatal: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    # 200 names and a wrong key must not mean 200 refused requests (or minutes of retries).
    names = [f"N{i}" for i in range(200)]
    fake = FakeDataSources(failures={name: [fatal] for name in names})

    result = create_many(fake, names, mode="create", concurrency=2)

    # Nothing at WARNING: with no handler configured, logging's last resort prints it raw.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    assert [o.outcome for o in result] == ["failed"] * 200
    assert all(o.error is fatal for o in result)
    assert len(fake.create_calls) <= 2  # only what was already in flight
    assert fake.store == {}


def test_an_answer_lost_after_sending_does_not_stop_the_run() -> None:
    maybe = TransportError("POST /v1/x: reset", method="POST", path="/v1/x", maybe_sent=True)
    fake = FakeDataSources(failures={"A": [maybe]})

    result = create_many(fake, ["A", "B", "C"], mode="create", concurrency=1)

    assert by_outcome(result) == {"A": "failed", "B": "created", "C": "created"}


def test_an_interrupted_run_does_not_draw_a_full_bar() -> None:
    stream = io.StringIO()
    bar = TextProgress(stream, width=10)
    bar.start(4)
    outcomes = [
        BulkOutcome("A", "created", index=0),
        BulkOutcome("B", "skipped", index=1),
        BulkOutcome("C", "skipped", index=2),
        BulkOutcome("D", "skipped", index=3),
    ]
    bar.finish(BulkResult(outcomes, interrupted=True))

    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("create_many [##........] 1/4") and "3 skipped" in last


# --- issue 12: lost answers settled by one list, Ctrl-C stops sending -----------------------------


def test_a_lost_answer_whose_lookup_fails_is_unknown_never_failed() -> None:
    fake = FakeDataSources(lost_answers={"B": lost()}, failures={"C": [lost(504)]})
    lists = iter([[], ServerError(503, "Service Unavailable", method="GET", path="/v1/x")])

    def flaky_list() -> list[DataSource]:
        answer = next(lists)
        if isinstance(answer, Exception):
            raise answer
        return answer

    fake.list = flaky_list  # type: ignore[method-assign]
    result = create_many(fake, ["A", "B", "C"])

    assert by_outcome(result) == {"A": "created", "B": "unknown", "C": "unknown"}
    assert result.counts["unknown"] == 2 and result.counts["failed"] == 0
    assert not result.ok and result.unknown == result.outcomes[1:]
    for outcome in result.unknown:
        error = outcome.error
        assert isinstance(error, ServerError) and error.maybe_sent is True
        assert f"client.data_sources.list(name={outcome.name!r})" in str(error)
        assert "503" in str(error)
    assert "1 created, 0 failed, 2 unknown" in result.summary()
    frame = result.to_frame()
    assert list(frame["outcome"]) == ["created", "unknown", "unknown"]


def test_a_429_after_a_lost_answer_is_settled_not_sent_again() -> None:
    # The first attempt may have created it: sending the name again would meet our own source.
    maybe = rate_limited()
    maybe.maybe_sent = True
    fake = FakeDataSources(lost_answers={"B": maybe})

    result = create_many(fake, ["A", "B"], mode="create")

    assert by_outcome(result) == {"A": "created", "B": "created"}
    assert fake.create_calls.count("B") == 1


def test_in_create_mode_a_name_held_before_the_run_fails_as_a_duplicate(canary: str) -> None:
    with Sandbox(canary, rate_limit_per_s=None) as sb, sb.client(max_attempts=2) as client:
        held = sb.add_source("Held", created_at=datetime.now(timezone.utc) - timedelta(days=1))
        sb.faults.add("create", status=502, times=None)  # before the store: nothing is made
        result = client.data_sources.create_many(["Held", "Fresh"], mode="create")
        assert [len(posts(sb)), len(lists(sb))] == [4, 1]  # one list settles both names

    assert [o.outcome for o in result] == ["failed", "failed"]
    taken, absent = result.outcomes[0].error, result.outcomes[1].error
    assert isinstance(taken, DuplicateNameError) and taken.existing is not None
    assert taken.existing.uuid == held["uuid"] and result.outcomes[0].source == taken.existing
    assert isinstance(absent, ServerError) and absent.maybe_sent is False
    assert "It was not created" in str(absent)


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_with_the_pacer_on_sends_nothing_more(canary: str) -> None:
    # 8 workers share a 40/s pacer, which lets the requests of one second go in a burst at its
    # start: between bursts every worker waits for its turn. Before issue 12 those waiting still
    # sent when their turn came (8 POSTs reached the server up to 0.56 s after Ctrl-C).
    names = [f"p{i:03d}" for i in range(300)]
    signalled: list[float] = []

    def interrupt_between_bursts() -> None:
        for _ in range(4000):
            seen = posts(sb)
            quiet_s = time.monotonic() - max((r.received_at for r in seen), default=0.0)
            if len(seen) >= 45 and quiet_s > 0.1:  # into the second second, all waiting
                signalled.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.005)

    with Sandbox(canary, rate_limit_per_s=None) as sb, sb.client() as client:
        assert client._transport.pacer is not None  # the default 40/s
        threading.Thread(target=interrupt_between_bursts, daemon=True).start()
        with pytest.raises(BulkInterrupted) as caught:
            client.data_sources.create_many(names, concurrency=8)
        stopped_at = time.monotonic()
        on_server = {s["name"]: s["uuid"] for s in sb.sources()}
        sent = posts(sb)

    assert stopped_at - signalled[0] < 2.0
    assert [r for r in sent if r.received_at > signalled[0]] == []  # nothing after the signal
    partial = caught.value.partial_result
    assert {o.name: o.source.uuid for o in partial.created if o.source} == on_server
    assert partial.counts["created"] == len(sent) < 120
    assert partial.counts["created"] + partial.counts["skipped"] == 300
    assert not {o.name for o in partial.skipped} & {r.body["name"] for r in sent}


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_settles_the_requests_on_the_wire_with_one_list(canary: str) -> None:
    # Four creates are on the wire when Ctrl-C comes; each is stored, then its answer is lost.
    with Sandbox(canary, rate_limit_per_s=None, latency_s=0.3) as sb, sb.client() as client:
        sb.faults.add("create", status=500, after_commit=True, times=None)

        def interrupt() -> None:
            for _ in range(1000):
                if sb.in_flight >= 5:  # the first list (ensure mode) is over: four creates
                    break
                if len(lists(sb)) == 1 and sb.in_flight >= 4:
                    break
                time.sleep(0.005)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(BulkInterrupted) as caught:
            client.data_sources.create_many([f"w{i}" for i in range(10)], concurrency=4)
        elapsed = time.monotonic() - started
        on_server = {s["name"]: s["uuid"] for s in sb.sources()}
        methods = [r.method for r in sb.requests]

    partial = caught.value.partial_result
    assert methods == ["GET"] + ["POST"] * 4 + ["GET"]  # no retry, one list to settle them
    assert [o.outcome for o in partial] == ["created"] * 4 + ["skipped"] * 6
    assert {o.name: o.source.uuid for o in partial.created if o.source} == on_server
    assert all("answer was lost" in o.note for o in partial.created)
    assert elapsed < 2.0


@pytest.mark.usefixtures("sigint_raises")
def test_a_second_ctrl_c_leaves_the_requests_on_the_wire_unknown(canary: str) -> None:
    with Sandbox(canary, rate_limit_per_s=None, latency_s=1.0) as sb, sb.client() as client:

        def interrupt_twice() -> None:
            for _ in range(1000):
                if len(lists(sb)) == 1 and sb.in_flight >= 2:
                    break
                time.sleep(0.005)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_twice, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(BulkInterrupted) as caught:
            client.data_sources.create_many(["A", "B", "C", "D"], concurrency=2)
        elapsed = time.monotonic() - started

    partial = caught.value.partial_result
    assert [o.outcome for o in partial] == ["unknown", "unknown", "skipped", "skipped"]
    assert all(isinstance(o.error, TransportError) and o.error.maybe_sent for o in partial.unknown)
    assert elapsed < 2.0


def test_repr_and_html_show_unknown_rows_and_the_note_of_a_lost_answer() -> None:
    lost_error = TransportError("POST /v1/x: reset", method="POST", path="/v1/x", maybe_sent=True)
    found = DataSource(uuid="ds_1", name="Found", created_at=CREATED_AT)
    result = BulkResult(
        [
            BulkOutcome("Found", "created", source=found, index=0, note="Its answer was lost."),
            BulkOutcome("Unsure", "unknown", error=lost_error, index=1),
        ]
    )
    text = repr(result)
    assert text.startswith("BulkResult(2 names: 1 created, 0 failed, 1 unknown)")
    assert "unknown [1] 'Unsure': TransportError: POST /v1/x: reset" in text
    page = result._repr_html_()
    assert "Its answer was lost." in page and re.search(r"<td[^>]*>unknown</td>", page)


def test_a_stop_event_set_from_another_thread_stops_sending_like_ctrl_c() -> None:
    stop = threading.Event()

    def stop_after_five(name: str) -> None:
        if name == "n04":
            stop.set()  # e.g. the form's Stop button, on the kernel's thread
        time.sleep(0.01)

    fake = FakeDataSources(on_create=stop_after_five)
    names = [f"n{i:02d}" for i in range(40)]
    with pytest.raises(BulkInterrupted) as caught:
        create_many(fake, names, concurrency=2, stop=stop)

    partial = caught.value.partial_result
    assert partial.interrupted and [o.name for o in partial] == names
    assert {o.name: o.source for o in partial.created} == fake.store
    assert len(fake.create_calls) <= 7  # those in flight when it was set, nothing after
    assert partial.counts["created"] + partial.counts["skipped"] == 40


def test_a_stop_set_before_the_run_sends_no_create() -> None:
    stop = threading.Event()
    stop.set()
    fake = FakeDataSources()
    with pytest.raises(BulkInterrupted) as caught:
        create_many(fake, ["A", "B"], mode="create", stop=stop)
    assert [o.outcome for o in caught.value.partial_result] == ["skipped", "skipped"]
    assert fake.create_calls == []
    with pytest.raises(InputError, match=r"stop must be a threading\.Event"):
        create_many(fake, ["A"], stop=True)  # type: ignore[arg-type]
