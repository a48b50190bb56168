"""List every source and build a DataFrame: cmnb vs the official SDK vs raw ``requests`` + pandas.

::

    python -m benchmarks.listing              # 10,000 sources, 5 rounds, both modes
    python -m benchmarks.listing --n 200 --rounds 1 --modes inproc   # a smoke run

Contenders, each ending with a DataFrame of uuid, name, system, created_at (UTC), status:

- cmnb: ``DataSourceTable.from_api(client).to_frame()``;
- sdk: ``chartmogul.DataSource.all(config).get()`` then ``pd.DataFrame`` of the objects;
- raw: ``session.get(...)``, ``pd.DataFrame(json)``, one vectorised ``pd.to_datetime``;
- floor (not a contender): the same GET, bytes only: what the server and the socket cost.
  When it is close to raw, the sandbox is the bottleneck and ratios shrink toward 1.

Goals: cmnb at least 3x faster than the SDK, and at most 1.3x the raw baseline's time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import requests

from benchmarks.harness import MODES, Server, median, ratio_line, sandbox, table

SDK_GOAL = 3.0
RAW_GOAL = 1.3
COLUMNS = ["uuid", "name", "system", "created_at", "status"]


class Contenders:
    """Each contender with its connection made once, as a notebook would keep its client."""

    def __init__(self, server: Server) -> None:
        import chartmogul

        import cmnb

        self.server = server
        self.client = cmnb.Client(server.api_key, base_url=server.url, rate_limit_per_s=None)
        self.session = requests.Session()
        self.session.auth = (server.api_key, "")
        self.config = chartmogul.Config(server.api_key)
        self.config.uri = server.url

    def cmnb(self) -> pd.DataFrame:
        from cmnb.notebook._table import DataSourceTable

        return DataSourceTable.from_api(self.client).to_frame()

    def sdk(self) -> pd.DataFrame:
        import chartmogul

        listed = chartmogul.DataSource.all(self.config).get()
        return pd.DataFrame([vars(source) for source in listed.data_sources])

    def raw(self) -> pd.DataFrame:
        response = self.session.get(self.server.url + "/data_sources", timeout=(5, 30))
        response.raise_for_status()
        frame = pd.DataFrame(response.json()["data_sources"])
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame

    def floor(self) -> bytes:
        response = self.session.get(self.server.url + "/data_sources", timeout=(5, 30))
        response.raise_for_status()
        return response.content

    def close(self) -> None:
        self.client.close()
        self.session.close()


def _same(frames: dict[str, pd.DataFrame], n: int) -> None:
    """Every contender got the same n rows (by uuid), names and instants."""
    keyed = {}
    for label, frame in frames.items():
        if len(frame) != n:
            raise RuntimeError(f"{label} listed {len(frame)} sources instead of {n}")
        part = frame[COLUMNS].sort_values("uuid").reset_index(drop=True)
        keyed[label] = (
            list(part["uuid"]),
            list(part["name"]),
            [t.value // 1000 for t in part["created_at"]],  # microseconds, any unit
        )
    first = next(iter(keyed.values()))
    for label, values in keyed.items():
        if values != first:
            raise RuntimeError(f"{label} does not agree with the other contenders")


def measure(mode: str, n: int, rounds: int) -> dict[str, float]:
    """Median ms per list + frame for each contender (and the floor) in ``mode``."""
    times: dict[str, list[float]] = {"cmnb": [], "sdk": [], "raw": [], "floor": []}
    with sandbox(mode, sources=n, seed=1) as server:
        contenders = Contenders(server)
        try:
            _same({label: getattr(contenders, label)() for label in ("cmnb", "sdk", "raw")}, n)
            for _ in range(rounds):
                for label, samples in times.items():
                    call: Callable[[], Any] = getattr(contenders, label)
                    started = time.perf_counter()
                    call()
                    samples.append((time.perf_counter() - started) * 1000)
        finally:
            contenders.close()
    return {label: median(samples) for label, samples in times.items()}


def report(results: dict[str, dict[str, float]], n: int, rounds: int) -> str:
    """The printed tables and ratio lines (one block per mode)."""
    lines = [
        f"listing benchmark: list {n} sources + build a DataFrame, median of {rounds} round(s) "
        "after a warm-up round that also checks all contenders agree"
    ]
    for mode, figures in results.items():
        where = "sandbox in this process" if mode == "inproc" else "sandbox in a child process"
        lines += ["", f"[{mode}] {where}"]
        rows = [[label, ms, ms / figures["cmnb"]] for label, ms in figures.items()]
        lines.append(table(["contender", "ms", "x cmnb"], rows))
        share = figures["floor"] / figures["raw"]
        lines.append(f"server + transfer (floor) = {share:.0%} of the raw baseline's time")
        lines.append(
            ratio_line(
                f"listing.{mode}.sdk_over_cmnb", figures["sdk"] / figures["cmnb"], ">=", SDK_GOAL
            )
        )
        lines.append(
            ratio_line(
                f"listing.{mode}.cmnb_over_raw", figures["cmnb"] / figures["raw"], "<=", RAW_GOAL
            )
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print; the exit status is 0 even when a goal is missed (the lines say so)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.listing", description=__doc__)
    parser.add_argument("--n", type=int, default=10_000, help="sources on the server (10000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, median taken (5)")
    parser.add_argument("--modes", default=",".join(MODES), help="inproc,subproc")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    results = {mode: measure(mode, args.n, args.rounds) for mode in modes}
    print(report(results, args.n, args.rounds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
