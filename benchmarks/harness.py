"""What the benchmarks share: a sandbox to measure against, medians, and the printed ratio lines.

A benchmark runs its contenders against the same sandbox, either in this process (``inproc``:
one interpreter serves and calls, as in a notebook using the embedded sandbox) or in a child
process (``subproc``: the server is somewhere else, as in real life, so ``time.process_time``
in this process is the client's own CPU), or in a child process serving HTTPS (``tls``: like
``subproc``, over TLS with a self-signed certificate made by the ``openssl`` CLI, as the real
API is HTTPS-only). Rate limiting is off on both sides so no contender waits on purpose; the
benchmarks measure overhead, not the 40 requests/s limit.

Every goal is printed as one line that :data:`RATIO_LINE` parses::

    ratio create.inproc.sdk_over_cmnb 2.21x (goal >= 2.00x: met)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MODES = ("inproc", "subproc")  # plain HTTP; ALL_MODES adds HTTPS
ALL_MODES = (*MODES, "tls")
BENCH_KEY = "bench_key_not_a_secret"
RATIO_LINE = re.compile(
    r"^ratio (?P<name>\S+) (?P<value>\d+(?:\.\d+)?)x \(goal (?P<op>[<>]=) "
    r"(?P<goal>\d+(?:\.\d+)?)x: (?P<verdict>met|MISSED)\)$",
    re.MULTILINE,
)

_CHILD = """
import json, ssl, sys
from cmnb.sandbox import serve
args = json.loads(sys.argv[1])
sources = [{"name": f"Source {i:05d}"} for i in range(args["sources"])]
context = None
if args["cert"]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args["cert"], args["key_file"])
serve(port=0, api_key=args["key"], seed=args["seed"], sources=sources,
      rate_limit_per_s=None, max_connections=None, ssl_context=context)
"""


@dataclass(frozen=True)
class Server:
    """Where a benchmark sends its requests."""

    url: str
    api_key: str
    mode: str
    verify: str | bool = True  # the CA file that makes a client trust the server (tls mode)


def self_signed_cert(directory: str | os.PathLike[str]) -> tuple[str, str]:
    """Make a certificate for ``127.0.0.1`` (valid one day) and its key in ``directory``.

    Returns ``(cert_path, key_path)``; the certificate is also the CA file clients trust.
    Raises ``RuntimeError`` when the ``openssl`` command is missing or fails.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is not installed: it makes the TLS certificate")
    cert, key = str(Path(directory, "cert.pem")), str(Path(directory, "key.pem"))
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command += ["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]
    made = subprocess.run(
        command,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise RuntimeError(f"openssl could not make a certificate: {made.stderr.strip()}")
    return cert, key


@contextmanager
def sandbox(mode: str, *, sources: int = 0, seed: int | None = None) -> Iterator[Server]:
    """A sandbox without rate limits holding ``sources`` sources, in ``mode`` (see module doc).

    In ``tls`` mode ``REQUESTS_CA_BUNDLE`` names the certificate while the sandbox runs: the
    official SDK has no other way to be told which certificate to trust.
    """
    if mode == "inproc":
        from cmnb.sandbox import Sandbox

        initial = [{"name": f"Source {i:05d}"} for i in range(sources)]
        with Sandbox(
            BENCH_KEY, seed=seed, sources=initial, rate_limit_per_s=None, max_connections=None
        ) as sb:
            yield Server(sb.url, sb.api_key, mode)
        return
    if mode not in ALL_MODES:
        raise ValueError(f"mode must be one of {ALL_MODES}, not {mode!r}")
    if mode == "tls":
        with tempfile.TemporaryDirectory(prefix="cmnb-bench-tls-") as directory:
            cert, key = self_signed_cert(directory)
            previous = os.environ.get("REQUESTS_CA_BUNDLE")
            os.environ["REQUESTS_CA_BUNDLE"] = cert
            try:
                with _child(mode, sources, seed, cert, key) as server:
                    yield server
            finally:
                if previous is None:
                    os.environ.pop("REQUESTS_CA_BUNDLE", None)
                else:
                    os.environ["REQUESTS_CA_BUNDLE"] = previous
        return
    with _child(mode, sources, seed, None, None) as server:
        yield server


@contextmanager
def _child(
    mode: str, sources: int, seed: int | None, cert: str | None, key: str | None
) -> Iterator[Server]:
    """A sandbox in a child process (HTTPS when ``cert`` and ``key`` are given)."""
    args = json.dumps(
        {"key": BENCH_KEY, "sources": sources, "seed": seed, "cert": cert, "key_file": key}
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # "cmnb sandbox listening on http://127.0.0.1:PORT/v1"
        if "listening on" not in first:
            raise RuntimeError(f"the sandbox process did not start: {first!r}")
        yield Server(first.split()[-1], BENCH_KEY, mode, cert or True)
    finally:
        child.send_signal(signal.SIGINT)  # serve() stops cleanly on KeyboardInterrupt
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def median(values: Sequence[float]) -> float:
    """The median (the benchmarks run each contender several times, interleaved)."""
    return statistics.median(values)


def ratio_line(name: str, value: float, op: str, goal: float) -> str:
    """One parseable goal line; ``op`` is ``">="`` (at least) or ``"<="`` (at most)."""
    met = value >= goal if op == ">=" else value <= goal
    return f"ratio {name} {value:.2f}x (goal {op} {goal:.2f}x: {'met' if met else 'MISSED'})"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        first, *rest = row
        parts = [first.ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
