"""Bulk setup: create many data sources at the rate limit, with exactly one outcome per name.

:func:`create_many` validates every name first (invalid names become ``failed`` outcomes and
nothing is sent for them; a name given again is sent once, and its later occurrences are
``repeated``, sharing the first one's fate), then, in ``ensure`` mode, looks the account up
with **one** ``list()`` call and creates only the missing names on a small thread pool.
Pacing is the client's job (its shared pacer keeps every thread under 40 requests/s); bulk
adds an adaptive in-flight limit that halves after a 429 the client could not absorb.
Creates whose answer was lost for good (the client's retries ended in doubt) are settled
together with one more ``list()`` at the end: each becomes ``created`` (found, with a note that
its answer was lost), ``failed`` (not created) or ``unknown`` (that lookup failed too).
After a 401, a 403 or a server that cannot be reached at all, nothing more is sent: the names
left fail with that same error.

Outcomes: ``created``, ``existing`` (ensure mode), ``repeated`` (the same name earlier in the
input), ``failed`` (with the error; the account does not hold it), ``unknown`` (it may or may
not exist) and ``skipped`` (never sent because the run was interrupted), one
:class:`BulkOutcome` per name in a :class:`BulkResult` (both defined in
:mod:`cmnb.api._bulk_result`, exported here too). Ctrl-C stops sending at once: requests waiting
for the pacer, a connection slot or a retry are not sent; those already on the wire finish their
current attempt and their doubts are settled by the one ``list()``; then
:class:`BulkInterrupted`, a ``KeyboardInterrupt`` carrying the ``partial_result``, is raised. A
second Ctrl-C stops waiting: what is still unsettled is ``unknown``.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

from ..errors import (
    AuthenticationError,
    CmnbError,
    DuplicateNameError,
    ForbiddenError,
    InputError,
    RateLimitError,
    TransportError,
)
from ._bulk_doubts import Doubts, doubt_of
from ._bulk_progress import ProgressArg, ProgressCallback, ProgressHook, progress_hook
from ._bulk_result import BulkOutcome, BulkResult, Outcome
from ._models import DataSource
from ._retries import defer_lookups
from ._transport import Stopped, retries_stop_when
from ._validation import name_problem

__all__ = [
    "BulkInterrupted",
    "BulkOutcome",
    "BulkResult",
    "ProgressArg",
    "ProgressCallback",
    "create_many",
]

MAX_CONCURRENCY = 20  # ChartMogul refuses more than 20 parallel connections per account
RATE_LIMIT_RETRIES = 3  # a 429 means nothing was created, so the name may be sent again
_log = logging.getLogger("cmnb.bulk")


class DataSourcesLike(Protocol):
    """What :func:`create_many` needs from ``client.data_sources``."""

    def create(self, name: str) -> DataSource: ...

    def list(self) -> Sequence[DataSource]: ...


class BulkInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`create_many`; ``partial_result`` reports every name.

    Names that finished keep their outcome, names never sent are ``skipped``, lost answers are
    settled by one lookup (``unknown`` if it could not be made). In a notebook the result is
    also reachable after the traceback as ``sys.last_value.partial_result``.
    """

    def __init__(self, partial_result: BulkResult) -> None:
        super().__init__(
            f"create_many interrupted: {partial_result.summary()}. "
            "The partial BulkResult is this exception's .partial_result."
        )
        self.partial_result = partial_result


