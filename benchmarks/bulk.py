"""Bulk creation at the rate limit: ``create_many`` against a sequential loop of the official SDK.

::

    python -m benchmarks.bulk            # 400 sources per contender (about 25 s in total)
    python -m benchmarks.bulk --n 20     # a smoke run

Each contender gets a fresh sandbox enforcing ChartMogul's limits (40 requests/s, 20 parallel
connections) with 30 ms of latency per request, and creates ``n`` sources. Printed per
contender: sources created, failures, duplicates, 429s seen by the sandbox (from its request
log), seconds, creates/s and that rate as a share of the 40 requests/s limit; then two goal
lines: the share of the limit (goal 90%) and create_many's rate over the SDK loop's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from cmnb.sandbox import Sandbox

RATE_LIMIT_PER_S = 40
MAX_CONNECTIONS = 20
LATENCY_S = 0.03


@dataclass(frozen=True)
class Figures:
    """What one contender achieved."""

    label: str
    created: int
    failed: int
    duplicates: int
    rate_limited: int
    seconds: float

    @property
    def creates_per_s(self) -> float:
        return self.created / self.seconds if self.seconds > 0 else 0.0

    @property
    def share_of_limit(self) -> float:
        return 100.0 * self.creates_per_s / RATE_LIMIT_PER_S


def _sandbox() -> Sandbox:
    return Sandbox(
        rate_limit_per_s=RATE_LIMIT_PER_S, max_connections=MAX_CONNECTIONS, latency_s=LATENCY_S
    )


def _duplicates(sb: Sandbox) -> int:
    """Sources beyond one per name (the sandbox refuses taken names, so this should stay 0)."""
    return sum(count - 1 for count in Counter(s["name"] for s in sb.sources()).values())


def _rate_limited(sb: Sandbox) -> int:
    return sum(1 for request in sb.requests if request.status == 429)


def run_create_many(names: Sequence[str], concurrency: int) -> Figures:
    """``client.data_sources.create_many(names)`` in ensure mode (one list call, then creates)."""
    with _sandbox() as sb, sb.client() as client:
        started = time.perf_counter()
        result = client.data_sources.create_many(names, concurrency=concurrency)
        seconds = time.perf_counter() - started
        on_server = {s["uuid"] for s in sb.sources()}
        lost = sum(1 for o in result.created if o.source is None or o.source.uuid not in on_server)
        return Figures(
            f"cmnb create_many (concurrency {concurrency})",
            created=len(result.created),
            failed=len(result.failed) + len(result.skipped) + lost,
            duplicates=_duplicates(sb),
            rate_limited=_rate_limited(sb),
            seconds=seconds,
        )


def run_sdk_loop(names: Sequence[str]) -> Figures:
    """The official SDK, one ``DataSource.create`` after the other.

    The SDK has no base-URL setting: ``Config.uri`` is overwritten on the instance. Its retry
    adapter is mounted for ``https://`` only, so against the http sandbox a 429 would count as
    a failure here; a sequential loop at 30 ms latency stays under 40/s, so none come.
    """
    import chartmogul  # type: ignore[import-untyped]

    with _sandbox() as sb:
        config = chartmogul.Config(sb.api_key)
        config.uri = sb.url
        created = failed = 0
        started = time.perf_counter()
        for name in names:
            try:
                chartmogul.DataSource.create(config, data={"name": name}).get()
            except Exception:
                failed += 1
            else:
                created += 1
        seconds = time.perf_counter() - started
        return Figures(
            "chartmogul SDK, sequential loop",
            created=created,
            failed=failed,
            duplicates=_duplicates(sb),
            rate_limited=_rate_limited(sb),
            seconds=seconds,
        )


def report(figures: Sequence[Figures], n: int) -> str:
    """The printed table, then the goal lines (share of the limit, ratio to the SDK loop)."""
    lines = [
        f"bulk benchmark: {n} creates per contender; sandbox enforcing {RATE_LIMIT_PER_S} "
        f"requests/s, {MAX_CONNECTIONS} connections, {LATENCY_S * 1000:g} ms latency",
        f"{'contender':<36}{'created':>8}{'failed':>8}{'dupes':>7}{'429s':>6}"
        f"{'seconds':>9}{'creates/s':>11}{'% of limit':>12}",
    ]
    for f in figures:
        lines.append(
            f"{f.label:<36}{f.created:>8}{f.failed:>8}{f.duplicates:>7}{f.rate_limited:>6}"
            f"{f.seconds:>9.2f}{f.creates_per_s:>11.1f}{f.share_of_limit:>11.1f}%"
        )
    ours = figures[0]
    lines.append(_goal("bulk.share_of_limit", ours.share_of_limit / 100, 0.90))
    if len(figures) >= 2 and figures[1].creates_per_s > 0:
        lines.append(
            _goal("bulk.create_many_over_sdk", ours.creates_per_s / figures[1].creates_per_s, 1.0)
        )
    return "\n".join(lines)


def _goal(name: str, value: float, at_least: float) -> str:
    # The line format every benchmark prints (see benchmarks/harness.py: RATIO_LINE).
    verdict = "met" if value >= at_least else "MISSED"
    return f"ratio {name} {value:.2f}x (goal >= {at_least:.2f}x: {verdict})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run both contenders and print the figures. Exit status 1 if the goal was missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk", description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="sources per contender (400)")
    parser.add_argument("--concurrency", type=int, default=8, help="create_many threads (8)")
    args = parser.parse_args(argv)
    names = [f"Bench source {i:04d}" for i in range(args.n)]
    figures = [run_create_many(names, args.concurrency), run_sdk_loop(names)]
    print(report(figures, args.n), flush=True)
    ours = figures[0]
    return 0 if ours.failed == 0 and ours.duplicates == 0 and ours.created == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
