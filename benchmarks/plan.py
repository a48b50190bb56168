"""Plan 10,000 desired names against an account holding 10,000 sources, next to listing them.

::

    python -m benchmarks.plan              # 10,000 names and sources, 5 rounds, both modes
    python -m benchmarks.plan --n 200 --rounds 1 --modes inproc   # a smoke run

Measured in the same run, interleaved, against the same sandbox:

- plan: ``client.data_sources.plan(names, prune=True)``, half the names held and half new, so
  the plan has n/2 keeps, n/2 creates and n/2 deletes: one list call plus the diff;
- list+frame: ``DataSourceTable.from_api(client).to_frame()``, the listing benchmark's cmnb
  figure (one list call plus a DataFrame);
- plan+frame (shown, no goal): the plan and its ``to_frame()``, what a notebook cell displays.

Goal: planning costs at most 1.3x the list+frame figure.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.harness import MODES, median, ratio_line, sandbox, table

GOAL = 1.3


def _contenders(client: Any, names: list[str]) -> dict[str, Callable[[], Any]]:
    from cmnb.notebook._table import DataSourceTable

    return {
        "plan": lambda: client.data_sources.plan(names, prune=True),
        "list+frame": lambda: DataSourceTable.from_api(client).to_frame(),
        "plan+frame": lambda: client.data_sources.plan(names, prune=True).to_frame(),
    }


def _check(plan: Any, n: int) -> None:
    """The plan is the one expected: every name once, half of each kind."""
    half = n // 2
    expected = {"create": n - half, "keep": half, "delete": n - half, "ignore": 0}
    if plan.counts != expected:
        raise RuntimeError(f"the plan counts {plan.counts}, expected {expected}")


def measure(mode: str, n: int, rounds: int) -> dict[str, float]:
    """Median ms of each contender in ``mode``; the plan is checked before timing."""
    import cmnb

    # The account holds "Source 00000".."Source {n-1}"; the desired names are the upper half
    # of those and as many new ones.
    names = [f"Source {i:05d}" for i in range(n // 2, n + n // 2)]
    times: dict[str, list[float]] = {}
    with sandbox(mode, sources=n, seed=1) as server:
        client = cmnb.Client(server.api_key, base_url=server.url, rate_limit_per_s=None)
        try:
            calls = _contenders(client, names)
            _check(calls["plan"](), n)
            for _ in range(rounds):
                for label, call in calls.items():
                    gc.collect()  # no contender pays for the garbage the one before left
                    started = time.perf_counter()
                    call()
                    times.setdefault(label, []).append((time.perf_counter() - started) * 1000)
        finally:
            client.close()
    return {label: median(samples) for label, samples in times.items()}


def report(results: dict[str, dict[str, float]], n: int, rounds: int) -> str:
    """The printed tables and ratio lines (one block per mode)."""
    lines = [
        f"plan benchmark: plan {n} desired names (prune) against {n} sources, next to listing "
        f"them into a DataFrame; median of {rounds} round(s) after a checked warm-up"
    ]
    for mode, figures in results.items():
        where = "sandbox in this process" if mode == "inproc" else "sandbox in a child process"
        lines += ["", f"[{mode}] {where}"]
        base = figures["list+frame"]
        rows = [[label, ms, ms / base] for label, ms in figures.items()]
        lines.append(table(["what", "ms", "x list+frame"], rows))
        lines.append(
            ratio_line(f"plan.{mode}.plan_over_list_frame", figures["plan"] / base, "<=", GOAL)
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print; the exit status is 0 even when the goal is missed (the line says so)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan", description=__doc__)
    parser.add_argument("--n", type=int, default=10_000, help="sources and desired names (10000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, median taken (5)")
    parser.add_argument("--modes", default=",".join(MODES), help="inproc,subproc")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    results = {mode: measure(mode, args.n, args.rounds) for mode in modes}
    print(report(results, args.n, args.rounds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
