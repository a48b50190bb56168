"""What :func:`~cmnb.api._bulk.create_many` returns: one :class:`BulkOutcome` per name, in a
:class:`BulkResult` that counts them, shows them (text and HTML) and turns into a DataFrame.

Showing is the display layer's job: ``__repr__``, ``_repr_html_`` and ``to_frame()`` are display
hooks that import :mod:`cmnb.notebook._bulk_view` when called, never at import time, so the
client layer loads no pandas (import-linter lists exactly these hooks as allowed exceptions).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from ._models import DataSource

if TYPE_CHECKING:
    import pandas

__all__ = ["OUTCOMES", "QUIET_OUTCOMES", "BulkOutcome", "BulkResult", "Outcome"]

Outcome = Literal["created", "existing", "repeated", "failed", "unknown", "skipped"]
#: Every outcome, in the order ``counts`` and ``summary()`` give them.
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
#: The outcomes after which the account holds the name.
HELD: tuple[Outcome, ...] = ("created", "existing")
#: The rows a long table shows after the problems: the account holds the name, or the row
#: repeats an earlier one (whose own row shows its problem, if it has one).
QUIET_OUTCOMES: tuple[Outcome, ...] = (*HELD, "repeated")


@dataclass(frozen=True)
class BulkOutcome:
    """What happened to one input name. ``index`` is its position in the input.

    ``outcome``: ``created``/``existing`` (the account holds it, ``source``), ``repeated``
    (the same name is earlier in the input, at ``repeat_of.index``: it was sent once, and this
    row shares that one's fate, ``source`` and ``ok``), ``failed`` (the account does not hold
    it, ``error`` says why), ``unknown`` (its create may have been made: the answer was lost
    and the lookup that would tell failed too; ``error`` says how to check) or ``skipped``
    (never sent: the run was interrupted). ``note`` tells what else is worth knowing, e.g. that
    a created source's answer was lost and a lookup found it.
    """

    name: str
    outcome: Outcome
    source: DataSource | None = None
    error: Exception | None = None
    index: int = 0
    note: str = ""
    repeat_of: BulkOutcome | None = None

    @property
    def ok(self) -> bool:
        """True when the account now holds this name: ``created``, ``existing``, or
        ``repeated`` after a first occurrence that is."""
        if self.repeat_of is not None:
            return self.repeat_of.ok
        return self.outcome in HELD


class BulkResult:
    """Every outcome of one :func:`~cmnb.api._bulk.create_many` run, in input order.

    ``created``/``existing``/``repeated``/``failed``/``unknown``/``skipped`` are lists of
    :class:`BulkOutcome`; ``counts`` maps each outcome to its count; ``sources`` are the data
    sources of the ``ok`` outcomes, each once; ``to_frame()`` gives one row per name.
    """

    def __init__(self, outcomes: Sequence[BulkOutcome], *, interrupted: bool = False) -> None:
        self.outcomes: list[BulkOutcome] = list(outcomes)
        self.interrupted = interrupted

    def _having(self, outcome: Outcome) -> list[BulkOutcome]:
        return [o for o in self.outcomes if o.outcome == outcome]

    created = property(lambda self: self._having("created"), doc="Names created by this run.")
    existing = property(lambda self: self._having("existing"), doc="Names found already there.")
    repeated = property(
        lambda self: self._having("repeated"), doc="Names given again in the input (sent once)."
    )
    failed = property(lambda self: self._having("failed"), doc="Names not created (see .error).")
    unknown = property(
        lambda self: self._having("unknown"), doc="Names that may or may not exist (see .error)."
    )
    skipped = property(lambda self: self._having("skipped"), doc="Names never sent (interrupt).")

    @property
    def counts(self) -> dict[str, int]:
        """``{"created": n, "existing": n, "repeated": n, "failed": n, "unknown": n,
        "skipped": n}``."""
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for o in self.outcomes:
            counts[o.outcome] += 1
        return counts

    @property
    def sources(self) -> list[DataSource]:
        """The data sources created or found, in input order (a repeated name's once)."""
        return [
            o.source for o in self.outcomes if o.ok and o.source is not None and o.repeat_of is None
        ]

    @property
    def ok(self) -> bool:
        """True when the account holds every name (see :attr:`BulkOutcome.ok`)."""
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
        """A DataFrame with columns name, outcome, created_at (UTC), error (``TypeName:
        message``, whole), note and uuid, one row per name; its index is the input position.
        Missing values are real missing values (``NaT``, pandas' missing text), for ``isna()``
        and friends; displaying the result itself shows them as empty cells.

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
