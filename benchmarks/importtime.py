"""Import time: ``import cmnb`` vs ``import chartmogul``, each in fresh interpreters.

::

    python -m benchmarks.importtime           # 9 runs per statement, median
    python -m benchmarks.importtime --runs 3  # a smoke run

Each statement runs in a new ``python -c`` process (no warm module cache but the OS file
cache); the bare interpreter's start-up is measured the same way and subtracted. Also shown:
``from cmnb import Client``, which loads the client layer (requests) a script actually uses.

Goal: ``import cmnb`` is not slower than ``import chartmogul``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks.harness import median, ratio_line, table

STATEMENTS = {
    "python (start-up only)": "pass",
    "import cmnb": "import cmnb",
    "from cmnb import Client": "from cmnb import Client",
    "import chartmogul": "import chartmogul",
}


def _once(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return (time.perf_counter() - started) * 1000


def measure(runs: int) -> dict[str, float]:
    """Median ms per fresh interpreter for each statement (taking turns, after a warm-up)."""
    samples: dict[str, list[float]] = {label: [] for label in STATEMENTS}
    for statement in STATEMENTS.values():
        _once(statement)  # warm the OS file cache for every contender alike
    for _ in range(runs):
        for label, statement in STATEMENTS.items():
            samples[label].append(_once(statement))
    return {label: median(values) for label, values in samples.items()}


def report(figures: dict[str, float], runs: int) -> str:
    """The printed table and the ratio line."""
    base = figures["python (start-up only)"]
    rows = [[label, ms, max(0.0, ms - base)] for label, ms in figures.items()]
    cmnb_ms = max(figures["import cmnb"] - base, 0.1)
    sdk_ms = max(figures["import chartmogul"] - base, 0.1)
    return "\n".join(
        [
            f"import benchmark: fresh interpreter per run, median of {runs} runs",
            table(["statement", "ms total", "ms import"], rows),
            ratio_line("import.chartmogul_over_cmnb", sdk_ms / cmnb_ms, ">=", 1.0),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print; the exit status is 0 even when the goal is missed (the line says so)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.importtime", description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="runs per statement (9)")
    args = parser.parse_args(argv)
    print(report(measure(args.runs), args.runs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