def create_many(
    data_sources: DataSourcesLike,
    names: Iterable[Any],
    *,
    mode: Literal["ensure", "create"] = "ensure",
    concurrency: int = 8,
    progress: ProgressArg = None,
    stop: threading.Event | None = None,
) -> BulkResult:
    """Create a data source for each name; return a :class:`BulkResult` in input order.

    ``names``: any iterable of names (a list, a pandas Series, a CSV column); each is stripped.
    A name given more than once is sent once; its later occurrences are ``repeated`` (their
    ``ok`` is the first one's, their ``note`` says where that is).
    ``mode="ensure"`` reports names already in the account as ``existing``;
    ``mode="create"`` reports them as ``failed`` with a :class:`DuplicateNameError` (and the
    source holding the name, when the client found it).
    ``concurrency`` is clamped to 1..20 threads. ``progress`` is ``progress(done, total,
    outcome)`` called on the calling thread after each outcome, a tqdm class or bar (e.g.
    ``tqdm.auto.tqdm``), ``"auto"`` (a widget in a notebook, a text bar on a terminal) or
    ``None``; see :mod:`cmnb.api._bulk_progress`. API and network errors never raise: they
    become ``failed`` outcomes; after a 401, a 403 or an unreachable server (connection refused
    after the client's retries) the names not yet sent fail with that error, unsent. A create
    whose answer was lost is settled by one ``list()`` at the end (see
    :mod:`cmnb.api._bulk_doubts`): ``created``, ``failed``, or ``unknown`` if that list failed.
    Raises :class:`InputError` for a bad argument (nothing sent) and :class:`BulkInterrupted`
    (a ``KeyboardInterrupt``) on Ctrl-C, which stops sending at once. Setting ``stop`` (a
    ``threading.Event``, e.g. from another thread: the form's **Stop** button) does the same.
    """
    if mode not in ("ensure", "create"):
        raise InputError(f"mode must be 'ensure' or 'create', not {mode!r}.", field="mode")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise InputError(f"concurrency must be an int, not {concurrency!r}.", field="concurrency")
    if isinstance(names, (str, bytes)) or hasattr(names, "columns"):
        raise InputError(
            "names must be a collection of names (a list or one column), not "
            f"{type(names).__name__}.",
            field="names",
        )
    bar = progress_hook(progress)
    if stop is not None and not isinstance(stop, threading.Event):
        raise InputError(f"stop must be a threading.Event, not {stop!r}.", field="stop")
    workers = max(1, min(MAX_CONCURRENCY, concurrency))
    return _Run(data_sources, list(names), mode, workers, bar, stop=stop).execute()


