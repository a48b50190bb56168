"""The benchmark scripts keep working: each runs at a tiny size and prints parseable ratios.

These are smoke runs, not timings: nothing here asserts a speed (the figures at this size are
noise). They check that every contender ran, produced the same results as the others, and
that every goal line is printed in the format the README and ``make bench`` readers rely on.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

# benchmarks/ is not an installed package; the test run's cwd is a temporary directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import create, importtime, listing, plan, run
from benchmarks.harness import RATIO_LINE, ratio_line, table


def ratios(text: str) -> dict[str, float]:
    return {m["name"]: float(m["value"]) for m in RATIO_LINE.finditer(text)}


def test_ratio_lines_parse_back_and_judge_the_goal() -> None:
    assert ratio_line("a.b", 2.345, ">=", 2) == "ratio a.b 2.35x (goal >= 2.00x: met)"
    assert ratio_line("a.b", 1.2, "<=", 1.15).endswith("MISSED)")
    text = "noise\n" + ratio_line("x.y", 0.5, "<=", 1.3) + "\nmore noise"
    assert ratios(text) == {"x.y": 0.5}
    assert table(["what", "ms"], [["a", 1.5], ["bb", 10.25]]).splitlines() == [
        "what      ms",
        "a      1.500",
        "bb    10.250",
    ]


def test_create_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert create.main(["--n", "5", "--rounds", "1", "--modes", "inproc,subproc"]) == 0
    out = capsys.readouterr().out
    found = ratios(out)
    assert set(found) == {
        f"create.{mode}.{which}"
        for mode in ("inproc", "subproc")
        for which in ("sdk_over_cmnb", "cmnb_over_raw")
    }
    assert all(value > 0 for value in found.values())
    assert "rate_limit_per_s=None" in out  # the output says pacing was off


@pytest.mark.skipif(
    shutil.which("openssl") is None,
    reason="the openssl command is not installed: the tls mode needs it for its certificate",
)
def test_create_benchmark_tls_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    # All three contenders trust the sandbox's self-signed certificate (the SDK only through
    # REQUESTS_CA_BUNDLE, which must be put back afterwards) and create everything over HTTPS.
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    assert create.main(["--n", "3", "--rounds", "1", "--modes", "tls"]) == 0
    assert os.environ.get("REQUESTS_CA_BUNDLE") == before
    out = capsys.readouterr().out
    assert set(ratios(out)) == {"create.tls.sdk_over_cmnb", "create.tls.cmnb_over_raw"}
    assert "[tls] HTTPS" in out


def test_create_benchmark_checks_every_contender_created_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(create.CONTENDERS, "sdk", lambda server, names: None)
    with pytest.raises(RuntimeError, match="sdk left 0 sources instead of 3"):
        create.measure("inproc", 3, 1)


def test_listing_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert listing.main(["--n", "30", "--rounds", "1", "--modes", "inproc"]) == 0
    out = capsys.readouterr().out
    assert set(ratios(out)) == {"listing.inproc.sdk_over_cmnb", "listing.inproc.cmnb_over_raw"}
    assert "floor" in out  # the sandbox's own share is shown


def test_listing_benchmark_refuses_contenders_that_disagree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = listing.Contenders.raw
    monkeypatch.setattr(listing.Contenders, "raw", lambda self: real(self).iloc[::-1].head(29))
    with pytest.raises(RuntimeError, match="raw listed 29 sources instead of 30"):
        listing.measure("inproc", 30, 1)


def test_plan_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--n", "40", "--rounds", "1", "--modes", "inproc"]) == 0
    out = capsys.readouterr().out
    assert set(ratios(out)) == {"plan.inproc.plan_over_list_frame"}
    assert "list+frame" in out and "plan+frame" in out  # the figure it is measured against


def test_plan_benchmark_refuses_a_wrong_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        plan,
        "_contenders",
        lambda client, names: {
            "plan": lambda: client.data_sources.plan(names[:-1], prune=True),
        },
    )
    with pytest.raises(RuntimeError, match="the plan counts"):
        plan.measure("inproc", 40, 1)


def test_importtime_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert importtime.main(["--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert set(ratios(out)) == {"import.chartmogul_over_cmnb"}
    assert "import cmnb" in out and "import chartmogul" in out


def test_run_all_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--quick", "--only", "importtime,listing"]) == 0
    out = capsys.readouterr().out
    assert "=== importtime ===" in out and "=== listing ===" in out
    assert len(ratios(out)) == 5


def test_run_reports_a_benchmark_that_breaks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(argv: list[str]) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(importtime, "main", broken)
    assert run.main(["--quick", "--only", "importtime"]) == 1
    assert "importtime failed: RuntimeError: boom" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_tls_mode_really_serves_https_with_its_own_certificate() -> None:
    import certifi
    import requests

    from benchmarks.harness import sandbox

    with sandbox("tls") as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert isinstance(server.verify, str) and os.path.exists(server.verify)
        ping = requests.get(f"{server.url}/ping", auth=(server.api_key, ""), verify=server.verify)
        assert ping.json() == {"data": "pong!"}
        with pytest.raises(requests.exceptions.SSLError):  # not a publicly trusted certificate
            requests.get(f"{server.url}/ping", verify=certifi.where(), timeout=5)
    assert not os.path.exists(server.verify)  # the temporary certificate is gone
