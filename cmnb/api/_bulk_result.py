"""What :func:`~cmnb.api._bulk.create_many` returns: one :class:`BulkOutcome` per name, in a
:class:`BulkResult` that counts them, shows them (text and HTML) and turns into a DataFrame.

Showing is the display layer's job: ``__repr__``, ``_repr_html_`` and ``to_frame()`` are display
hooks that import :mod:`cmnb.notebook._bulk_view` when called, never at import time, so the
client layer loads no pandas (import-linter lists exactly these hooks as allowed exceptions).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._models import DataSource

if TYPE_CHECKING:
    import pandas

__all__ = ["OUTCOMES", "BulkOutcome", "BulkResult", "Outcome"]

Outcome = Literal["created", "existing", "failed", "unknown", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("created", "existing", "failed", "unknown", "skipped")


@dataclass(frozen=True)
class BulkOutcome:
    """What happened to one input name. ``index`` is its position in the input.

    ``outcome``: ``created``/``existing`` (the account holds it, ``source``), ``failed`` (the
    account does not hold it, ``error`` says why), ``unknown`` (its create may have been made:
    the answer was lost and the lookup that would tell failed too; ``error`` says how to check)
    or ``skipped`` (never sent: the run was interrupted). ``note`` tells what else is worth
    knowing, e.g. that a created source's answer was lost and a lookup found it.
    """

    name: str
    outcome: Outcome
    source: DataSource | None = None
    error: Exception | None = None
    index: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        """True for ``created`` and ``existing``: the account now holds this name."""
        return self.outcome in ("created", "existing")


class BulkResult:
    """Every outcome of one :func:`~cmnb.api._bulk.create_many` run, in input order.

    ``created``/``existing``/``failed``/``unknown``/``skipped`` are lists of :class:`BulkOutcome`;
    ``counts`` maps each outcome to its count; ``sources`` are the data sources of the ``ok``
    outcomes; ``to_frame()`` gives one row per name.
    """

    def __init__(self, outcomes: Sequence[BulkOutcome], *, interrupted: bool = False) -> None:
        self.outcomes: list[BulkOutcome] = list(outcomes)
        self.interrupted = interrupted

    def _having(self, outcome: Outcome) -> list[BulkOutcome]:
        return [o for o in self.outcomes if o.outcome == outcome]

    created = property(lambda self: self._having("created"), doc="Names created by this run.")
    existing = property(lambda self: self._having("existing"), doc="Names found already there.")
    failed = property(lambda self: self._having("failed"), doc="Names not created (see .error).")
    unknown = property(
        lambda self: self._having("unknown"), doc="Names that may or may not exist (see .error)."
    )
    skipped = property(lambda self: self._having("skipped"), doc="Names never sent (interrupt).")

    @property
    def counts(self) -> dict[str, int]:
        """``{"created": n, "existing": n, "failed": n, "unknown": n, "skipped": n}``."""
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for o in self.outcomes:
            counts[o.outcome] += 1
        return counts

    @property
    def sources(self) -> list[DataSource]:
        """The data sources created or found, in input order."""
        return [o.source for o in self.outcomes if o.ok and o.source is not None]

    @property
    def ok(self) -> bool:
        """True when every name is ``created`` or ``existing``."""
        return all(o.ok for o in self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)

    def __iter__(self) -> Iterator[BulkOutcome]:
        return iter(self.outcomes)

    def summary(self) -> str:
        """One line, e.g. ``400 names: 380 created, 15 existing, 5 failed``."""
        # created and failed are always shown: "3 names: 3 created, 0 failed" reads as all good.
        shown = [f"{n} {k}" for k, n in self.counts.items() if n or k in ("created", "failed")]
        stopped = " (interrupted)" if self.interrupted else ""
        return f"{len(self.outcomes)} names: " + ", ".join(shown) + stopped

    def to_frame(self) -> pandas.DataFrame:
        """A DataFrame with columns name, outcome, uuid, created_at (UTC), error (short text).

        Needs pandas (raises ``ImportError`` without it).
        """
        from ..notebook._bulk_view import outcomes_frame  # display hook (see module docstring)

        return outcomes_frame(self.outcomes)

    def __repr__(self) -> str:
        from ..notebook._bulk_view import result_text  # display hook

        sent_not_ok = [o for o in self.outcomes if o.outcome in ("failed", "unknown")]
        return result_text(self.summary(), sent_not_ok)

    def _repr_html_(self) -> str:
        from ..notebook._bulk_view import result_html  # display hook

        return result_html(self.summary(), self.outcomes)
