"""A bulk run's lost answers, settled together: one ``list()`` decides each one.

A create whose retries ended in doubt (its answer was lost while the server may have acted)
is not guessed at. :func:`~cmnb.api._bulk.create_many` defers the client's own lookup
(:func:`~cmnb.api._retries.defer_lookups`) and collects such names here; at the end of the run
one ``list()`` settles them all:

================================================  ======================================
found by the list                                 outcome
================================================  ======================================
made during its call (the ``Date`` rule)          ``created``, with :data:`LOST_ANSWER_NOTE`
made before its call                              ``existing`` (ensure) or ``failed`` (create,
                                                  a :class:`~cmnb.errors.DuplicateNameError`)
absent                                            ``failed``: the account does not hold it
the list itself failed (or a second Ctrl-C)       ``unknown``: it may or may not exist
================================================  ======================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..errors import APIError, CmnbError, DuplicateNameError, TransportError
from ._bulk_result import Outcome
from ._models import DataSource
from ._retries import made_by_this_call, may_have_acted

__all__ = ["LOST_ANSWER_NOTE", "Doubt", "Doubts", "doubt_of"]

#: An error after which the server may have created the source.
Doubt = TransportError | APIError

LOST_ANSWER_NOTE = "Its answer was lost; the lookup at the end of the run found it."


def doubt_of(error: BaseException) -> Doubt | None:
    """``error`` if the create that raised it may have created the source, else ``None``."""
    if isinstance(error, TransportError) and error.maybe_sent:
        return error
    if isinstance(error, APIError) and (error.maybe_sent or may_have_acted(error.status)):
        return error
    return None


class Record(Protocol):
    """How a run records one name's outcome (``_Run.record``)."""

    def __call__(self, index: int, outcome: Outcome, **details: Any) -> None: ...


class Doubts:
    """The names of one run whose create ended in doubt, until one ``list()`` settles them.

    ``mode`` is the run's (``"ensure"`` or ``"create"``); ``resolving`` turns True when the
    settling list has begun (it is made once, even if Ctrl-C interrupts it).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.pending: dict[int, tuple[str, Doubt]] = {}
        self.resolving = False

    def add(self, index: int, name: str, error: Doubt) -> None:
        """Keep ``name`` (input position ``index``) for the settling list."""
        self.pending[index] = (name, error)

    def resolve(self, list_sources: Callable[[], Sequence[DataSource]], record: Record) -> None:
        """Settle every pending name with one call of ``list_sources`` (see the module table).

        A ``KeyboardInterrupt`` during the list leaves the names pending (see
        :meth:`leave_unknown`).
        """
        if not self.pending or self.resolving:
            return
        self.resolving = True
        try:
            known = {source.name: source for source in list_sources()}
        except CmnbError as lookup_error:
            self.leave_unknown(
                f"the lookup at the end of the run failed too ({lookup_error})", record
            )
            return
        while self.pending:
            index = next(iter(self.pending))
            name, error = self.pending[index]
            self._settle(index, name, error, known.get(name), record)
            del self.pending[index]

    def _settle(
        self, index: int, name: str, error: Doubt, source: DataSource | None, record: Record
    ) -> None:
        if source is None:
            error.settle(maybe_sent=False, note=f"It was not created: no {name!r} in the account.")
            record(index, "failed", error=error)
        elif made_by_this_call(source, error.server_started_at):
            record(index, "created", source=source, note=LOST_ANSWER_NOTE)
        elif self.mode == "ensure":
            record(index, "existing", source=source)
        else:
            taken = DuplicateNameError.held_by(source, name=name, method="POST", path=error.path)
            record(index, "failed", error=taken, source=source)

    def leave_unknown(self, why: str, record: Record) -> None:
        """Record every pending name as ``unknown``, saying ``why`` and how to check."""
        for index, (name, error) in self.pending.items():
            error.settle(
                maybe_sent=True,
                note=f"It is unknown whether {name!r} was created: {why}. "
                f"Check with client.data_sources.list(name={name!r}).",
            )
            record(index, "unknown", error=error)
        self.pending.clear()
