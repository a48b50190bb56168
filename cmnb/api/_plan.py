"""Plan: the steps that make an account hold a desired list of sources, found with one request.

::

    plan = client.data_sources.plan(["In-house billing", "Legacy invoices"])
    plan            # 1 to create, 1 unchanged, 0 to delete (coloured in a notebook)
    plan.apply()    # -> ApplyResult; planning again then gives plan.changes == 0

:func:`plan` reads ``desired`` (see :mod:`cmnb.api._desired`; every bad row is refused at once,
before anything is sent), lists the account **once** and compares names: a desired name the
account holds is ``keep``, one it lacks is ``create``. With ``prune=True`` every other source
is ``delete`` when its ``system`` is ``Custom`` (what the API creates) and ``ignore`` otherwise:
a plan never deletes an integration's source (Stripe, Recurly, …). Nothing is written.

The account's JSON objects are kept as they came and parsed only when a step's ``source`` is
asked for, so planning 10,000 names against 10,000 sources costs about one list call.
Showing a plan is the display layer's job: ``__repr__``, ``_repr_html_`` and ``to_frame()`` are
display hooks importing :mod:`cmnb.notebook._plan_view` when called, never at import time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError
from ._desired import Desired, Rows, desired_names
from ._models import DataSource, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    import threading

    import pandas

    from ._apply import ApplyResult, ProgressArg
    from ._data_sources import DataSources

__all__ = ["ACTIONS", "CUSTOM", "Action", "Desired", "Plan", "PlanStep", "plan"]

Action = Literal["create", "keep", "delete", "ignore"]
ACTIONS: tuple[Action, ...] = ("create", "keep", "delete", "ignore")
#: The only system a plan deletes: sources the API made. ``Import API`` (what older API-made
#: sources say) is left alone on purpose: a plan may only ever delete less than asked.
CUSTOM = "Custom"

#: A plan as columns: actions, names, where each name was in desired (``None`` for a source
#: only the account holds), and the account's JSON object for each (``None`` for a create).
_Columns = tuple[list[Action], list[str], list["str | None"], list["dict[str, Any] | None"]]


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One step: do ``action`` for ``name``.

    ``row`` is where the name was in ``desired`` (``"line 3"``, ``"row 7"``, ``"[2]"``; ``None``
    for a source only the account holds). ``uuid``, ``system`` and ``created_at`` describe the
    source the account holds (``None`` for a ``create``); ``source`` is that source, parsed.
    """

    action: Action
    name: str
    row: str | None = None
    held: Mapping[str, Any] | None = None

    @property
    def uuid(self) -> str | None:
        """The held source's uuid (``None`` for a create)."""
        return _text(self.held, "uuid") if self.held is not None else None

    @property
    def system(self) -> str | None:
        """The held source's system, e.g. ``Custom`` or ``Stripe`` (``None`` for a create)."""
        return _text(self.held, "system") if self.held is not None else None

    @property
    def created_at(self) -> datetime | None:
        """When the held source was created (aware UTC), ``None`` for a create or if unknown."""
        return parse_timestamp(self.held.get("created_at")) if self.held is not None else None

    @property
    def source(self) -> DataSource | None:
        """The held source as a :class:`DataSource` (``None`` for a create)."""
        return DataSource.from_dict(self.held) if self.held is not None else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready row: name, action, uuid, system, created_at (the API's text form)."""
        return {
            "name": self.name,
            "action": self.action,
            "uuid": self.uuid,
            "system": self.system,
            "created_at": format_timestamp(self.created_at),
        }

    def __repr__(self) -> str:
        held = f", uuid={self.uuid!r}, system={self.system!r}" if self.held is not None else ""
        return f"PlanStep({self.action!r}, {self.name!r}{held})"


class Plan:
    """What :meth:`apply` would do to make the account hold the desired names.

    ``steps`` come in ``desired`` order (each ``create`` or ``keep``), then, with ``prune``,
    the account's other sources by name (``delete`` or ``ignore``). ``len(plan)`` and
    ``iter(plan)`` go over the steps; ``counts`` maps each action to its count; ``changes``
    is the number of creates and deletes. ``origin`` says where the names came from.
    """

    def __init__(
        self,
        columns: _Columns,
        *,
        prune: bool,
        origin: str,
        data_sources: DataSources,
    ) -> None:
        # Steps are kept as columns and made into PlanStep objects when first asked for:
        # planning 10,000 names should cost about one list call, not 10,000 allocations.
        self._columns = columns
        self._steps: tuple[PlanStep, ...] | None = None
        self.prune = prune
        self.origin = origin
        self._data_sources = data_sources

    @property
    def steps(self) -> tuple[PlanStep, ...]:
        """Every step, in plan order."""
        if self._steps is None:
            self._steps = tuple(map(PlanStep, *self._columns))
        return self._steps

    @property
    def counts(self) -> dict[str, int]:
        """``{"create": n, "keep": n, "delete": n, "ignore": n}``."""
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        counts.update(Counter(self._columns[0]))
        return counts

    @property
    def changes(self) -> int:
        """How many steps would change the account: creates plus deletes."""
        counts = self.counts
        return counts["create"] + counts["delete"]

    def summary(self) -> str:
        """One line: ``"2 to create, 5 unchanged, 1 to delete"`` (and ``", 3 ignored (not
        Custom)"`` when a prune leaves integration sources alone)."""
        counts = self.counts
        line = f"{counts['create']} to create, {counts['keep']} unchanged, "
        line += f"{counts['delete']} to delete"
        if counts["ignore"]:
            line += f", {counts['ignore']} ignored (not {CUSTOM})"
        return line

    def __len__(self) -> int:
        return len(self._columns[1])

    def __iter__(self) -> Iterator[PlanStep]:
        return iter(self.steps)

    def apply(
        self,
        *,
        confirm_deletes: int | None = None,
        concurrency: int = 8,
        progress: ProgressArg = None,
        stop: threading.Event | None = None,
    ) -> ApplyResult:
        """Carry the plan out; see :func:`cmnb.api._apply.apply` (what it raises, too).

        ``stop`` (a ``threading.Event``) stops sending once set, as Ctrl-C does."""
        from . import _apply  # loaded by those who apply, not by those who only plan

        return _apply.apply(
            self,
            self._data_sources,
            confirm_deletes=confirm_deletes,
            concurrency=concurrency,
            progress=progress,
            stop=stop,
        )

    def to_frame(self) -> pandas.DataFrame:
        """A DataFrame, one row per step: name, action, uuid, system, created_at (UTC).

        Needs pandas (raises ``ImportError`` without it).
        """
        from ..notebook._plan_view import plan_frame  # display hook (see module docstring)

        return plan_frame(self)

    def __repr__(self) -> str:
        from ..notebook._plan_view import plan_repr  # display hook

        return plan_repr(self)

    def _repr_html_(self) -> str:
        from ..notebook._plan_view import plan_html  # display hook

        return plan_html(self)


def plan(data_sources: DataSources, desired: Desired, *, prune: bool = False) -> Plan:
    """The :class:`Plan` that makes the account hold exactly the names in ``desired``.

    Costs one ``list`` call and writes nothing. ``prune=True`` adds a ``delete`` for every
    ``Custom`` source not desired and an ``ignore`` for every other one; without it, sources
    not in ``desired`` are not listed. Raises :class:`InputError` (nothing sent) for unreadable
    input or bad rows — every bad row at once, in ``error.problems`` — and what ``list`` raises
    (:class:`APIError`, :class:`TransportError`).
    """
    if not isinstance(prune, bool):
        raise InputError(f"prune must be True or False, not {prune!r}.", field="prune")
    wanted = desired_names(desired)
    held = data_sources._list_json()
    columns = _diff(wanted, held, prune)
    return Plan(columns, prune=prune, origin=wanted.origin, data_sources=data_sources)


def _diff(wanted: Rows, held: list[dict[str, Any]], prune: bool) -> _Columns:
    """The plan's columns (actions, names, rows, held sources): a dict lookup per name."""
    held_names = _texts([item.get("name") for item in held])
    by_name: dict[str, dict[str, Any]] = {}
    for name, item in zip(held_names, held, strict=True):
        by_name.setdefault(name, item)  # names are unique per account; if not, the first
    names = list(wanted.values)
    rows: list[str | None] = list(wanted.wheres)
    found = [by_name.get(name) for name in names]
    actions: list[Action] = ["create" if item is None else "keep" for item in found]
    if prune:
        desired = set(names)
        others = [(n, item) for n, item in zip(held_names, held, strict=True) if n not in desired]
        # The server's order is undocumented: sort, so a plan reads the same every time.
        others.sort(key=lambda other: (other[0].casefold(), other[0]))
        actions += [
            "delete" if item.get("system") == CUSTOM and _has_uuid(item) else "ignore"
            for _, item in others
        ]
        names += [name for name, _ in others]
        rows += [None] * len(others)
        found += [item for _, item in others]
    return actions, names, rows, found


def _has_uuid(item: Mapping[str, Any]) -> bool:
    uuid = item.get("uuid")
    return isinstance(uuid, str) and bool(uuid)


def _texts(values: list[Any]) -> list[str]:
    """Text values as :meth:`DataSource.from_dict` reads them (a missing or null one is "")."""
    return [value if value.__class__ is str else str(value or "") for value in values]


def _text(held: Mapping[str, Any], field: str) -> str:
    """A text field as :meth:`DataSource.from_dict` reads it (a missing or null field is "")."""
    raw = held.get(field)
    return raw if raw.__class__ is str else str(raw or "")
