"""Run every benchmark and print its tables and ratio lines (``make bench``).

::

    python -m benchmarks.run            # the figures the README quotes (about a minute)
    python -m benchmarks.run --quick    # tiny sizes: checks the scripts work, figures are noise
    python -m benchmarks.run --only create,listing

Benchmarks: ``create`` (sequential creates), ``listing`` (10,000 sources into a DataFrame),
``importtime`` (``import cmnb`` vs ``import chartmogul``), ``bulk`` (``create_many`` at the
rate limit) and ``plan`` (planning 10,000 names, timed next to listing 10,000 sources into a
DataFrame, in the same run). Each prints ratios measured within its own run, never against
stored numbers.
A missed goal is reported in its ``ratio`` line, not by the exit status; the exit status is 1
only when a benchmark failed to run or reported wrong results.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from collections.abc import Sequence

FULL: dict[str, list[str]] = {
    "create": [],
    "listing": [],
    "plan": [],
    "importtime": [],
    "bulk": [],
}
QUICK: dict[str, list[str]] = {
    "create": ["--n", "30", "--rounds", "1"],
    "listing": ["--n", "500", "--rounds", "1"],
    "plan": ["--n", "500", "--rounds", "1"],
    "importtime": ["--runs", "1"],
    "bulk": ["--n", "20"],
}


def run_one(name: str, args: Sequence[str]) -> int:
    """Run ``benchmarks.<name>``: its ``main(argv)`` when it has one, else as a subprocess."""
    module = importlib.import_module(f"benchmarks.{name}")
    main = getattr(module, "main", None)
    if callable(main):
        status = main(list(args))
        return int(status or 0)
    return subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *args]).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks in turn; 1 if any of them failed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated subset, e.g. create,listing")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    chosen = [n for n in args.only.split(",") if n] or list(plan)
    unknown = [n for n in chosen if n not in plan]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(plan)}")
    failed = []
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            status = run_one(name, plan[name])
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"{name} failed: {type(exc).__name__}: {exc}", flush=True)
            status = 1
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
