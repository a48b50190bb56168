"""`Sandbox`: the local ChartMogul Data Sources API, and `serve`, its standalone runner."""

from __future__ import annotations

import os
import random
import secrets
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from .faults import Fault, Faults
from .limits import ConnectionGate, RateLimiter
from .log import LoggedRequest, RequestLog
from .server import App, SandboxHTTPServer
from .store import Store
from .tls import check_server_context

if TYPE_CHECKING:
    from ..api._client import Client

__all__ = ["Sandbox", "serve"]


def _new_key(seed: int | None) -> str:
    if seed is None:
        return "sbx_" + secrets.token_hex(16)
    return "sbx_" + f"{random.Random(f'cmnb-sandbox-key:{seed}').getrandbits(128):032x}"


class Sandbox:
    """A faithful local emulator of the ChartMogul Data Sources API on ``127.0.0.1``.

    ``api_key``: the key clients must send (generated when omitted; ``sbx_`` + 32 hex digits).
    ``seed``: deterministic uuids, timestamps and generated key. ``path``: persist the state to
    this JSON file (loaded when it exists). ``rate_limit_per_s`` (429) and ``max_connections``
    (503) are ChartMogul's limits; ``None`` turns one off. ``latency_s`` delays every request.
    ``sources``: initial sources, e.g. ``[{"name": "Stripe", "system": "Stripe"}]`` (a
    ``"created_at"`` back-dates one). Answers carry a ``Date`` header from the clock that stamps
    ``created_at`` (the fixed clock with ``seed``).
    ``retry_after``: send ``Retry-After`` with the rate limiter's 429s. ``ssl_context``: a
    server-side context with a certificate loaded (``ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)``
    + ``load_cert_chain``) makes it serve HTTPS; :attr:`url` then starts with ``https://``.

    Use as a context manager (``with Sandbox() as sb: client = sb.client()``) or call
    :meth:`start` and :meth:`stop`. Raises ``ValueError`` for a state file that is not one
    and ``OSError`` when the port cannot be bound, ``TypeError``/``ValueError`` for an
    ``ssl_context`` that is not a server-side :class:`ssl.SSLContext`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        path: str | os.PathLike[str] | None = None,
        rate_limit_per_s: float | None = 40,
        max_connections: int | None = 20,
        latency_s: float = 0.0,
        sources: Iterable[Mapping[str, Any]] | None = None,
        retry_after: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        _clock: Callable[[], float] | None = None,
    ) -> None:
        check_server_context(ssl_context)
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ValueError("api_key must be a non-empty str (or None to generate one)")
        self._api_key = api_key or _new_key(seed)
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self.faults = Faults()
        self._app = App(
            store=Store(seed=seed, path=path, sources=sources),
            faults=self.faults,
            api_key=self._api_key,
            limiter=RateLimiter(rate_limit_per_s, _clock or time.monotonic),
            gate=ConnectionGate(max_connections),
            log=RequestLog(self._api_key),
            latency_s=latency_s,
            retry_after=retry_after,
        )
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind and serve in a background thread (no-op when running). Returns ``self``."""
        with self._lifecycle:
            if self._server is not None:
                return self
            self._app.stopping.clear()
            server = SandboxHTTPServer((self._host, self._port), self._app, self._ssl_context)
            self._port = server.server_address[1]  # a restart keeps the same URL
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                daemon=True,
                name=f"cmnb-sandbox-{self._port}",
            )
            thread.start()
            self._server, self._thread = server, thread
            return self

    def stop(self) -> None:
        """Stop serving and close every connection (no-op when stopped). State is kept."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None:
                return
            self._app.stopping.set()  # wakes requests sleeping in latency or a delay fault
            server.shutdown()
            server.close_all()
            server.server_close()
            if thread is not None:
                thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the server accepts requests."""
        return self._server is not None

    # -- what users see -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give any client, e.g. ``http://127.0.0.1:54321/v1`` (``https://``
        with an ``ssl_context``).

        Raises ``RuntimeError`` before :meth:`start`.
        """
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() or use `with Sandbox()`")
        host = self._host if ":" not in self._host else f"[{self._host}]"
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{host}:{self._port}/v1"

    @property
    def api_key(self) -> str:
        """The key clients must send as the Basic-auth username."""
        return self._api_key

    @property
    def requests(self) -> list[LoggedRequest]:
        """What the sandbox received (oldest first, the last 10,000), key redacted."""
        return self._app.log.snapshot()

    @property
    def in_flight(self) -> int:
        """Requests being served right now (what ``max_connections`` limits)."""
        return self._app.gate.in_flight

    def client(self, **client_kwargs: Any) -> Client:
        """A :class:`cmnb.Client` bound to this sandbox (its key and URL unless overridden)."""
        from ..api._client import Client  # lazily: the sandbox itself never needs the client

        client_kwargs.setdefault("api_key", self._api_key)
        client_kwargs.setdefault("base_url", self.url)
        return Client(**client_kwargs)

    def add_source(
        self,
        name: str,
        *,
        system: str = "Custom",
        status: str = "idle",
        created_at: str | datetime | None = None,
    ) -> dict[str, Any]:
        """Add a source directly (e.g. a ``"Stripe"`` one), with all its blocks, and return it.

        ``created_at`` (``"2020-01-01T00:00:00.000Z"`` or an aware ``datetime``) back-dates it;
        by default it is stamped with the sandbox's clock. Raises ``ValueError`` when the name
        is blank or taken.
        """
        source: dict[str, Any] = {"name": name, "system": system, "status": status}
        if created_at is not None:
            source["created_at"] = created_at
        return self._app.store.add_source(source)

    def sources(self) -> list[dict[str, Any]]:
        """Every source with all optional blocks, in creation order."""
        return self._app.store.sources()

    def reset(self) -> None:
        """Back to the start: initial sources, clock, no faults, empty log, fresh rate limits."""
        self._app.store.reset()
        self.faults.clear()
        self._app.log.clear()
        self._app.limiter.reset()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<Sandbox {where}, {len(self._app.store)} sources>"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int | None = None,
    path: str | os.PathLike[str] | None = None,
    api_key: str | None = None,
    faults: Iterable[str | Fault] = (),
    rate_limit_per_s: float | None = 40,
    max_connections: int | None = 20,
    latency_s: float = 0.0,
    sources: Iterable[Mapping[str, Any]] | None = None,
    retry_after: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    out: TextIO | None = None,
) -> None:
    """Run a sandbox in the foreground until Ctrl-C or SIGTERM (for ``python -m cmnb sandbox``).

    Prints the URL, the key to use (unless you passed your own) and a curl line to ``out``
    (stdout by default). ``ssl_context`` serves HTTPS (see :class:`Sandbox`). Raises
    ``ValueError`` for a bad fault spec, ``OSError`` if the port is taken.
    """
    out = out or sys.stdout
    sandbox = Sandbox(
        api_key,
        host=host,
        port=port,
        seed=seed,
        path=path,
        rate_limit_per_s=rate_limit_per_s,
        max_connections=max_connections,
        latency_s=latency_s,
        sources=sources,
        retry_after=retry_after,
        ssl_context=ssl_context,
    )
    for fault in faults:
        sandbox.faults.add(fault)
    sandbox.start()
    shown_key = sandbox.api_key if api_key is None else "$CHARTMOGUL_API_KEY"
    restore = _stop_on_sigterm()
    try:
        print(f"cmnb sandbox listening on {sandbox.url}", file=out)
        if api_key is None:
            print(f"API key: {sandbox.api_key}  (Basic auth username, empty password)", file=out)
        else:
            print("API key: the one you passed (not shown)", file=out)
        print(f"try:     curl -u {shown_key}: {sandbox.url}/ping", file=out)
        for fault in sandbox.faults:
            print(f"fault:   {fault.spec()}", file=out)
        print("Ctrl-C stops it.", file=out, flush=True)
        while True:
            time.sleep(0.5)
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        restore(during_stop=True)
        sandbox.stop()
        restore(during_stop=False)
        print("cmnb sandbox stopped.", file=out, flush=True)


class _Terminated(Exception):
    """SIGTERM arrived: stop the way Ctrl-C does."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not break into the stop
    raise _Terminated


def _stop_on_sigterm() -> Callable[..., None]:
    """Make SIGTERM (``kill``, a service manager, ``docker stop``) end :func:`serve` the way
    Ctrl-C does. Returns ``restore(during_stop=)``: ``True`` ignores SIGTERM while the sandbox
    closes (a second one must not break into that), ``False`` puts the old handler back.
    Off the main thread Python allows no signal handlers: nothing changes there."""
    if threading.current_thread() is not threading.main_thread():
        return lambda *, during_stop: None
    previous = signal.signal(signal.SIGTERM, _on_sigterm)

    def restore(*, during_stop: bool) -> None:
        if during_stop:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:  # None: the old handler was not set from Python; the default is the honest guess
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)

    return restore
