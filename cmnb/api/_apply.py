"""Apply: carry a :class:`~cmnb.api._plan.Plan` out, safely, with exactly one outcome per step.

Order: ``keep``/``ignore`` steps are ``kept`` (nothing is sent for them); the creates go through
:func:`~cmnb.api._bulk.create_many` in ``ensure`` mode (paced, concurrent, never duplicated, a
name that appeared since planning is ``existing``); then the deletes, by the uuid the plan
showed and nothing else (``deleted``, or ``gone`` when someone deleted it first). A delete whose
answer was lost is looked for with one ``list`` call at the end: absent is ``deleted``, present
is ``failed``, and ``unknown`` when even that call fails. Deletes need ``confirm_deletes``
equal to their number; anything else raises :class:`ConfirmationError` before anything is sent.
The result is defined in :mod:`cmnb.api._apply_result`.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from ..errors import (
    APIError,
    CmnbError,
    ConfirmationError,
    InputError,
    NotFoundError,
    TransportError,
)
from ._apply_result import ApplyInterrupted, ApplyOutcome, ApplyResult, Outcome
from ._bulk import MAX_CONCURRENCY, BulkInterrupted, _stops_the_run, create_many
from ._bulk_progress import ProgressArg, progress_hook
from ._bulk_result import BulkOutcome
from ._models import DataSource
from ._retries import may_have_acted
from ._transport import Stopped, retries_stop_when
from ._validation import check_uuid

if TYPE_CHECKING:
    from ._data_sources import DataSources
    from ._plan import Plan, PlanStep

__all__ = ["ApplyInterrupted", "ApplyOutcome", "ApplyResult", "ProgressArg", "apply"]

_log = logging.getLogger("cmnb.apply")


def apply(
    plan: Plan,
    data_sources: DataSources,
    *,
    confirm_deletes: int | None = None,
    concurrency: int = 8,
    progress: ProgressArg = None,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Carry ``plan`` out and return one :class:`ApplyOutcome` per step, in plan order.

    A plan with deletes runs only when ``confirm_deletes`` equals their number. ``concurrency``
    (clamped to 1..20), ``progress`` and ``stop`` work as in :func:`~cmnb.api._bulk.create_many`.
    API and network errors become ``failed``/``unknown`` outcomes. Raises
    :class:`ConfirmationError` (nothing sent) for a missing or wrong confirmation,
    :class:`InputError` (nothing sent) for a bad argument, and :class:`ApplyInterrupted` (a
    ``KeyboardInterrupt``) on Ctrl-C or once ``stop`` (a ``threading.Event``, e.g. set from
    another thread: the form's **Stop** button) is set: nothing more is sent after either.
    """
    _check_confirmation(plan, confirm_deletes)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise InputError(f"concurrency must be an int, not {concurrency!r}.", field="concurrency")
    if stop is not None and not isinstance(stop, threading.Event):
        raise InputError(f"stop must be a threading.Event, not {stop!r}.", field="stop")
    workers = max(1, min(MAX_CONCURRENCY, concurrency))
    hook = progress_hook(progress)
    run = _Apply(plan.steps, data_sources, workers, hook, stop=stop)
    # The account as it is now, so a kept step is reported truthfully even if the plan is
    # stale; when it cannot be read, nothing is sent (the error is raised).
    if any(step.action in ("keep", "ignore") for step in plan.steps):
        run.held = data_sources._list_json()
    return run.execute()


def _check_confirmation(plan: Plan, confirm_deletes: object) -> None:
    deletes = [step for step in plan.steps if step.action == "delete"]
    if confirm_deletes is None and not deletes:
        return
    if type(confirm_deletes) is int and confirm_deletes == len(deletes):
        return
    if not deletes:
        raise ConfirmationError(
            f"confirm_deletes={confirm_deletes!r}, but this plan deletes nothing: plan again "
            "and check it (nothing was sent).",
            expected=0,
            given=confirm_deletes,
        )
    noun = "data source" if len(deletes) == 1 else "data sources"
    names = ", ".join(repr(step.name) for step in deletes[:5])
    more = f" and {len(deletes) - 5} more" if len(deletes) > 5 else ""
    raise ConfirmationError(
        f"This plan deletes {len(deletes)} {noun} ({names}{more}). Deleting a data source "
        "destroys every import in it (its customers, plans, invoices and subscriptions), at "
        f"once and irreversibly. Nothing was sent. To go ahead: apply(confirm_deletes="
        f"{len(deletes)}).",
        expected=len(deletes),
        given=confirm_deletes,
    )


