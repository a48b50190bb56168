"""What :meth:`Plan.apply <cmnb.api._plan.Plan.apply>` returns: one :class:`ApplyOutcome` per
step of the plan, in an :class:`ApplyResult` that counts them and shows them (its display hooks
import :mod:`cmnb.notebook._plan_view` when called), or :class:`ApplyInterrupted` on Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import pandas

    from ._models import DataSource
    from ._plan import Action

__all__ = ["DONE", "OUTCOMES", "ApplyInterrupted", "ApplyOutcome", "ApplyResult", "Outcome"]

Outcome = Literal["created", "existing", "kept", "deleted", "gone", "failed", "skipped", "unknown"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
#: Outcomes after which the account is as the plan wanted for that step.
DONE: frozenset[str] = frozenset(OUTCOMES[:5])


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What happened to one step: ``name``, its plan ``action`` and its ``outcome``.

    ``source`` is the source created, found, kept or deleted (when known); ``error`` why a step
    ``failed`` or is ``unknown``. ``ok`` is True when the account is as planned for this step.
    """

    name: str
    action: Action
    outcome: Outcome
    source: DataSource | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in DONE

    @property
    def uuid(self) -> str | None:
        return self.source.uuid if self.source is not None else None


class ApplyResult:
    """Every step's outcome, in plan order. ``counts`` maps each outcome to its count;
    ``ok`` is True when every step is done as planned; ``failed`` and ``unknown`` list the
    steps to look at; ``to_frame()`` has columns name, action, outcome, uuid, error."""

    def __init__(self, outcomes: Sequence[ApplyOutcome], *, interrupted: bool = False) -> None:
        self.outcomes: list[ApplyOutcome] = list(outcomes)
        self.interrupted = interrupted

    @property
    def counts(self) -> dict[str, int]:
        """``{"created": n, "existing": n, "kept": n, "deleted": n, …}`` (every outcome)."""
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for o in self.outcomes:
            counts[o.outcome] += 1
        return counts

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    failed = property(lambda self: [o for o in self.outcomes if o.outcome == "failed"])
    unknown = property(lambda self: [o for o in self.outcomes if o.outcome == "unknown"])

    def summary(self) -> str:
        """One line, e.g. ``8 steps: 2 created, 5 kept, 1 deleted``."""
        shown = [f"{n} {k}" for k, n in self.counts.items() if n]
        stopped = " (interrupted)" if self.interrupted else ""
        return f"{len(self.outcomes)} steps: " + (", ".join(shown) or "nothing to do") + stopped

    def __len__(self) -> int:
        return len(self.outcomes)

    def __iter__(self) -> Iterator[ApplyOutcome]:
        return iter(self.outcomes)

    def to_frame(self) -> pandas.DataFrame:
        """One row per step: name, action, outcome, uuid, error (short text). Needs pandas."""
        from ..notebook._plan_view import result_frame  # display hook

        return result_frame(self)

    def __repr__(self) -> str:
        from ..notebook._plan_view import result_repr  # display hook

        return result_repr(self)

    def _repr_html_(self) -> str:
        from ..notebook._plan_view import result_html  # display hook

        return result_html(self)


class ApplyInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :meth:`Plan.apply`; ``partial_result`` reports every step (those never
    sent are ``skipped``). Requests already sent finished their current attempt first."""

    def __init__(self, partial_result: ApplyResult) -> None:
        super().__init__(
            f"apply interrupted: {partial_result.summary()}. "
            "The partial ApplyResult is this exception's .partial_result."
        )
        self.partial_result = partial_result
