"""Fault soak: 300 creates against a sandbox where about 30% of requests go wrong on purpose.

Every kind of fault the client must survive is scripted with a seeded probability: 429 with
and without ``Retry-After``, 500/502/504 before and after the store commits, connection resets
before and after commit, and answers held back longer than the client's timeout (the create
then commits after the client gave up). Half the names go through a sequential loop of
``create``, half through ``create_many``. At the end every name must exist on the server
exactly once, the table built from what the client returned must equal the server's list, and
no exception may have escaped. A second soak sends 300 more through the form's bulk mode, as a
user would. Retry waits are shortened (``_sleep`` scaled down); the
``Retry-After`` waits are short for real.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import cmnb
from cmnb.api._models import DataSource
from cmnb.notebook._table import BASE_COLUMNS, DataSourceTable

pytestmark = pytest.mark.slow

N = 300
TIMEOUT_S = 0.3
SLOW_ANSWER_S = 0.5
P = 0.035  # per fault kind; 10 kinds → 1 - 0.965**10 ≈ 30% of requests hit


FAULTS: list[tuple[str, dict[str, object]]] = [
    ("429, no Retry-After", {"endpoint": "any", "status": 429}),
    ("429, Retry-After 0.05 s", {"endpoint": "any", "retry_after": 0.05}),
    ("500 before commit", {"endpoint": "any", "status": 500}),
    ("500 after commit", {"endpoint": "create", "status": 500, "after_commit": True}),
    ("502 before commit", {"endpoint": "any", "status": 502}),
    ("502 after commit", {"endpoint": "create", "status": 502, "after_commit": True}),
    ("504 after commit", {"endpoint": "create", "status": 504, "after_commit": True}),
    ("reset before commit", {"endpoint": "any", "reset": True}),
    ("reset after commit", {"endpoint": "create", "reset": True, "after_commit": True}),
    (f"answer after {SLOW_ANSWER_S} s (timeout {TIMEOUT_S} s)", {"delay_s": SLOW_ANSWER_S}),
]


@pytest.fixture
def faulty() -> Iterator[cmnb.Sandbox]:
    with cmnb.Sandbox(seed=8, rate_limit_per_s=None, max_connections=None) as sb:
        for seed, (_, options) in enumerate(FAULTS):
            sb.faults.add(**options, times=None, probability=P, seed=seed)  # type: ignore[arg-type]
        yield sb


def _server_frame(sb: cmnb.Sandbox) -> object:
    table = DataSourceTable(DataSource.from_dict(source) for source in sb.sources())
    return _canonical(table)


def _canonical(table: DataSourceTable) -> object:
    frame = table.to_frame()[list(BASE_COLUMNS)]
    return frame.sort_values("uuid").reset_index(drop=True)


def test_300_creates_survive_30_percent_faults(
    faulty: cmnb.Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"Soak {i:03d} — ü ✓" for i in range(N)]
    looped, bulk = names[: N // 2], names[N // 2 :]
    started = time.monotonic()
    with faulty.client(
        timeout=TIMEOUT_S,
        max_attempts=10,
        deadline_s=30,
        rate_limit_per_s=None,
        _sleep=lambda s: time.sleep(s / 20),  # backoff in 1/20 of the time; same schedule
    ) as client:
        created = [client.data_sources.create(name) for name in looped]
        result = client.data_sources.create_many(bulk, concurrency=8)
        listed = DataSourceTable.from_api(client)  # the listing itself runs through the faults
    elapsed = time.monotonic() - started

    assert result.failed == [] and result.skipped == []
    created += result.sources
    assert [source.name for source in created] == names

    on_server = Counter(source["name"] for source in faulty.sources())
    assert on_server == Counter(names)  # every name exactly once, nothing else

    ours = DataSourceTable(created)
    assert len(ours) == N
    server = _server_frame(faulty)
    assert _canonical(ours).equals(server)
    assert _canonical(listed).equals(server)

    survived = {label: fault.fired for (label, _), fault in zip(FAULTS, faulty.faults, strict=True)}
    requests_seen = len(faulty.requests)
    with capsys.disabled():
        print(f"\nsoak: {N} names, {requests_seen} requests in {elapsed:.1f} s; faults survived:")
        for label, count in survived.items():
            print(f"  {count:4d}  {label}")
        print(f"  {sum(survived.values()):4d}  in total")
    # The script really bit: every kind fired, about 30% of all requests in total.
    assert all(count > 0 for count in survived.values()), survived
    assert 0.2 < sum(survived.values()) / requests_seen < 0.4


def test_300_creates_through_the_form_bulk_mode_survive_30_percent_faults(
    faulty: cmnb.Sandbox, strict_callbacks: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same soak as a user would run it: paste 300 names, press Create all, until done."""
    from cmnb.notebook._form import DataSourceForm

    names = [f"Form soak {i:03d} — ✓" for i in range(N)]
    with faulty.client(
        timeout=TIMEOUT_S,
        max_attempts=10,
        deadline_s=30,
        rate_limit_per_s=None,
        _sleep=lambda s: time.sleep(s / 20),
    ) as client:
        form = DataSourceForm(client)
        form.mode_toggle.value = "bulk"
        form.reuse_checkbox.value = True  # a second press must adopt, never duplicate
        form.bulk.names_input.value = "\n".join(names)
        presses = 0
        while form.bulk.names_input.value.strip() and presses < 3:
            form.bulk.create_all_button.click()  # strict_callbacks: anything raised fails here
            presses += 1
        listed = DataSourceTable.from_api(client)

    assert form.bulk.names_input.value.strip() == "", form.status.value  # every line done
    assert "✔" in form.status.value
    on_server = Counter(source["name"] for source in faulty.sources())
    assert on_server == Counter(names)  # every name exactly once
    server = _server_frame(faulty)
    assert _canonical(form.table).equals(server)  # the table under the form is the server's
    assert _canonical(listed).equals(server)
    fired = sum(fault.fired for fault in faulty.faults)
    with capsys.disabled():
        print(f"\nform soak: {N} names in {presses} press(es), {fired} faults survived")
    assert 0.2 < fired / len(faulty.requests) < 0.4  # the faults really bit


