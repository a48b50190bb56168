"""What :func:`~cmnb.api._bulk.create_many` returns: one :class:`BulkOutcome` per name, in a
:class:`BulkResult` that counts them, shows them (text and HTML) and turns into a DataFrame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..notebook import _progress as render
from ._models import DataSource

if TYPE_CHECKING:
    import pandas

__all__ = ["OUTCOMES", "BulkOutcome", "BulkResult", "Outcome"]

Outcome = Literal["created", "existing", "failed", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("created", "existing", "failed", "skipped")


@dataclass(frozen=True)
class BulkOutcome:
    """What happened to one input name. ``index`` is its position in the input."""

    name: str
    outcome: Outcome
    source: DataSource | None = None
    error: Exception | None = None
    index: int = 0

    @property
    def ok(self) -> bool:
        """True for ``created`` and ``existing``: the account now holds this name."""
        return self.outcome in ("created", "existing")


class BulkResult:
    """Every outcome of one :func:`~cmnb.api._bulk.create_many` run, in input order.

    ``created``/``existing``/``failed``/``skipped`` are lists of :class:`BulkOutcome`;
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
    failed = property(lambda self: self._having("failed"), doc="Names that failed (see .error).")
    skipped = property(lambda self: self._having("skipped"), doc="Names never sent (interrupt).")

    @property
    def counts(self) -> dict[str, int]:
        """``{"created": n, "existing": n, "failed": n, "skipped": n}``."""
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
        return render.summary(self.counts, len(self.outcomes), self.interrupted)

    def to_frame(self) -> pandas.DataFrame:
        """A DataFrame with columns name, outcome, uuid, created_at (UTC), error (short text)."""
        import pandas as pd

        frame: pandas.DataFrame = pd.DataFrame(render.rows(self.outcomes), columns=render.COLUMNS)
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame

    def __repr__(self) -> str:
        return render.text(self.summary(), self.failed)

    def _repr_html_(self) -> str:
        return render.html(self.summary(), self.outcomes)
