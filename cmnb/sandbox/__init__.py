"""The embedded sandbox: a faithful local emulator of ChartMogul's Data Sources API.

::

    with cmnb.Sandbox(seed=1) as sb:
        client = sb.client()                      # a cmnb.Client bound to sb.url / sb.api_key
        sb.faults.add("create", status=500, after_commit=True)

Modules: ``store`` (state and the server's validation rules), ``server`` (HTTP/1.1 on the
loopback, auth, routing), ``tls`` (HTTPS), ``limits`` (429 and 503), ``log`` (the redacted
request log), ``faults`` (scripted failures), ``sandbox`` (:class:`Sandbox` and :func:`serve`).
Standard library only; importing this package never imports the cmnb client.
"""

from __future__ import annotations

from .faults import Fault, Faults, parse_fault
from .log import LoggedRequest
from .sandbox import Sandbox, serve

__all__ = ["Fault", "Faults", "LoggedRequest", "Sandbox", "parse_fault", "serve"]
