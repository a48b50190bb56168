"""`Client` and ``client.data_sources``: the ChartMogul Data Sources API, safely.

::

    with cmnb.Client() as client:                   # key from CHARTMOGUL_API_KEY or ./.env
        ds = client.data_sources.create("In-house billing")

Input is checked before anything is sent; every call has a timeout, a deadline and bounded
retries (see :mod:`cmnb.retries`); a create is never duplicated by a retry.
"""

from __future__ import annotations

import builtins
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from ..errors import APIError, CmnbError, DuplicateNameError
from ._models import BLOCKS, DataSource, block_flag, format_timestamp
from ._retries import created_during_call
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
    from ._bulk import BulkResult, ProgressCallback

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
        any other :class:`APIError`, or :class:`TransportError`. If a retry after an ambiguous
        failure finds the name taken by a source the server created during this call (judged
        on the server's clock, see :func:`cmnb.retries.created_during_call`), that source, made
        by the attempt whose answer was lost, is returned; an older one raises
        :class:`DuplicateNameError` with it as ``.existing``.
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
        reply = transport.request("POST", "/data_sources", json=body)
        if reply.ok:
            return _one(reply)
        error = reply.error(name=clean)
        if isinstance(error, DuplicateNameError):
            existing = self._find_quietly(clean)
            if (
                reply.after_ambiguous
                and existing is not None
                and _made_by_this_call(existing, reply)
            ):
                logger.debug(
                    "POST /data_sources: %r was created by an earlier attempt whose answer was "
                    "lost; returning %s",
                    clean,
                    existing.uuid,
                )
                return existing
            if existing is not None:
                error.attach_existing(existing)
        raise error

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
        reply = self._client._call("GET", "/data_sources", params=params)
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
        if there is no such source, other :class:`APIError`, or :class:`TransportError`.
        """
        clean = check_uuid(uuid)
        reply = self._client._transport.request("DELETE", f"/data_sources/{clean}")
        if reply.status == 404 and reply.after_ambiguous:
            # The earlier attempt whose answer was lost did delete it.
            logger.debug("DELETE %s: already deleted by an earlier attempt", clean)
            return
        if not reply.ok:
            raise reply.error()

    def create_many(
        self,
        names: Iterable[Any],
        *,
        mode: Literal["ensure", "create"] = "ensure",
        concurrency: int = 8,
        progress: ProgressCallback | Literal["auto"] | None = None,
    ) -> BulkResult:
        """Create many sources at the rate limit; see :func:`cmnb.api._bulk.create_many`."""
        from . import _bulk as bulk  # the bulk layer is loaded only by those who use it

        return bulk.create_many(self, names, mode=mode, concurrency=concurrency, progress=progress)

    def _find(self, name: str) -> DataSource | None:
        return next((ds for ds in self.list(name=name) if ds.name == name), None)

    def _find_quietly(self, name: str) -> DataSource | None:
        try:
            return self._find(name)
        except CmnbError:
            logger.debug("lookup of %r after a duplicate-name answer failed", name, exc_info=True)
            return None

    def __repr__(self) -> str:
        return f"DataSources(base_url={self._client.base_url!r})"


def _flags(*wanted: bool) -> dict[str, str]:
    """The query flags asking for the optional blocks: one bool per block, in ``BLOCKS`` order."""
    return {block_flag(block): "true" for block, on in zip(BLOCKS, wanted, strict=True) if on}


def _made_by_this_call(existing: DataSource, reply: Reply) -> bool:
    """Whether the source found after an ambiguous create may be the one this call made."""
    if reply.server_started_at is None or existing.created_at is None:
        # Nothing to judge by: adopt, as the name was taken while we may have created it.
        logger.debug(
            "POST /data_sources: no server Date or created_at to date %s by; taking it as ours",
            existing.uuid,
        )
        return True
    if created_during_call(existing.created_at, reply.server_started_at):
        return True
    logger.debug(
        "POST /data_sources: %r is held by %s, created %s, before this call started "
        "(server clock ~%s): not ours, the name was already taken",
        existing.name,
        existing.uuid,
        format_timestamp(existing.created_at),
        format_timestamp(datetime.fromtimestamp(reply.server_started_at, timezone.utc)),
    )
    return False


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

    def ping(self) -> bool:
        """Check the key and the connection (``GET /ping``); True, or raises the error."""
        self._call("GET", "/ping")
        return True

    def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None) -> Reply:
        reply = self._transport.request(method, path, params=params)
        if not reply.ok:
            raise reply.error()
        return reply

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
