"""The sandbox's HTTP/1.1 server: ChartMogul's Data Sources API on the wire, stdlib only.

One thread per connection (``ThreadingHTTPServer``), keep-alive on and Nagle off. With an
``ssl_context`` the server speaks HTTPS (see :mod:`.tls`). Each request goes: connection gate
(503) → body → latency → Basic auth (401) → rate limit (429) → route → scripted fault (before
commit) → the store → scripted fault (after commit) → answer. Every request is recorded in the
:class:`RequestLog` with the key redacted (see :mod:`.log`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import logging
import math
import re
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import tls
from .faults import RATE_LIMIT_MESSAGE, Fault, Faults
from .limits import ConnectionGate, RateLimiter
from .log import RequestLog
from .store import FLAGS, Refusal, Store

__all__ = ["App", "SandboxHTTPServer"]

_MAX_BODY = 1 << 20
_UUID_PATH = re.compile(r"^/v1/data_sources/([^/]+)$")
_TRUE = ("true", "1")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _code_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": status, "message": message, "param": param}


UNAUTHORIZED = _code_body(401, "No valid API key provided")
RATE_LIMITED = _code_body(429, RATE_LIMIT_MESSAGE)
TOO_MANY_CONNECTIONS = _code_body(503, "Too many parallel connections (the limit is 20)")
PAGE_DEPRECATED = _code_body(400, 'Parameter "page" is deprecated', "page")
BAD_JSON = _code_body(400, "The request body is not valid JSON")


@dataclass
class App:
    """Everything a request handler needs: state, faults, limits and settings."""

    store: Store
    faults: Faults
    api_key: str
    limiter: RateLimiter
    gate: ConnectionGate
    log: RequestLog
    latency_s: float = 0.0
    retry_after: bool = False
    stopping: threading.Event = field(default_factory=threading.Event)


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP(S) server that knows its open connections, so ``close_all`` can end them.

    ``ssl_context`` (a server-side context holding the certificate) turns on HTTPS.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # 20+ clients connecting at once must not overflow the backlog

    def __init__(
        self, address: tuple[str, int], app: App, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the connection's thread (ThreadingMixIn), so the handshake happens here.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        wrapped = tls.wrap(request, self.ssl_context, self._open_lock, self._open)
        if wrapped is None:
            return
        try:
            if tls.handshake(wrapped):
                super().finish_request(wrapped, client_address)
        finally:
            self.shutdown_request(wrapped)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Shut every open connection, waking threads that wait on idle keep-alive sockets."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError, ValueError):
                # The plain-socket shutdown: SSLSocket.shutdown() would also drop the TLS state
                # under the feet of the thread still reading from it.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are normal here; never print tracebacks to stderr.
        logging.getLogger("cmnb.sandbox").debug("sandbox connection error", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "cmnb-sandbox"
    timeout = 120  # seconds an idle keep-alive connection may stay open
    server: SandboxHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header comes from the store's clock, the one created_at is stamped with: in
        # seeded mode a fixed clock, and clients judge "created during my call" against Date.
        if timestamp is None:
            timestamp = self.server.app.store.now().timestamp()
        return super().date_time_string(timestamp)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the sandbox keeps its own, redacted log."""

    def _dispatch(self) -> None:
        app = self.server.app
        self._received_at = time.monotonic()
        self._body = b""  # the handler lives as long as the keep-alive connection
        if not app.gate.enter():
            with contextlib.suppress(ValueError):
                self._body = self._read_body()
            self.close_connection = True
            self._answer(503, _json(TOO_MANY_CONNECTIONS), None)
            return
        try:
            self._serve(app)
        finally:
            app.gate.leave()

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch

    def _serve(self, app: App) -> None:
        try:
            self._body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._answer(400, _json(_code_body(400, "Bad request body")), None)
            return
        if app.latency_s > 0:
            app.stopping.wait(app.latency_s)
        key = self._authenticated_key(app.api_key)
        if key is None:
            self._answer(401, _json(UNAUTHORIZED), None)
            return
        wait_s = app.limiter.admit(key)
        if wait_s is not None:
            headers = {"Retry-After": str(max(1, math.ceil(wait_s)))} if app.retry_after else {}
            self._answer(429, _json(RATE_LIMITED), None, headers)
            return
        parts = urlsplit(self.path)
        self._query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        endpoint, source_uuid = _route(self.command, parts.path.rstrip("/") or "/")
        if endpoint in ("not_found", "not_allowed"):
            status = 404 if endpoint == "not_found" else 405
            self._answer(
                status,
                _json({"error": "Not found" if status == 404 else "Method not allowed"}),
                None,
            )
            return
        fault = app.faults.take(endpoint)
        if fault is not None and not fault.after_commit and self._strike(app, fault):
            return
        status, payload = self._perform(app.store, endpoint, source_uuid)
        if fault is not None and fault.after_commit and self._strike(app, fault):
            return
        self._answer(status, b"" if payload is None else _json(payload), fault)

    def _perform(self, store: Store, endpoint: str, source_uuid: str) -> tuple[int, Any]:
        try:
            if endpoint == "ping":
                return 200, {"data": "pong!"}
            if endpoint == "create":
                return 201, store.create(self._payload())
            flags = [flag for flag in FLAGS if self._query.get(flag, "").lower() in _TRUE]
            if endpoint == "list":
                if "page" in self._query:
                    return 400, PAGE_DEPRECATED
                found = store.query(
                    name=self._query.get("name"), system=self._query.get("system"), flags=flags
                )
                return 200, {"data_sources": found}
            if endpoint == "retrieve":
                return 200, store.retrieve(source_uuid, flags=flags)
            store.delete(source_uuid)
            return 204, None
        except Refusal as refusal:
            return refusal.status, refusal.body

    def _strike(self, app: App, fault: Fault) -> bool:
        """Apply ``fault``; True when it answered (or reset) instead of the normal answer."""
        if fault.delay_s > 0:
            app.stopping.wait(fault.delay_s)
        if fault.reset:
            self._reset(fault)
            return True
        if fault.status is None:
            return False
        status, body, content_type, headers = fault.response()
        self._answer(status, body, fault, headers, content_type=content_type)
        return True

    def _payload(self) -> Any:
        text = self._body.decode("utf-8", "replace")
        if "application/x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError:
            raise Refusal(400, BAD_JSON) from None

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537).strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _authenticated_key(self, api_key: str) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = (
                base64.b64decode(token.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        same_user = hmac.compare_digest(user.encode(), api_key.encode())
        if same_user and (
            password == "" or hmac.compare_digest(password.encode(), api_key.encode())
        ):
            return user
        return None

    def _answer(
        self,
        status: int,
        body: bytes,
        fault: Fault | None,
        headers: dict[str, str] | None = None,
        *,
        content_type: str | None = "application/json; charset=utf-8",
    ) -> None:
        self._record(status, fault)
        self.send_response(status)
        if status != 204:
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if status != 204 and body:
            self.wfile.write(body)

    def _reset(self, fault: Fault) -> None:
        self._record(None, fault)
        self.close_connection = True
        # SO_LINGER 0 turns close() into a TCP RST; the makefile'd reader holds the socket open
        # until it is closed too.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()

    def _record(self, status: int | None, fault: Fault | None) -> None:
        self.server.app.log.record(
            self.command,
            self.path,
            self.headers.items(),
            getattr(self, "_body", b""),
            status,
            fault.spec() if fault else None,
            getattr(self, "_received_at", 0.0),
        )


def _route(method: str, path: str) -> tuple[str, str]:
    """``(endpoint, uuid)`` for a method and path; endpoint ``not_found``/``not_allowed`` else."""
    if path == "/v1/ping":
        return ("ping", "") if method == "GET" else ("not_allowed", "")
    if path == "/v1/data_sources":
        verbs = {"GET": "list", "POST": "create"}
        return verbs.get(method, "not_allowed"), ""
    match = _UUID_PATH.match(path)
    if match:
        verbs = {"GET": "retrieve", "DELETE": "delete"}
        return verbs.get(method, "not_allowed"), match.group(1)
    return "not_found", ""
