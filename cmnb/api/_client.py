"""`Client` and ``client.data_sources``: the ChartMogul Data Sources API, safely.

::

    with cmnb.Client() as client:                   # key from CHARTMOGUL_API_KEY or ./.env
        ds = client.data_sources.create("In-house billing")

Input is checked before anything is sent; every call has a timeout, a deadline and bounded
retries (see :mod:`cmnb.retries`); a create is never duplicated by a retry.
"""

from __future__ import annotations

import html as htmllib
import logging
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._data_sources import DataSources
from ._reply import Reply
from ._retries import LOOKUP_ATTEMPTS, LOOKUP_SHARE
from ._secret import Secret
from ._settings import (
    is_loopback_host,
    missing_key_error,
    normalize_timeout,
    resolve_api_key,
    resolve_base_url,
)
from ._transport import Transport

if TYPE_CHECKING:
    pass

__all__ = ["Client"]

logger = logging.getLogger("cmnb")


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
