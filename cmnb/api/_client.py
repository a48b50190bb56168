"""`Client` and ``client.data_sources``: the ChartMogul Data Sources API, safely.

::

    with cmnb.Client() as client:                   # key from CHARTMOGUL_API_KEY or ./.env
        ds = client.data_sources.create("In-house billing")

Input is checked before anything is sent; every call has a timeout, a deadline and bounded
retries (see :mod:`cmnb.retries`); a create is never duplicated by a retry.
"""

from __future__ import annotations

import builtins
import html as htmllib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from ..errors import (
    APIError,
    CmnbError,
    DuplicateNameError,
    NotFoundError,
    TransportError,
)
from ._models import BLOCKS, DataSource, block_flag
from ._retries import LOOKUP_ATTEMPTS, LOOKUP_SHARE, lookups_deferred, made_by_this_call
from ._secret import Secret
from ._settings import (
    is_loopback_host,
    missing_key_error,
    normalize_timeout,
    resolve_api_key,
    resolve_base_url,
)
from ._transport import Reply, Transport
from ._validation import check_name, check_uuid

if TYPE_CHECKING:
    from ._bulk import BulkResult, ProgressArg
    from ._plan import Desired, Plan

__all__ = ["Client", "DataSources", "DryRun"]

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


class Client:
    """A ChartMogul API client: ``client.data_sources`` and ``client.ping()``.

    ``api_key``: argument → ``CHARTMOGUL_API_KEY`` → ``./.env``. ``base_url``: argument →
    ``CHARTMOGUL_BASE_URL`` → ``./.env`` → ``https://api.chartmogul.com/v1`` (with or without
    ``/v1``; ``http://`` only for localhost). ``timeout`` is seconds or ``(connect, read)`` per
    attempt; ``deadline_s`` bounds a whole call including retries; ``max_attempts`` bounds the
    requests per call; ``rate_limit_per_s=None`` turns pacing off. ``verify`` is how the
    server's certificate is checked: ``True`` (the default CA bundle), the path of a CA file
    (e.g. a test sandbox's self-signed certificate) or ``False`` (not at all). Raises
    :class:`ConfigError` when no key is configured or a setting is invalid.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        base_url: str | None = None,
        timeout: float | tuple[float, float] = (5, 30),
        max_attempts: int = 4,
        deadline_s: float = 60.0,
        rate_limit_per_s: float | None = 40,
        verify: str | bool = True,
        _clock: Callable[[], float] = time.monotonic,
        _sleep: Callable[[float], None] = time.sleep,
        _random: Callable[[], float] = random.random,
    ) -> None:
        key = resolve_api_key(api_key)
        if key is None:
            raise missing_key_error()
        self.base_url: str = resolve_base_url(base_url)
        self.is_loopback: bool = is_loopback_host(urlsplit(self.base_url).hostname or "")
        self._transport = Transport(
            key,
            self.base_url,
            timeout=normalize_timeout(timeout),
            max_attempts=max_attempts,
            deadline_s=deadline_s,
            rate_limit_per_s=rate_limit_per_s,
            # Proxy settings from the environment never apply to the local sandbox.
            trust_env=not self.is_loopback,
            verify=verify,
            clock=_clock,
            sleep=_sleep,
            random=_random,
        )
        self.data_sources = DataSources(self)
        #: Why this client talks to the embedded sandbox when :func:`cmnb.connect` chose it:
        #: ``"no API key configured"`` or ``"as asked"``; ``None`` for any other client.
        self.sandbox_reason: str | None = None

    def ping(self) -> bool:
        """Check the key and the connection (``GET /ping``); True, or raises the error."""
        self._call("GET", "/ping")
        return True

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        lookup: bool = False,
    ) -> Reply:
        """A read: the answer, or raise its error. ``lookup``: the one lookup after a create or
        delete ended in doubt, with its own attempts and the deadline's share kept for it."""
        transport = self._transport
        if not lookup:
            reply = transport.request(method, path, params=params)
        else:
            reply = transport.request(
                method,
                path,
                params=params,
                deadline_s=transport.deadline_s * LOOKUP_SHARE,
                max_attempts=min(LOOKUP_ATTEMPTS, transport.max_attempts),
            )
        if not reply.ok:
            raise reply.error()
        return reply

    def _act(self, method: str, path: str, *, json: Any = None) -> Reply:
        """A create or delete, within its deadline less the share kept for a lookup after it."""
        transport = self._transport
        return transport.request(
            method, path, json=json, deadline_s=transport.deadline_s * (1 - LOOKUP_SHARE)
        )

    def close(self) -> None:
        """Release the pooled connections. The client must not be used afterwards."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "SANDBOX" if self.is_loopback else "LIVE"
        return f"Client(base_url={self.base_url!r}, mode={mode})"

    def _repr_html_(self) -> str:
        """A notebook's view of the client: LIVE or SANDBOX in bold, why, and where requests go.

        In a notebook kernel this is where :func:`cmnb.connect` says that it chose the sandbox
        (its stderr notice would be drawn as an error band). Escaped; never the key.
        """
        url = f"<code>{htmllib.escape(self.base_url)}</code>"
        if not self.is_loopback:
            line = f"<b>LIVE</b> — requests go to {url}."
        elif self.sandbox_reason is not None:
            reason = htmllib.escape(self.sandbox_reason)
            line = (
                f"<b>SANDBOX</b> ({reason}) — the embedded sandbox at {url}: nothing leaves "
                "this machine."
            )
        else:
            line = f"<b>SANDBOX</b> — requests go to {url}, on this machine."
        return f'<span class="cmnb-client">{line}</span>'
