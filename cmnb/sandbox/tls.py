"""HTTPS for the sandbox: the server-side context check, the handshake, plain HTTP refused.

The server calls :func:`wrap` and :func:`handshake` from the connection's own thread, never from
the accept loop, so one slow or broken client cannot hold up the others. A client that sends
plain HTTP to the HTTPS port gets a 400 that says so instead of a TLS alert it cannot read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading

__all__ = ["check_server_context", "handshake", "wrap"]

HANDSHAKE_TIMEOUT_S = 10.0
_TLS_RECORD_HANDSHAKE = 0x16  # the first byte a TLS client sends
_PLAIN_HTTP_BODY = json.dumps(
    {"code": 400, "message": "This sandbox speaks HTTPS: use an https:// URL", "param": None},
    separators=(",", ":"),
    ensure_ascii=False,
).encode("utf-8")


def check_server_context(context: object) -> None:
    """Accept ``None`` or a server-side :class:`ssl.SSLContext`.

    Raises ``TypeError`` for anything that is not an ``SSLContext`` and ``ValueError`` for a
    client-side one.
    """
    if context is None:
        return
    if not isinstance(context, ssl.SSLContext):
        raise TypeError(f"ssl_context must be an ssl.SSLContext, not {type(context).__name__}")
    if context.protocol == ssl.PROTOCOL_TLS_CLIENT:
        raise ValueError(
            "ssl_context is a client-side context; the sandbox needs a server-side one: "
            "ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER) with load_cert_chain(cert, key)"
        )


def wrap(
    raw: socket.socket,
    context: ssl.SSLContext,
    lock: threading.Lock,
    open_sockets: set[socket.socket],
) -> ssl.SSLSocket | None:
    """The TLS socket over ``raw`` (not yet handshaken), or None (answered or dropped).

    A client whose first byte is not a TLS handshake gets the plain-HTTP 400. ``open_sockets``
    is the server's set of connections, guarded by ``lock``: the TLS socket takes over the
    descriptor of ``raw``, so it replaces ``raw`` there in the same step.
    """
    raw.settimeout(HANDSHAKE_TIMEOUT_S)  # a client that never speaks frees its thread
    try:
        first = raw.recv(1, socket.MSG_PEEK)
        if first and first[0] != _TLS_RECORD_HANDSHAKE:
            _refuse_plain_http(raw)
            return None
        with lock:  # close_all must see the socket that owns the descriptor
            tls = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            open_sockets.discard(raw)
            open_sockets.add(tls)
    except OSError:
        return None
    return tls


def handshake(tls: ssl.SSLSocket) -> bool:
    """Run the TLS handshake on a socket from :func:`wrap`; False (logged) when it fails."""
    try:
        tls.do_handshake()
    except OSError:  # ssl.SSLError included: a client that distrusts the certificate
        logging.getLogger("cmnb.sandbox").debug("TLS handshake failed", exc_info=True)
        return False
    tls.settimeout(None)  # the handler sets its own idle timeout
    return True


def _refuse_plain_http(raw: socket.socket) -> None:
    """Answer a plain-HTTP request sent to the HTTPS port with a 400 that says so, and close."""
    with contextlib.suppress(OSError):
        raw.settimeout(0.2)
        raw.recv(65536)  # read the request, or closing with unread data resets the answer
    with contextlib.suppress(OSError):
        raw.sendall(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n"
            + f"Content-Length: {len(_PLAIN_HTTP_BODY)}\r\nConnection: close\r\n\r\n".encode()
            + _PLAIN_HTTP_BODY
        )
