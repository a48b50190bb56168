"""Sequential creates: cmnb vs the official ``chartmogul`` SDK vs a raw ``requests.Session`` loop.

::

    python -m benchmarks.create               # 500 creates per contender, 5 rounds, all modes
    python -m benchmarks.create --n 20 --rounds 1 --modes inproc   # a smoke run

Each round, each contender creates ``n`` new sources one after the other against the same
sandbox (its rate limit off, and cmnb's pacing off with ``rate_limit_per_s=None``, so nothing
waits on purpose: this measures per-request overhead). Contenders take turns within a round;
the printed figure is the median over rounds. Every contender must leave exactly ``n`` sources
per round on the server, or the run fails.

Modes (see :mod:`benchmarks.harness`): ``inproc`` and ``subproc`` over plain HTTP, and ``tls``:
the sandbox in a child process serving HTTPS with a self-signed certificate, the faithful
setting since the real API is HTTPS-only. There the SDK's new session per call costs a full TLS
handshake per create, while cmnb and the raw loop reuse one keep-alive connection. On loopback
a handshake costs CPU but no network round trips, so against the real API the gap is wider.

Goals: cmnb at least 2x faster than the SDK, and at most 1.15x the raw loop's time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Sequence

import requests

from benchmarks.harness import ALL_MODES, Server, median, ratio_line, sandbox, table

SDK_GOAL = 2.0
RAW_GOAL = 1.15
Contender = Callable[[Server, Sequence[str]], None]


def cmnb_loop(server: Server, names: Sequence[str]) -> None:
    """``client.data_sources.create(name)`` for each name, pacing off."""
    import cmnb

    with cmnb.Client(
        server.api_key, base_url=server.url, rate_limit_per_s=None, verify=server.verify
    ) as client:
        for name in names:
            client.data_sources.create(name)


def sdk_loop(server: Server, names: Sequence[str]) -> None:
    """``chartmogul.DataSource.create(config, data=...)`` for each name.

    The SDK has no base-URL setting, so ``Config.uri`` is set on the instance. It opens a new
    ``requests.Session`` (and connection) per call: that is how the SDK works, not our choice.
    It has no certificate setting either; in ``tls`` mode it trusts the sandbox's certificate
    through ``REQUESTS_CA_BUNDLE`` (set by :func:`benchmarks.harness.sandbox`).
    """
    import chartmogul

    config = chartmogul.Config(server.api_key)
    config.uri = server.url
    for name in names:
        chartmogul.DataSource.create(config, data={"name": name}).get()


def raw_loop(server: Server, names: Sequence[str]) -> None:
    """The floor: one keep-alive ``requests.Session``: ``post``, ``raise_for_status``, ``json``."""
    with requests.Session() as session:
        session.auth = (server.api_key, "")
        session.verify = server.verify
        url = server.url + "/data_sources"
        for name in names:
            response = session.post(url, json={"name": name}, timeout=(5, 30))
            response.raise_for_status()
            response.json()


CONTENDERS: dict[str, Contender] = {"cmnb": cmnb_loop, "sdk": sdk_loop, "raw": raw_loop}


def _count(server: Server, prefix: str) -> int:
    with requests.Session() as session:
        response = session.get(
            server.url + "/data_sources", auth=(server.api_key, ""), verify=server.verify
        )
        response.raise_for_status()
        return sum(1 for s in response.json()["data_sources"] if s["name"].startswith(prefix))


def measure(mode: str, n: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall ms, this process's CPU ms) per create for each contender in ``mode``."""
    wall: dict[str, list[float]] = {label: [] for label in CONTENDERS}
    cpu: dict[str, list[float]] = {label: [] for label in CONTENDERS}
    with sandbox(mode) as server:
        for round_number in range(rounds):
            for label, contender in CONTENDERS.items():
                prefix = f"{label} r{round_number} "
                names = [f"{prefix}{i:05d}" for i in range(n)]
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                contender(server, names)
                wall[label].append((time.perf_counter() - wall_start) * 1000 / n)
                cpu[label].append((time.process_time() - cpu_start) * 1000 / n)
                created = _count(server, prefix)
                if created != n:
                    raise RuntimeError(f"{label} left {created} sources instead of {n}")
    return {label: (median(wall[label]), median(cpu[label])) for label in CONTENDERS}


_WHERE = {
    "inproc": "plain HTTP, sandbox in this process (its CPU counts in every figure)",
    "subproc": "plain HTTP, sandbox in a child process (CPU column = the client's own work)",
    "tls": "HTTPS (like the real API), sandbox in a child process; the SDK's new session per "
    "call is a new TLS handshake per create",
}


def report(results: dict[str, dict[str, tuple[float, float]]], n: int, rounds: int) -> str:
    """The printed tables and ratio lines (one block per mode)."""
    lines = [
        f"create benchmark: {n} sequential creates per contender, median of {rounds} "
        "round(s); sandbox rate limit off, cmnb pacing off (rate_limit_per_s=None)"
    ]
    for mode, figures in results.items():
        where = _WHERE.get(mode, mode)
        lines += ["", f"[{mode}] {where}"]
        rows = [
            [label, wall, cpu, wall / figures["cmnb"][0]] for label, (wall, cpu) in figures.items()
        ]
        lines.append(table(["contender", "ms/create", "CPU ms/create", "x cmnb"], rows))
        cmnb_ms, sdk_ms, raw_ms = (figures[k][0] for k in ("cmnb", "sdk", "raw"))
        lines.append(ratio_line(f"create.{mode}.sdk_over_cmnb", sdk_ms / cmnb_ms, ">=", SDK_GOAL))
        lines.append(ratio_line(f"create.{mode}.cmnb_over_raw", cmnb_ms / raw_ms, "<=", RAW_GOAL))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print; the exit status is 0 even when a goal is missed (the lines say so)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.create", description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="creates per contender (500)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, median taken (5)")
    parser.add_argument("--modes", default="", help="inproc,subproc,tls (all three)")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not modes:
        modes = list(ALL_MODES)
        if shutil.which("openssl") is None:  # asked for by name, tls fails loudly instead
            modes.remove("tls")
            print("tls mode skipped: the openssl command (which makes its certificate) is missing")
    results = {mode: measure(mode, args.n, args.rounds) for mode in modes}
    print(report(results, args.n, args.rounds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