# --- the default budget: no outcome left in doubt ------------------------------------------------

POST_FAULTS = FAULTS  # the ten kinds above, each sent to the create endpoint only
GET_FAULTS: list[tuple[str, dict[str, object]]] = [
    ("429", {"status": 429}),
    ("500", {"status": 500}),
    ("502", {"status": 502}),
    ("reset", {"reset": True}),
    (f"answer after {SLOW_ANSWER_S} s", {"delay_s": SLOW_ANSWER_S}),
]
P_POST = 0.035  # 10 kinds: 1 - 0.965**10 ≈ 30% of creates
P_GET = 0.021  # 5 kinds: 1 - 0.979**5 ≈ 10% of lists


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_attempts_settle_every_lost_answer_exactly(
    seed: int, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """30% of POSTs and 10% of GETs go wrong; ``max_attempts`` stays at its default (4).

    Some creates end with every attempt unanswered: the run's one lookup at the end settles
    them. The record must then be the server's list exactly: every name it calls created or
    existing is there with that uuid, every name it calls failed is not, nothing is unknown.
    """
    names = [f"Settle {seed}-{i:03d}" for i in range(N)]
    with cmnb.Sandbox(canary, rate_limit_per_s=None, max_connections=None) as sb:
        for n, (_, options) in enumerate(POST_FAULTS):
            fault: dict[str, Any] = {**options, "endpoint": "create"}
            sb.faults.add(**fault, times=None, probability=P_POST, seed=seed * 100 + n)
        for n, (_, options) in enumerate(GET_FAULTS):
            fault = {**options, "endpoint": "list"}
            sb.faults.add(**fault, times=None, probability=P_GET, seed=seed * 100 + 50 + n)
        started = time.monotonic()
        with sb.client(
            timeout=TIMEOUT_S, rate_limit_per_s=None, _sleep=lambda s: time.sleep(s / 20)
        ) as client:
            assert client._transport.max_attempts == 4  # the default
            result = client.data_sources.create_many(names, concurrency=8)
        elapsed = time.monotonic() - started
        on_server = {source["name"]: source["uuid"] for source in sb.sources()}
        held = Counter(source["name"] for source in sb.sources())
        posts = [r for r in sb.requests if r.method == "POST"]
        post_faults = sum(1 for r in posts if r.fault)

    assert max(held.values()) == 1  # no duplicates
    ours = {o.name: o.source.uuid for o in result if o.ok and o.source is not None}
    assert ours == on_server  # the record is the server's list, exactly
    assert not {o.name for o in result.failed} & set(on_server)  # "failed" = not in the account
    assert result.unknown == [] and result.skipped == []
    assert len(result.created) >= 0.97 * N
    lost = [o for o in result.created if o.note]
    with capsys.disabled():
        print(
            f"\nseed {seed}: {len(result.created)} created ({len(lost)} after a lost answer), "
            f"{len(result.failed)} failed, {post_faults}/{len(posts)} POSTs faulted, "
            f"{elapsed:.1f} s"
        )
    assert 0.2 < post_faults / len(posts) < 0.4  # the faults really bit