class _Run:
    """One create_many call. Every outcome is recorded on the calling thread.

    Workers write what the server answered into ``landed`` before returning, so even a Ctrl-C
    that lands between ``submit()`` and the bookkeeping cannot lose a created source.
    """

    def __init__(
        self,
        data_sources: DataSourcesLike,
        items: list[Any],
        mode: str,
        workers: int,
        progress: ProgressCallback | None,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.data_sources, self.items, self.mode, self.workers = data_sources, items, mode, workers
        self.progress = progress
        self.bar = progress if isinstance(progress, ProgressHook) else None
        self.outcomes: list[BulkOutcome | None] = [None] * len(items)
        self.done = 0
        self.names: dict[int, str] = {}
        # A name given again: the indexes of its later occurrences, by its first one's. They
        # are recorded with the first one, whichever way that ends.
        self.repeats: dict[int, list[int]] = {}
        self.started: set[int] = set()
        self.landed: dict[int, DataSource | BaseException] = {}
        self.doubts = Doubts(mode)  # creates that ended while the server may have acted
        self.halt: Exception | None = None  # an answer every later create would get as well
        # Set on Ctrl-C or by the caller's stop: nothing more is sent, requests in flight finish.
        self.interrupted = stop if stop is not None else threading.Event()

    def record(self, index: int, outcome: Outcome, **details: Any) -> None:
        name = self.names.get(index) or _display_name(self.items[index])
        result = BulkOutcome(name, outcome, index=index, **details)
        self._keep(result)
        for later in self.repeats.pop(index, ()):
            note = f"Same name as index {index}: sent once."
            self._keep(BulkOutcome(name, "repeated", result.source, None, later, note, result))

    def _keep(self, result: BulkOutcome) -> None:
        """Keep one outcome and report it to the progress hook."""
        self.outcomes[result.index] = result
        self.done += 1
        if self.progress is not None:
            try:
                self.progress(self.done, len(self.items), result)
            except Exception:  # a broken callback must not cost the record of the run
                _log.warning("progress callback failed; progress is off", exc_info=True)
                self.progress = None

    def execute(self) -> BulkResult:
        if self.bar is not None:
            self.bar.start(len(self.items))
        pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="cmnb-bulk")
        try:
            try:
                self.send(pool, self.lookup(self.validate()))
                stopped = self.interrupted.is_set()  # the caller's stop event
                if not stopped:
                    self.doubts.resolve(self.data_sources.list, self.record)
            except KeyboardInterrupt:
                self.interrupted.set()
                stopped = True
            if stopped:
                self.progress = None
                self.drain(pool)
                raise BulkInterrupted(self.finish(interrupted=True)) from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return self.finish(interrupted=False)

    def finish(self, *, interrupted: bool) -> BulkResult:
        result = BulkResult([o for o in self.outcomes if o], interrupted=interrupted)
        try:
            if self.bar is not None:
                self.bar.finish(result)
        except Exception:  # drawing the bar must not cost the result
            _log.warning("progress bar failed to draw the end of the run", exc_info=True)
        return result

    def validate(self) -> list[int]:
        first_index: dict[str, int] = {}
        to_send: list[int] = []
        for index, item in enumerate(self.items):
            problem = name_problem(item)
            if problem:
                self.record(index, "failed", error=InputError(problem, field="name"))
                continue
            name = self.names[index] = str(item).strip()
            if name in first_index:  # sent once: recorded with its first occurrence
                self.repeats.setdefault(first_index[name], []).append(index)
                continue
            first_index[name] = index
            to_send.append(index)
        return to_send

    def lookup(self, to_send: list[int]) -> list[int]:
        if self.mode != "ensure" or not to_send:
            return to_send
        try:
            known = {source.name: source for source in self.data_sources.list()}
        except CmnbError as error:
            for index in to_send:
                self.record(index, "failed", error=error)
            return []
        missing = []
        for index in to_send:
            if self.names[index] in known:
                self.record(index, "existing", source=known[self.names[index]])
            else:
                missing.append(index)
        return missing

    def call(self, index: int) -> DataSource:
        """Runs on a worker thread."""
        self.landed.pop(index, None)  # a stale 429 from an earlier attempt is not this answer
        self.started.add(index)
        try:
            # After Ctrl-C nothing more is sent; a lost answer is settled by resolve_doubts().
            with retries_stop_when(self.interrupted), defer_lookups():
                source = self.data_sources.create(self.names[index])
        except BaseException as error:
            self.landed[index] = error
            raise
        self.landed[index] = source
        return source

    def send(self, pool: cf.ThreadPoolExecutor, to_send: list[int]) -> None:
        queue = deque((index, 0) for index in to_send)
        in_flight: dict[cf.Future[DataSource], tuple[int, int]] = {}
        limit, successes, resume_at = self.workers, 0, 0.0
        while (queue or in_flight) and not self.interrupted.is_set():
            if self.halt is not None:  # nothing more is sent: the rest would fail the same way
                while queue:
                    self.record(queue.popleft()[0], "failed", error=self.halt)
                if not in_flight:
                    break
            now = time.monotonic()
            while queue and len(in_flight) < limit and now >= resume_at:
                index, attempt = queue.popleft()
                in_flight[pool.submit(self.call, index)] = (index, attempt)
            if not in_flight:
                self.interrupted.wait(max(0.0, resume_at - now))  # a stop ends the pause
                continue
            # A timeout keeps this loop responsive to Ctrl-C and to the end of a 429 pause.
            finished, _ = cf.wait(in_flight, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                index, attempt = in_flight.pop(future)
                error = future.exception()
                # Sent again only if refused outright: after a lost answer it may exist already.
                if (
                    isinstance(error, RateLimitError)
                    and not error.maybe_sent
                    and attempt < RATE_LIMIT_RETRIES
                ):
                    queue.appendleft((index, attempt + 1))
                    limit, successes = max(1, limit // 2), 0
                    pause_s = 1.0 if error.retry_after_s is None else error.retry_after_s
                    resume_at = time.monotonic() + pause_s
                    _log.info("429 for %r: at most %d requests in flight", self.names[index], limit)
                    continue
                answer = self.landed[index]
                self.settle(index, answer)
                if self.halt is None and isinstance(answer, Exception) and _stops_the_run(answer):
                    self.halt = answer
                    _log.info("not sending the names left: %s", answer)
                successes += 1
                if limit < self.workers and successes >= limit:
                    limit, successes = limit + 1, 0

    def settle(self, index: int, answer: DataSource | BaseException) -> None:
        if isinstance(answer, DataSource):
            self.record(index, "created", source=answer)
        elif isinstance(answer, Stopped):  # the run was stopped before it was sent
            self.record(index, "skipped")
        elif isinstance(answer, DuplicateNameError) and answer.existing is None:
            # Taken, but the lookup that would say by whom failed: maybe by this run's own lost
            # answer. The run's list at the end tells (created, existing or failed, by mode).
            self.doubts.add(index, self.names[index], answer)
        elif isinstance(answer, DuplicateNameError) and self.mode == "ensure":
            self.record(index, "existing", source=answer.existing)
        elif isinstance(answer, DuplicateNameError):  # the row shows which source holds the name
            self.record(index, "failed", error=answer, source=answer.existing)
        elif isinstance(answer, Exception) and (doubt := doubt_of(answer)) is not None:
            self.doubts.add(index, self.names[index], doubt)  # settled at the end of the run
        elif isinstance(answer, Exception):
            self.record(index, "failed", error=answer)
        else:  # SystemExit or similar inside a worker: keep the record, then let it propagate
            self.record(index, "failed", error=RuntimeError(repr(answer)))
            raise answer

    def drain(self, pool: cf.ThreadPoolExecutor) -> None:
        """After Ctrl-C: cancel what was not sent; wait for what is on the wire (client timeouts
        bound it) and settle its doubts with one list; a second Ctrl-C leaves them unknown."""
        calm = True
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:
            _log.warning("second Ctrl-C: not waiting for the requests in flight")
            calm = False
        landed = dict(self.landed)
        repeats = {later for laters in self.repeats.values() for later in laters}
        for index, outcome in enumerate(self.outcomes):
            answer = landed.get(index)
            if outcome is not None or index in self.doubts.pending or index in repeats:
                continue
            if index in self.started and answer is None:
                self.record(index, "unknown", error=_still_in_flight())
            elif answer is None or _never_sent(answer):
                self.record(index, "skipped")  # nothing was created
            else:
                self.settle(index, answer)
        if calm:
            try:
                self.doubts.resolve(self.data_sources.list, self.record)
            except KeyboardInterrupt:
                _log.warning("second Ctrl-C: not waiting for the lookup of the lost answers")
        self.doubts.leave_unknown("the run was interrupted before a lookup could tell", self.record)


def _stops_the_run(answer: Exception) -> bool:
    """A refused key, a forbidden account or a server that cannot be reached at all (after the
    client's retries): every name still to send would get the same answer."""
    if isinstance(answer, (AuthenticationError, ForbiddenError)):
        return True
    if isinstance(answer, Stopped):  # stopped by the caller: the server may be fine
        return False
    return isinstance(answer, TransportError) and not answer.maybe_sent


def _never_sent(answer: DataSource | BaseException) -> bool:
    """Stopped before it was sent, or refused with a 429 (after Ctrl-C it is not sent again)."""
    if isinstance(answer, RateLimitError):
        return not answer.maybe_sent
    return isinstance(answer, Stopped)


def _still_in_flight() -> TransportError:
    return TransportError(
        "Interrupted twice while the request was in flight: the source may exist. "
        "Run create_many again in ensure mode to find out.",
        method="POST",
        path="/data_sources",
        maybe_sent=True,
    )


def _display_name(item: Any) -> str:
    return item if isinstance(item, str) else repr(item)
