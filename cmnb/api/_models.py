"""`DataSource` and its optional blocks, parsed tolerantly from the API's JSON.

Parsing never fails on what the server adds later: unknown keys are kept in ``extra`` and
written back by ``to_dict()``; ``status`` and ``system`` are open strings.

Showing is the display layer's job: a block's ``__str__``, ``_repr_pretty_`` and
``_repr_html_`` (a small table) and a source's ``_repr_html_`` (a card) are display hooks that
import :mod:`cmnb.notebook._block_view` when called, never at import time (import-linter lists
them as allowed exceptions). ``repr()`` stays the one-line dataclass form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

__all__ = [
    "BLOCKS",
    "AutoChurnSubscriptionSetting",
    "DataSource",
    "InvoiceHandlingRules",
    "InvoiceHandlingSetting",
    "ProcessingStatus",
    "block_flag",
    "flatten_fields",
    "format_timestamp",
    "parse_timestamp",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def _no_extra() -> Mapping[str, Any]:
    return _EMPTY


def parse_timestamp(value: Any) -> datetime | None:
    """Parse ``2023-01-10T15:34:05.918Z`` or the old ``2016-01-10 15:34:05`` to aware UTC.

    A naive timestamp is taken as UTC. ``None``, ``""`` and anything unparseable give ``None``.
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            return None
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz
        )
        # A valid local time can still fall outside datetime's range once moved to UTC
        # (0001-01-01T00:00:00+05:30): unparseable, like any other impossible date.
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def format_timestamp(moment: datetime | None) -> str | None:
    """The API's own format: ISO-8601 UTC with milliseconds and ``Z``."""
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def flatten_fields(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as one level of dotted keys: ``{"a": {"b": 1}}`` → ``{"a.b": 1}``.

    ``prefix`` (e.g. ``"processing_status"``) goes in front of every key. The table's columns
    and the CLI's ``get`` lines are named this way.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten_fields(value, name))
        else:
            out[name] = value
    return out


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _split(data: Mapping[str, Any], known: tuple[str, ...]) -> Mapping[str, Any]:
    return MappingProxyType({k: v for k, v in data.items() if k not in known})


class _ShownAsTable:
    """Display hooks of a block: a small table for people, one field per row.

    ``str()`` (what ``print`` shows) and the text a notebook or IPython shows are aligned
    lines; a notebook draws an HTML table. ``repr()`` stays the dataclass's one line.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # IPython takes a class's own __repr__ (the dataclass's) before an inherited
        # _repr_pretty_, so each block class carries this one in its own namespace.
        cls._repr_pretty_ = _ShownAsTable._repr_pretty_  # type: ignore[method-assign]

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __str__(self) -> str:
        from ..notebook._block_view import block_text  # display hook (see module docstring)

        return block_text(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        from ..notebook._block_view import block_html  # display hook

        return block_html(self)


@dataclass(frozen=True)
class ProcessingStatus(_ShownAsTable):
    """How many of the source's imported objects are processed, pending and failed."""

    processed: int | None = None
    pending: int | None = None
    failed: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_no_extra, repr=False, compare=False)

    _KEYS = ("processed", "pending", "failed")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessingStatus:
        return cls(
            processed=_int_or_none(data.get("processed")),
            pending=_int_or_none(data.get("pending")),
            failed=_int_or_none(data.get("failed")),
            extra=_split(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, **{k: getattr(self, k) for k in self._KEYS}}


@dataclass(frozen=True)
class AutoChurnSubscriptionSetting(_ShownAsTable):
    """Whether ChartMogul churns subscriptions automatically, and after how many days."""

    enabled: bool | None = None
    interval: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_no_extra, repr=False, compare=False)

    _KEYS = ("enabled", "interval")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoChurnSubscriptionSetting:
        return cls(
            _bool_or_none(data.get("enabled")),
            _int_or_none(data.get("interval")),
            _split(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, "enabled": self.enabled, "interval": self.interval}


@dataclass(frozen=True)
class InvoiceHandlingRules(_ShownAsTable):
    """One side (manual or automatic) of the invoice handling setting."""

    create_subscription_when_invoice_is: str | None = None
    update_subscription_when_invoice_is: str | None = None
    prevent_subscription_for_invoice_voided: bool | None = None
    prevent_subscription_for_invoice_refunded: bool | None = None
    prevent_subscription_for_invoice_written_off: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=_no_extra, repr=False, compare=False)

    _STR_KEYS = ("create_subscription_when_invoice_is", "update_subscription_when_invoice_is")
    _BOOL_KEYS = (
        "prevent_subscription_for_invoice_voided",
        "prevent_subscription_for_invoice_refunded",
        "prevent_subscription_for_invoice_written_off",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InvoiceHandlingRules:
        values: dict[str, Any] = {k: _str_or_none(data.get(k)) for k in cls._STR_KEYS}
        values.update({k: _bool_or_none(data.get(k)) for k in cls._BOOL_KEYS})
        return cls(**values, extra=_split(data, cls._STR_KEYS + cls._BOOL_KEYS))

    def to_dict(self) -> dict[str, Any]:
        keys = self._STR_KEYS + self._BOOL_KEYS
        return {**self.extra, **{k: getattr(self, k) for k in keys}}


@dataclass(frozen=True)
class InvoiceHandlingSetting(_ShownAsTable):
    """When invoices create or update subscriptions, for manual and automatic collection."""

    manual: InvoiceHandlingRules | None = None
    automatic: InvoiceHandlingRules | None = None
    extra: Mapping[str, Any] = field(default_factory=_no_extra, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InvoiceHandlingSetting:
        def side(key: str) -> InvoiceHandlingRules | None:
            value = data.get(key)
            return InvoiceHandlingRules.from_dict(value) if isinstance(value, Mapping) else None

        return cls(side("manual"), side("automatic"), _split(data, ("manual", "automatic")))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for key in ("manual", "automatic"):
            rules = getattr(self, key)
            out[key] = rules.to_dict() if rules is not None else None
        return out


#: The optional blocks a data source carries when a request asks for them (``with_<block>=true``),
#: in the API's order. Written once: the client's flags, the table's columns and the CLI's
#: ``--with-*`` options all read this tuple. (The sandbox keeps its own copy on purpose: an
#: emulator must not share the client's reading of the wire; a test checks that they agree.)
BLOCKS: tuple[str, ...] = (
    "processing_status",
    "auto_churn_subscription_setting",
    "invoice_handling_setting",
)


def block_flag(block: str) -> str:
    """The query flag that asks for ``block``: ``with_processing_status`` and so on."""
    return f"with_{block}"


_BASE_KEYS = ("uuid", "name", "system", "created_at", "status")
_DS_KEYS = (*_BASE_KEYS, *BLOCKS)


def _parsed_blocks(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The blocks of ``data`` parsed into fields: objects, and ``null`` (no block). Any other
    value stays in ``extra`` as given."""
    return tuple(b for b in BLOCKS if data.get(b) is None or isinstance(data.get(b), Mapping))


@dataclass(frozen=True)
class DataSource:
    """A ChartMogul data source.

    ``created_at`` is an aware UTC datetime (``None`` if the server sent none). ``status``
    (``idle``, ``working``, ``never_imported``, …) and ``system`` (``Custom``, ``Stripe``, …) are
    open strings. The optional blocks are present only when the request asked for them.
    Unknown keys from the server are kept in ``extra``, and so is a block whose value is not an
    object (SDK fixtures hold a plain string there): its field is then ``None``, its raw value
    is not lost, and ``to_dict()`` writes it back as it came.
    """

    uuid: str
    name: str
    system: str = "Custom"
    created_at: datetime | None = None
    status: str = ""
    processing_status: ProcessingStatus | None = None
    auto_churn_subscription_setting: AutoChurnSubscriptionSetting | None = None
    invoice_handling_setting: InvoiceHandlingSetting | None = None
    extra: Mapping[str, Any] = field(default_factory=_no_extra, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSource:
        """Parse the API's JSON object; never fails on unknown or missing optional keys."""
        processing = data.get("processing_status")
        churn = data.get("auto_churn_subscription_setting")
        invoices = data.get("invoice_handling_setting")
        return cls(
            uuid=str(data.get("uuid") or ""),
            name=str(data.get("name") or ""),
            system=str(data.get("system") or ""),
            created_at=parse_timestamp(data.get("created_at")),
            status=str(data.get("status") or ""),
            processing_status=(
                ProcessingStatus.from_dict(processing) if isinstance(processing, Mapping) else None
            ),
            auto_churn_subscription_setting=(
                AutoChurnSubscriptionSetting.from_dict(churn)
                if isinstance(churn, Mapping)
                else None
            ),
            invoice_handling_setting=(
                InvoiceHandlingSetting.from_dict(invoices)
                if isinstance(invoices, Mapping)
                else None
            ),
            extra=_split(data, _BASE_KEYS + _parsed_blocks(data)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready object, as the API would send it (unknown keys included)."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            uuid=self.uuid,
            name=self.name,
            system=self.system,
            created_at=format_timestamp(self.created_at),
            status=self.status,
        )
        for key in _DS_KEYS[5:]:
            block = getattr(self, key)
            if block is not None:
                out[key] = block.to_dict()
        return out

    def __repr__(self) -> str:
        parts = [
            f"uuid={self.uuid!r}",
            f"name={self.name!r}",
            f"system={self.system!r}",
            f"created_at={format_timestamp(self.created_at)}",
            f"status={self.status!r}",
        ]
        for key in _DS_KEYS[5:]:
            block = getattr(self, key)
            if block is not None:
                parts.append(f"{key}={block!r}")
        return "DataSource(" + ", ".join(parts) + ")"

    def _repr_html_(self) -> str:
        """A card in a notebook: the fields, name first, then each block as a small table."""
        from ..notebook._block_view import source_html  # display hook (see module docstring)

        return source_html(self)