class _Apply:
    """One apply call. Outcomes are recorded, and progress reported, on the calling thread."""

    def __init__(
        self,
        steps: Sequence[PlanStep],
        data_sources: DataSources,
        workers: int,
        hook: Any,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.steps, self.data_sources, self.workers = steps, data_sources, workers
        self.hook = hook  # its start/finish, when it has them, draw the bar's ends
        self.report: Any = hook  # called per outcome; off after Ctrl-C, as in create_many
        self.outcomes: list[ApplyOutcome | None] = [None] * len(steps)
        self.done = 0
        # Set on Ctrl-C or by the caller's stop: nothing more is sent, requests in flight finish.
        self.interrupted = stop if stop is not None else threading.Event()
        self.unsure: list[tuple[int, Exception]] = []  # deletes that may have acted, unanswered
        self.held: list[dict[str, Any]] = []  # the account's sources just before applying

    def record(self, index: int, outcome: str, **details: Any) -> None:
        if self.outcomes[index] is not None:
            return  # already recorded (create_many reports each name once, then returns all)
        step = self.steps[index]
        if "source" not in details:  # not setdefault: that would parse the source every time
            details["source"] = step.source
        result = ApplyOutcome(step.name, step.action, cast("Outcome", outcome), **details)
        self.outcomes[index] = result
        self.done += 1
        if self.report is not None:
            try:
                self.report(self.done, len(self.steps), result)
            except Exception:  # a broken progress callback must not cost the record
                _log.warning("progress callback failed; progress is off", exc_info=True)
                self.report = None

    def execute(self) -> ApplyResult:
        start = getattr(self.hook, "start", None)
        if callable(start):
            start(len(self.steps))
        try:
            self.keep()
            self.stop_point()
            self.create()
            self.delete()
        except KeyboardInterrupt:
            self.report = None
            raise ApplyInterrupted(self.finish(interrupted=True)) from None
        return self.finish(interrupted=False)

    def stop_point(self) -> None:
        """Where a set ``stop`` takes effect between sends: as if Ctrl-C had been pressed."""
        if self.interrupted.is_set():
            raise KeyboardInterrupt

    def finish(self, *, interrupted: bool) -> ApplyResult:
        for index, outcome in enumerate(self.outcomes):
            if outcome is None:
                self.record(index, "skipped")
        result = ApplyResult(cast("list[ApplyOutcome]", self.outcomes), interrupted=interrupted)
        finish = getattr(self.hook, "finish", None)
        try:
            if callable(finish):
                finish(result)
        except Exception:  # drawing the bar must not cost the result
            _log.warning("progress bar failed to draw the end of the run", exc_info=True)
        return result

    def keep(self) -> None:
        """Nothing is sent: a kept name still held is ``kept``; one deleted since the plan is
        ``failed`` (not re-created: that was not planned); an ignored source gone is ``gone``."""
        # Read as DataSource.from_dict reads them (a missing or null field is "").
        names = {str(item.get("name") or ""): item for item in self.held}
        uuids = {str(item.get("uuid") or "") for item in self.held}
        for index, step in enumerate(self.steps):
            if step.action == "keep" and step.name in names:
                self.record(index, "kept", source=DataSource.from_dict(names[step.name]))
            elif step.action == "keep":
                self.record(index, "failed", error=_vanished(step.name))
            elif step.action == "ignore":
                self.record(index, "kept" if step.uuid in uuids else "gone")

    def create(self) -> None:
        indexes = [i for i, step in enumerate(self.steps) if step.action == "create"]
        if not indexes:
            return

        def forward(done: int, total: int, outcome: BulkOutcome) -> None:
            self.record(
                indexes[outcome.index], outcome.outcome, source=outcome.source, error=outcome.error
            )

        names = [self.steps[i].name for i in indexes]
        try:
            bulk = create_many(
                self.data_sources,
                names,
                mode="ensure",
                concurrency=self.workers,
                progress=forward,
                stop=self.interrupted,  # the caller's stop reaches the creates on the wire
            )
        except BulkInterrupted as stop:
            self.report = None
            self.take(indexes, stop.partial_result.outcomes)
            raise KeyboardInterrupt from None
        self.take(indexes, bulk.outcomes)

    def take(self, indexes: list[int], outcomes: Sequence[BulkOutcome]) -> None:
        for outcome in outcomes:
            self.record(
                indexes[outcome.index], outcome.outcome, source=outcome.source, error=outcome.error
            )

    def delete(self) -> None:
        """The deletes, ``workers`` at a time; after a 401/403/unreachable server, no more."""
        queue = deque(i for i, step in enumerate(self.steps) if step.action == "delete")
        pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="cmnb-apply")
        in_flight: dict[cf.Future[tuple[str, Exception | None]], int] = {}
        halt: Exception | None = None
        try:
            while queue or in_flight:
                self.stop_point()  # checked again after each wait: a stop is seen within 0.2 s
                while queue and halt is None and len(in_flight) < self.workers:
                    index = queue.popleft()
                    in_flight[pool.submit(self.delete_one, index)] = index
                while queue and halt is not None:
                    self.record(queue.popleft(), "failed", error=halt)
                # A timeout keeps this loop responsive to Ctrl-C.
                finished, _ = cf.wait(in_flight, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    index = in_flight.pop(future)
                    outcome, error = future.result()
                    if outcome == "unsure" and error is not None:
                        self.unsure.append((index, error))
                    else:
                        self.record(index, outcome, error=error)
                    if halt is None and error is not None and _stops_the_run(error):
                        halt = error
        except KeyboardInterrupt:
            self.interrupted.set()
            self.report = None
            self.drain(pool, in_flight)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        self.reconcile()

    def delete_one(self, index: int) -> tuple[str, Exception | None]:
        """Runs on a worker thread: ``(outcome, error)``, ``"unsure"`` when it may have acted."""
        try:
            with retries_stop_when(self.interrupted):
                self.data_sources.delete(check_uuid(self.steps[index].uuid))
        except NotFoundError:
            return "gone", None  # deleted by someone else since the plan: the goal holds
        except Stopped:
            return "skipped", None  # a stop or Ctrl-C came before it was sent
        except CmnbError as error:
            return ("unsure" if _may_have_acted(error) else "failed"), error
        return "deleted", None

    def reconcile(self) -> None:
        """One ``list`` for the deletes whose answer was lost: is each source still there?"""
        unsure, self.unsure = self.unsure, []
        if not unsure:
            return
        try:
            held = {source.uuid for source in self.data_sources.list()}
        except CmnbError:
            _log.debug("the lookup after lost delete answers failed", exc_info=True)
            for index, error in unsure:
                self.record(index, "unknown", error=error)
            return
        for index, error in unsure:
            if self.steps[index].uuid in held:
                self.record(index, "failed", error=error)
            else:
                _log.debug(
                    "DELETE %s: its answer was lost; the source is gone", self.steps[index].uuid
                )
                self.record(index, "deleted")

    def drain(self, pool: cf.ThreadPoolExecutor, in_flight: dict[cf.Future[Any], int]) -> None:
        """After Ctrl-C: wait for the deletes on the wire; those never sent become skipped."""
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:
            _log.warning("second Ctrl-C: not waiting for the deletes in flight")
        for index, error in self.unsure:  # no lookup after Ctrl-C: nothing more is sent
            self.record(index, "unknown", error=error)
        for future, index in in_flight.items():
            if future.done() and not future.cancelled():
                outcome, error = future.result()
                if outcome == "unsure":
                    outcome = "unknown"
                self.record(index, outcome, error=error)
            elif not future.cancelled():
                self.record(index, "unknown", error=_still_in_flight())


def _may_have_acted(error: Exception) -> bool:
    if isinstance(error, TransportError):
        return error.maybe_sent
    return isinstance(error, APIError) and may_have_acted(error.status)


def _vanished(name: str) -> CmnbError:
    return CmnbError(
        f"{name!r} was deleted after the plan was made; apply does not re-create what it did "
        "not plan. Plan again."
    )


def _still_in_flight() -> TransportError:
    return TransportError(
        "Interrupted while the delete was in flight: the source may be gone. "
        "Plan again to find out.",
        method="DELETE",
        path="/data_sources",
        maybe_sent=True,
    )
