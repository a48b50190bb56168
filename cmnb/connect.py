"""`connect()`: a LIVE client when a key is configured, else the embedded sandbox, said loudly.

::

    client = cmnb.connect()              # CHARTMOGUL_API_KEY / .env set → LIVE, else the sandbox
    client = cmnb.connect(sandbox=True)  # always the embedded sandbox
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

from .api._secret import Secret
from .api._settings import resolve_api_key
from .errors import ConfigError

if TYPE_CHECKING:
    from .api._client import Client
    from .sandbox import Sandbox

__all__ = ["ASKED_SANDBOX_NOTICE", "SANDBOX_NOTICE", "connect", "embedded_sandbox"]

#: Printed to stderr once per process, the first time connect() falls back to the sandbox. No
#: port in it, so saved notebook outputs stay identical from run to run.
SANDBOX_NOTICE = (
    "cmnb: no API key configured — using the embedded sandbox (nothing leaves this machine)."
)
#: The same notice when ``connect(sandbox=True)`` asked for the sandbox (a key may be configured).
ASKED_SANDBOX_NOTICE = "cmnb: using the embedded sandbox, as asked (nothing leaves this machine)."

_lock = threading.Lock()
_embedded: Sandbox | None = None
_noticed = False


def embedded_sandbox(*, seed: int | None = None) -> Sandbox:
    """The process-wide sandbox, started on first use (``seed`` only counts on that first use).

    It lives until the process ends (its server thread is a daemon thread).
    """
    global _embedded
    with _lock:
        if _embedded is None:
            from .sandbox import Sandbox

            _embedded = Sandbox(seed=seed).start()
        elif not _embedded.running:
            _embedded.start()
        return _embedded


def connect(
    api_key: str | Secret | None = None,
    *,
    sandbox: bool | None = None,
    seed: int | None = None,
    **client_kwargs: Any,
) -> Client:
    """A :class:`cmnb.Client`: LIVE when a key is configured, otherwise the embedded sandbox.

    The key comes from ``api_key``, ``CHARTMOGUL_API_KEY`` or ``./.env``. With no key (or
    ``sandbox=True``) the process-wide sandbox (:func:`embedded_sandbox`) is started once and
    a notice (:data:`SANDBOX_NOTICE`, or :data:`ASKED_SANDBOX_NOTICE` for ``sandbox=True``) is
    printed to stderr once. ``sandbox=False`` insists on LIVE and
    raises :class:`ConfigError` when there is no key. ``seed`` makes the sandbox deterministic
    (it only counts when the sandbox starts). ``client_kwargs`` go to :class:`cmnb.Client`.
    """
    global _noticed
    from .api._client import Client

    if sandbox is not True:
        key = resolve_api_key(api_key)
        if key is not None:
            return Client(key, **client_kwargs)
        if sandbox is False:
            raise ConfigError(
                "connect(sandbox=False) needs an API key: pass api_key=..., set "
                "CHARTMOGUL_API_KEY, or put CHARTMOGUL_API_KEY=... in ./.env."
            )
    box = embedded_sandbox(seed=seed)
    with _lock:
        if not _noticed:
            _noticed = True
            notice = ASKED_SANDBOX_NOTICE if sandbox is True else SANDBOX_NOTICE
            print(notice, file=sys.stderr, flush=True)
    client_kwargs.setdefault("base_url", box.url)
    return Client(box.api_key, **client_kwargs)
