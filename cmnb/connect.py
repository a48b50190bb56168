"""`connect()`: a LIVE client when a key is configured, else the embedded sandbox, said clearly.

::

    client = cmnb.connect()              # CHARTMOGUL_API_KEY / .env set → LIVE, else the sandbox
    client = cmnb.connect(sandbox=True)  # always the embedded sandbox

This is the one place where LIVE or sandbox is decided: the form, the notebooks and the ``cmnb``
command all call :func:`connect` (the command with a sandbox of its own per run, see
``start_sandbox``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .api._secret import Secret
from .api._settings import API_KEY_ENV, resolve_api_key
from .errors import ConfigError

if TYPE_CHECKING:
    from .api._client import Client
    from .sandbox import Sandbox

__all__ = [
    "ASKED_REASON",
    "ASKED_SANDBOX_NOTICE",
    "NO_KEY_REASON",
    "SANDBOX_NOTICE",
    "connect",
    "embedded_sandbox",
]

#: Printed to stderr once per process, the first time connect() falls back to the sandbox —
#: outside a notebook kernel only: there the client's own display says it (see :func:`connect`).
SANDBOX_NOTICE = (
    "cmnb: no API key configured — using the embedded sandbox (nothing leaves this machine)."
)
#: The same notice when ``connect(sandbox=True)`` asked for the sandbox (a key may be configured).
ASKED_SANDBOX_NOTICE = "cmnb: using the embedded sandbox, as asked (nothing leaves this machine)."
#: ``Client.sandbox_reason`` of a sandbox client from connect(): no key found, or sandbox=True.
NO_KEY_REASON = "no API key configured"
ASKED_REASON = "as asked"

_lock = threading.Lock()
_embedded: Sandbox | None = None
_noticed = False


def embedded_sandbox(*, seed: int | None = None) -> Sandbox:
    """The process-wide sandbox, started on first use (``seed``, else ``$CMNB_SANDBOX_SEED``, only
    counts on that first use).

    It lives until the process ends (its server thread is a daemon thread).
    """
    global _embedded
    with _lock:
        if _embedded is None:
            from .sandbox import Sandbox

            _embedded = Sandbox(seed=_seed_or_env(seed)).start()
        elif not _embedded.running:
            _embedded.start()
        return _embedded


#: With no ``seed`` given, the embedded sandbox takes its seed from this variable: the example
#: notebooks are built and tested with one (``notebooks/build.py``), so their outputs repeat.
SEED_ENV = "CMNB_SANDBOX_SEED"


def _seed_or_env(seed: int | None) -> int | None:
    """``seed``, else the whole number in ``$CMNB_SANDBOX_SEED``, else None (fresh uuids).

    Raises :class:`ConfigError` when the variable is set to something else.
    """
    text = os.environ.get(SEED_ENV, "").strip()
    if seed is not None or not text:
        return seed
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{SEED_ENV} must be a whole number, not {text!r}.") from None


def connect(
    api_key: str | Secret | None = None,
    *,
    sandbox: bool | None = None,
    seed: int | None = None,
    start_sandbox: Callable[[bool], Sandbox] | None = None,
    **client_kwargs: Any,
) -> Client:
    """A :class:`cmnb.Client`: LIVE when a key is configured, otherwise the embedded sandbox.

    The key comes from ``api_key``, ``CHARTMOGUL_API_KEY`` or ``./.env``. With no key (or
    ``sandbox=True``) the process-wide sandbox (:func:`embedded_sandbox`) is started once, and
    the client's ``sandbox_reason`` says why (:data:`NO_KEY_REASON` or :data:`ASKED_REASON`);
    its notebook display shows it. Outside a notebook kernel a notice (:data:`SANDBOX_NOTICE`,
    or :data:`ASKED_SANDBOX_NOTICE` for ``sandbox=True``) is also printed to stderr, once per
    process; in a kernel nothing is (a front end draws stderr as an error band).
    ``sandbox=False`` insists on LIVE. ``seed`` makes the sandbox
    deterministic (it only counts when the sandbox starts). ``client_kwargs`` go to
    :class:`cmnb.Client`.

    ``start_sandbox(asked)`` replaces the process-wide sandbox and its notice: it is called
    (``asked`` is ``sandbox=True``) only when the answer is the sandbox, must return a running
    :class:`cmnb.Sandbox` and say so itself. The ``cmnb`` command passes one that starts a
    throwaway sandbox per run and words the notice for a terminal.

    Raises :class:`ConfigError` when there is no key and ``sandbox=False``, and when the answer
    is the sandbox but a ``base_url`` was given (that server would get the sandbox's key).
    """
    from .api._client import Client

    key = None if sandbox is True else resolve_api_key(api_key)
    if key is not None:
        return Client(key, **client_kwargs)
    if sandbox is False:
        raise ConfigError(
            "connect(sandbox=False) needs an API key: pass api_key=..., set "
            "CHARTMOGUL_API_KEY, or put CHARTMOGUL_API_KEY=... in ./.env."
        )
    asked = sandbox is True
    _refuse_base_url(client_kwargs.pop("base_url", None), asked=asked)
    box = start_sandbox(asked) if start_sandbox is not None else _announced(asked, seed)
    client = Client(box.api_key, base_url=box.url, **client_kwargs)
    client.sandbox_reason = ASKED_REASON if asked else NO_KEY_REASON
    return client


def _refuse_base_url(base_url: str | None, *, asked: bool) -> None:
    """A base URL only makes sense with a key: the sandbox's key must not go to that server."""
    if base_url is None:
        return
    if asked:
        raise ConfigError(
            f"connect(sandbox=True) uses the embedded sandbox's own URL: drop base_url "
            f"({base_url})."
        )
    raise ConfigError(
        f"A base URL is set ({base_url}) but no API key: set {API_KEY_ENV} (for "
        "`cmnb sandbox`, the key it printed), or drop the base URL to use the "
        "embedded sandbox."
    )


def _announced(asked: bool, seed: int | None) -> Sandbox:
    """The process-wide sandbox, with its notice on stderr the first time only (and never in
    a notebook kernel, where the client's display says it)."""
    global _noticed
    box = embedded_sandbox(seed=seed)
    if _in_notebook_kernel():
        return box
    with _lock:
        if not _noticed:
            _noticed = True
            print(ASKED_SANDBOX_NOTICE if asked else SANDBOX_NOTICE, file=sys.stderr, flush=True)
    return box


def _in_notebook_kernel() -> bool:
    """True in a Jupyter kernel (Colab's too), found without importing IPython: a kernel has
    already loaded it, and its shell is a ``ZMQInteractiveShell`` (a terminal IPython's is not).
    """
    ipython: Any = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
