"""``client.data_sources``: create, ensure, list, retrieve, delete, bulk and plan, safely.

Input is checked before anything is sent; a create is never duplicated by a retry, and a call
whose answer was lost is settled by one lookup before it gives up (see :mod:`cmnb.api._retries`).
:class:`~cmnb.api._client.Client` owns the transport; this module is what its
``data_sources`` attribute does with it.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from ..errors import (
    APIError,
    CmnbError,
    DuplicateNameError,
    NotFoundError,
    TransportError,
)
from ._models import BLOCKS, DataSource, block_flag
from ._reply import Reply
from ._retries import lookups_deferred, made_by_this_call
from ._validation import check_name, check_uuid

if TYPE_CHECKING:
    from ._bulk import BulkResult, ProgressArg
    from ._client import Client
    from ._plan import Desired, Plan

__all__ = ["DataSources", "DryRun"]

logger = logging.getLogger("cmnb")


@dataclass(frozen=True)
class DryRun:
    """The request a call would send, with the ``Authorization`` header redacted."""

    method: str
    url: str
    json: Mapping[str, Any] | None
    headers: Mapping[str, str]


class DataSources:
    """``client.data_sources``: create, look up and delete data sources."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def create(self, name: str, *, dry_run: Literal[False] = False) -> DataSource: ...

    @overload
    def create(self, name: str, *, dry_run: Literal[True]) -> DryRun: ...

    @overload
    def create(self, name: str, *, dry_run: bool) -> DataSource | DryRun: ...

    def create(self, name: str, *, dry_run: bool = False) -> DataSource | DryRun:
        """Create a custom data source named ``name`` (surrounding whitespace stripped).

        With ``dry_run=True``, return the :class:`DryRun` request instead and send nothing.
        Raises :class:`InputError` for a bad name (nothing sent), :class:`DuplicateNameError`
        if the name is already taken (``.existing`` holds that source when the lookup works),
        any other :class:`APIError`, or :class:`TransportError`.

        A lost answer is never guessed at. If a retry after an ambiguous failure finds the name
        taken, or the retries end without a clear answer, the name is looked up once (with its
        own small budget, see :mod:`cmnb.api._retries`): a source the server created during this
        call (judged on the server's clock, see :func:`~cmnb.api._retries.created_during_call`)
        is returned; an older one raises :class:`DuplicateNameError` with it as ``.existing``;
        none re-raises the error with ``maybe_sent=False`` (not created); and when the lookup
        fails too, the error has ``maybe_sent=True`` and says how to check.
        """
        clean = check_name(name)
        body = {"name": clean}
        transport = self._client._transport
        if dry_run:
            return DryRun(
                "POST",
                transport.url("/data_sources"),
                body,
                transport.redacted_headers(with_body=True),
            )
        try:
            reply = self._client._act("POST", "/data_sources", json=body)
        except TransportError as failure:
            return self._settle_create(clean, failure)
        if reply.ok:
            return _one(reply)
        error = reply.error(name=clean)
        if isinstance(error, DuplicateNameError):
            return self._taken(clean, error, reply)
        return self._settle_create(clean, error)

    def _taken(self, name: str, error: DuplicateNameError, reply: Reply) -> DataSource:
        """The name is taken: ours if an earlier attempt's lost answer made it during this call,
        else raise ``error`` with the source holding the name (when the lookup works)."""
        existing = self._find_quietly(name)
        if existing is not None:
            if reply.after_ambiguous and made_by_this_call(existing, reply.server_started_at):
                logger.debug(
                    "POST /data_sources: %r was created by an earlier attempt whose answer was "
                    "lost; returning %s",
                    name,
                    existing.uuid,
                )
                return existing
            error.attach_existing(existing)
            error.maybe_sent = False  # the source holding the name is not this call's
        raise error

    def _settle_create(self, name: str, error: TransportError | APIError) -> DataSource:
        """After a create that ended without a clear answer: look the name up once, return the
        source if this call made it, else raise what the lookup showed (see :meth:`create`)."""
        if not error.maybe_sent or lookups_deferred():
            raise error
        try:
            existing = self._find(name, lookup=True)
        except CmnbError as lookup_error:
            error.settle(
                maybe_sent=True,
                note=(
                    f"It is unknown whether a data source named {name!r} was created: the lookup "
                    f"after the lost answer failed too ({_short(lookup_error)}). Check with "
                    f"client.data_sources.list(name={name!r})."
                ),
            )
            raise error from None
        if existing is None:
            error.settle(
                maybe_sent=False,
                note=f"It was not created: a lookup after the lost answer found no {name!r}.",
            )
            raise error
        if not made_by_this_call(existing, error.server_started_at):
            raise DuplicateNameError.held_by(
                existing, name=name, method=error.method, path=error.path
            ) from error
        logger.debug(
            "POST /data_sources: the answer was lost; %r was found by a lookup: returning %s",
            name,
            existing.uuid,
        )
        return existing

    def get_or_create(self, name: str) -> tuple[DataSource, bool]:
        """The source named exactly ``name`` and ``False``, or a new one and ``True``.

        Raises like :meth:`create` (but never :class:`DuplicateNameError` when another client
        creates the same name at the same moment: that source is returned).
        """
        clean = check_name(name)
        found = self._find(clean)
        if found is not None:
            return found, False
        try:
            return self.create(clean), True
        except DuplicateNameError as error:
            if error.existing is not None:
                return error.existing, False
            raise

    def ensure(self, name: str) -> DataSource:
        """The source named exactly ``name``, created if missing (``get_or_create(name)[0]``)."""
        return self.get_or_create(name)[0]

    def list(
        self,
        *,
        name: str | None = None,
        system: str | None = None,
        with_processing_status: bool = False,
        with_auto_churn_subscription_setting: bool = False,
        with_invoice_handling_setting: bool = False,
    ) -> builtins.list[DataSource]:
        """Every data source, or those with exactly this ``name`` and/or ``system``.

        The ``with_*`` flags add the optional blocks to each source. Raises
        :class:`InputError` for a bad ``name``/``system`` (nothing sent), :class:`APIError`
        or :class:`TransportError`.
        """
        items = self._list_json(
            name=name,
            system=system,
            with_processing_status=with_processing_status,
            with_auto_churn_subscription_setting=with_auto_churn_subscription_setting,
            with_invoice_handling_setting=with_invoice_handling_setting,
        )
        return [DataSource.from_dict(item) for item in items]

    def _list_json(
        self,
        *,
        name: str | None = None,
        system: str | None = None,
        with_processing_status: bool = False,
        with_auto_churn_subscription_setting: bool = False,
        with_invoice_handling_setting: bool = False,
        lookup: bool = False,
    ) -> builtins.list[dict[str, Any]]:
        # list() without the parsing: DataSourceTable.from_api builds its frame from these
        # dicts in one vectorised pass instead of parsing 10,000 timestamps one by one.
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = check_name(name)
        if system is not None:
            params["system"] = check_name(system)
        params.update(
            _flags(
                with_processing_status,
                with_auto_churn_subscription_setting,
                with_invoice_handling_setting,
            )
        )
        reply = self._client._call("GET", "/data_sources", params=params, lookup=lookup)
        data = reply.json()
        items = data.get("data_sources") if isinstance(data, dict) else None
        if not isinstance(items, builtins.list):
            raise APIError(
                reply.status,
                "the answer has no data_sources list",
                method=reply.method,
                path=reply.path,
                body=reply.body.decode("utf-8", "replace")[:2000],
                hint="The server's answer is not the JSON the API sends",
            )
        return [item for item in items if isinstance(item, dict)]

    def retrieve(
        self,
        uuid: str,
        *,
        with_processing_status: bool = False,
        with_auto_churn_subscription_setting: bool = False,
        with_invoice_handling_setting: bool = False,
    ) -> DataSource:
        """The data source with this ``uuid`` (``ds_…``), with the optional blocks asked for.

        Raises :class:`InputError` for a malformed uuid (nothing sent), :class:`NotFoundError`
        if there is no such source, other :class:`APIError`, or :class:`TransportError`.
        """
        clean = check_uuid(uuid)
        params = _flags(
            with_processing_status,
            with_auto_churn_subscription_setting,
            with_invoice_handling_setting,
        )
        return _one(self._client._call("GET", f"/data_sources/{clean}", params=params))

    def delete(self, uuid: str) -> None:
        """Delete a data source and everything imported into it. Immediate and irreversible.

        Raises :class:`InputError` for a malformed uuid (nothing sent), :class:`NotFoundError`
        if there is no such source, other :class:`APIError`, or :class:`TransportError`. When
        the retries end without a clear answer, the source is retrieved once: a 404 means it is
        deleted (returns), the source means it is not (the error, ``maybe_sent=False``), and a
        failed retrieve leaves the error with ``maybe_sent=True``, saying how to check.
        """
        clean = check_uuid(uuid)
        try:
            reply = self._client._act("DELETE", f"/data_sources/{clean}")
        except TransportError as failure:
            return self._settle_delete(clean, failure)
        if reply.status == 404 and reply.after_ambiguous:
            # The earlier attempt whose answer was lost did delete it.
            logger.debug("DELETE %s: already deleted by an earlier attempt", clean)
            return
        if not reply.ok:
            self._settle_delete(clean, reply.error())

    def _settle_delete(self, uuid: str, error: TransportError | APIError) -> None:
        """After a delete that ended without a clear answer: retrieve the source once."""
        if not error.maybe_sent or lookups_deferred():
            raise error
        try:
            _one(self._client._call("GET", f"/data_sources/{uuid}", lookup=True))
        except NotFoundError:
            logger.debug("DELETE %s: the answer was lost; a lookup says it is deleted", uuid)
            return
        except CmnbError as lookup_error:
            error.settle(
                maybe_sent=True,
                note=(
                    f"It is unknown whether {uuid} was deleted: the lookup after the lost answer "
                    f"failed too ({_short(lookup_error)}). Check with "
                    f"client.data_sources.retrieve({uuid!r})."
                ),
            )
            raise error from None
        error.settle(
            maybe_sent=False,
            note=f"It was not deleted: a lookup after the lost answer found {uuid} still there.",
        )
        raise error

    def create_many(
        self,
        names: Iterable[Any],
        *,
        mode: Literal["ensure", "create"] = "ensure",
        concurrency: int = 8,
        progress: ProgressArg = None,
        stop: threading.Event | None = None,
    ) -> BulkResult:
        """Create many sources at the rate limit; see :func:`cmnb.api._bulk.create_many`."""
        from . import _bulk as bulk  # the bulk layer is loaded only by those who use it

        return bulk.create_many(
            self, names, mode=mode, concurrency=concurrency, progress=progress, stop=stop
        )

    def plan(self, desired: Desired, *, prune: bool = False) -> Plan:
        """The steps that make the account hold ``desired``; one list call, nothing written.

        ``desired``: names, ``DataSource``s, a DataFrame/Series/``DataSourceTable`` with names,
        or a .csv/.tsv/.txt path. ``plan.apply()`` carries it out. See :func:`cmnb.api._plan.plan`
        (what it raises, too).
        """
        from . import _plan  # loaded only by those who plan

        return _plan.plan(self, desired, prune=prune)

    def _find(self, name: str, *, lookup: bool = False) -> DataSource | None:
        """The source named exactly ``name``, or None. ``lookup``: the one lookup after a lost
        answer, with its own budget (see :meth:`Client._call`)."""
        items = self._list_json(name=name, lookup=lookup)
        return next((ds for ds in map(DataSource.from_dict, items) if ds.name == name), None)

    def _find_quietly(self, name: str) -> DataSource | None:
        try:
            return self._find(name, lookup=True)
        except CmnbError:
            logger.debug("lookup of %r after a duplicate-name answer failed", name, exc_info=True)
            return None

    def __repr__(self) -> str:
        return f"DataSources(base_url={self._client.base_url!r})"


def _flags(*wanted: bool) -> dict[str, str]:
    """The query flags asking for the optional blocks: one bool per block, in ``BLOCKS`` order."""
    return {block_flag(block): "true" for block, on in zip(BLOCKS, wanted, strict=True) if on}


def _short(error: BaseException) -> str:
    """An error's first line, for a note about it inside another error's message."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _one(reply: Reply) -> DataSource:
    data = reply.json()
    if not isinstance(data, Mapping) or not isinstance(data.get("uuid"), str):
        raise APIError(
            reply.status,
            "the answer is not a data source",
            method=reply.method,
            path=reply.path,
            body=reply.body.decode("utf-8", "replace")[:2000],
            hint="The server's answer is not the JSON the API sends",
        )
    return DataSource.from_dict(data)
