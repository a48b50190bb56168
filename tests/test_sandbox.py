"""The sandbox on the wire, with raw `requests`: every endpoint, body shape, header, flag, auth
variant, the limits, determinism, persistence and the standalone runner."""

from __future__ import annotations

import base64
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

import cmnb
from cmnb.sandbox import Sandbox

UUID = re.compile(r"^ds_[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REQUIRED = {"errors": {"name": "A name is required for each data source."}}
TAKEN = {"errors": {"name": "Has already been taken."}}
NOT_FOUND = {"error": "Data source not found"}
UNAUTHORIZED = {"code": 401, "message": "No valid API key provided", "param": None}
RATE_LIMITED = {
    "code": 429,
    "message": "Your request rate has exceeded our rate limit.",
    "param": None,
}
FLAGS = {
    "with_processing_status": "processing_status",
    "with_auto_churn_subscription_setting": "auto_churn_subscription_setting",
    "with_invoice_handling_setting": "invoice_handling_setting",
}


@pytest.fixture
def sb(canary: str) -> Iterator[Sandbox]:
    with Sandbox(canary, seed=7, sources=[{"name": "Stripe payments", "system": "Stripe"}]) as box:
        yield box


@pytest.fixture
def http_(sb: Sandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = (sb.api_key, "")
        yield session


def create(session: requests.Session, sb: Sandbox, name: object) -> requests.Response:
    return session.post(f"{sb.url}/data_sources", json={"name": name})


# -- create ------------------------------------------------------------------------------


def test_create_answers_201_with_exactly_the_five_fields(
    sb: Sandbox, http_: requests.Session
) -> None:
    reply = create(http_, sb, "In-house billing")
    assert reply.status_code == 201
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert list(body) == ["uuid", "name", "system", "created_at", "status"]
    assert body["name"] == "In-house billing"
    assert (body["system"], body["status"]) == ("Custom", "idle")
    assert UUID.match(body["uuid"]) and STAMP.match(body["created_at"])


@pytest.mark.parametrize(
    ("payload", "status", "body"),
    [
        ({}, 400, {"code": 400, "message": 'Parameter "name" is missing', "param": "name"}),
        (
            {"title": "x"},
            400,
            {"code": 400, "message": 'Parameter "name" is missing', "param": "name"},
        ),
        ([], 400, {"code": 400, "message": 'Parameter "name" is missing', "param": "name"}),
        ({"name": None}, 422, REQUIRED),
        ({"name": ""}, 422, REQUIRED),
        ({"name": "  \t "}, 422, REQUIRED),
        ({"name": 42}, 422, REQUIRED),
        ({"name": ["a"]}, 422, REQUIRED),
    ],
)
def test_create_refusals_have_the_recorded_shapes(
    sb: Sandbox, http_: requests.Session, payload: object, status: int, body: object
) -> None:
    reply = http_.post(f"{sb.url}/data_sources", json=payload)
    assert (reply.status_code, reply.json()) == (status, body)
    assert len(sb.sources()) == 1  # only the seeded Stripe source


def test_a_taken_name_is_refused_and_names_are_case_sensitive(
    sb: Sandbox, http_: requests.Session
) -> None:
    assert create(http_, sb, "Billing").status_code == 201
    taken = create(http_, sb, "Billing")
    assert (taken.status_code, taken.json()) == (422, TAKEN)
    assert create(http_, sb, "Stripe payments").json() == TAKEN  # integration names count too
    assert create(http_, sb, "billing").status_code == 201


def test_create_ignores_extra_and_empty_fields(sb: Sandbox, http_: requests.Session) -> None:
    go_sdk = {"name": "Go", "uuid": "", "status": "", "created_at": "", "system": "Stripe"}
    reply = http_.post(f"{sb.url}/data_sources", json=go_sdk)
    assert reply.status_code == 201
    body = reply.json()
    assert (body["system"], body["status"]) == ("Custom", "idle")
    assert UUID.match(body["uuid"]) and STAMP.match(body["created_at"])


def test_create_refuses_a_body_that_is_not_json(sb: Sandbox, http_: requests.Session) -> None:
    reply = http_.post(
        f"{sb.url}/data_sources", data="{name", headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 400
    assert set(reply.json()) == {"code", "message", "param"}


def test_create_accepts_a_form_encoded_name_like_curl_d(
    sb: Sandbox, http_: requests.Session
) -> None:
    reply = http_.post(f"{sb.url}/data_sources", data={"name": "From curl"})
    assert (reply.status_code, reply.json()["name"]) == (201, "From curl")


# -- list ----------------------------------------------------------------------------------


def test_list_body_is_exactly_data_sources(sb: Sandbox, http_: requests.Session) -> None:
    made = create(http_, sb, "Mine").json()
    reply = http_.get(f"{sb.url}/data_sources")
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == ["data_sources"]
    assert [ds["name"] for ds in body["data_sources"]] == ["Stripe payments", "Mine"]
    assert body["data_sources"][1] == made


def test_list_filters_name_exactly_and_system_case_sensitively(
    sb: Sandbox, http_: requests.Session
) -> None:
    for name in ("Alpha", "Alpha 2", "alpha"):
        create(http_, sb, name)

    def names(**params: str) -> list[str]:
        reply = http_.get(f"{sb.url}/data_sources", params=params)
        return [ds["name"] for ds in reply.json()["data_sources"]]

    assert names(name="Alpha") == ["Alpha"]
    assert names(name="Alp") == []
    assert names(system="Stripe") == ["Stripe payments"]
    assert names(system="stripe") == []
    assert names(system="Custom", name="alpha") == ["alpha"]
    assert names(unknown="x") == ["Stripe payments", "Alpha", "Alpha 2", "alpha"]


def test_list_rejects_page_with_the_recorded_400(sb: Sandbox, http_: requests.Session) -> None:
    reply = http_.get(f"{sb.url}/data_sources", params={"page": "2"})
    assert reply.status_code == 400
    assert reply.json() == {
        "code": 400,
        "message": 'Parameter "page" is deprecated',
        "param": "page",
    }


@pytest.mark.parametrize(
    ("value", "present"),
    [("true", True), ("1", True), ("True", True), ("false", False), ("0", False), ("", False)],
)
@pytest.mark.parametrize("flag", list(FLAGS))
def test_each_flag_adds_its_block_only_when_truthy(
    sb: Sandbox, http_: requests.Session, flag: str, value: str, present: bool
) -> None:
    uuid = create(http_, sb, "Flagged").json()["uuid"]
    listed = http_.get(f"{sb.url}/data_sources", params={flag: value, "name": "Flagged"})
    retrieved = http_.get(f"{sb.url}/data_sources/{uuid}", params={flag: value})
    for body in (listed.json()["data_sources"][0], retrieved.json()):
        expected = {"uuid", "name", "system", "created_at", "status"}
        assert set(body) == (expected | {FLAGS[flag]} if present else expected)


def test_blocks_have_the_documented_shapes(sb: Sandbox, http_: requests.Session) -> None:
    uuid = create(http_, sb, "Blocks").json()["uuid"]
    body = http_.get(f"{sb.url}/data_sources/{uuid}", params=dict.fromkeys(FLAGS, "1")).json()
    assert set(body["processing_status"]) == {"processed", "pending", "failed"}
    assert set(body["auto_churn_subscription_setting"]) == {"enabled", "interval"}
    for side in ("manual", "automatic"):
        rules = body["invoice_handling_setting"][side]
        assert rules["create_subscription_when_invoice_is"] in ("open", "paid")
        assert isinstance(rules["prevent_subscription_for_invoice_refunded"], bool)


# -- retrieve, delete, ping, routing -----------------------------------------------------


def test_retrieve_and_unknown_uuid(sb: Sandbox, http_: requests.Session) -> None:
    made = create(http_, sb, "Find me").json()
    assert http_.get(f"{sb.url}/data_sources/{made['uuid']}").json() == made
    unknown = "ds_00000000-0000-1000-8000-000000000000"
    for reply in (
        http_.get(f"{sb.url}/data_sources/{unknown}"),
        http_.delete(f"{sb.url}/data_sources/{unknown}"),
        http_.get(f"{sb.url}/data_sources/not-a-uuid"),
    ):
        assert (reply.status_code, reply.json()) == (404, NOT_FOUND)


def test_delete_is_204_without_body_or_content_type_and_immediate(
    sb: Sandbox, http_: requests.Session
) -> None:
    uuid = create(http_, sb, "Doomed").json()["uuid"]
    reply = http_.delete(f"{sb.url}/data_sources/{uuid}")
    assert reply.status_code == 204
    assert reply.content == b""
    assert "Content-Type" not in reply.headers
    assert http_.get(f"{sb.url}/data_sources/{uuid}").status_code == 404
    assert http_.get(f"{sb.url}/data_sources", params={"name": "Doomed"}).json() == {
        "data_sources": []
    }
    assert http_.delete(f"{sb.url}/data_sources/{uuid}").json() == NOT_FOUND
    assert create(http_, sb, "Doomed").status_code == 201  # the name is free again


def test_a_json_body_on_get_and_delete_is_tolerated(sb: Sandbox, http_: requests.Session) -> None:
    uuid = create(http_, sb, "Ruby").json()["uuid"]
    ruby = {"data": "{}", "headers": {"Content-Type": "application/json"}}
    assert http_.get(f"{sb.url}/data_sources", **ruby).status_code == 200  # type: ignore[arg-type]
    assert http_.get(f"{sb.url}/data_sources/{uuid}", **ruby).status_code == 200  # type: ignore[arg-type]
    assert http_.delete(f"{sb.url}/data_sources/{uuid}", **ruby).status_code == 204  # type: ignore[arg-type]
    assert http_.get(f"{sb.url}/ping").status_code == 200  # the connection is still in sync


def test_ping(sb: Sandbox, http_: requests.Session) -> None:
    reply = http_.get(f"{sb.url}/ping")
    assert (reply.status_code, reply.json()) == (200, {"data": "pong!"})


def test_unknown_paths_and_methods(sb: Sandbox, http_: requests.Session) -> None:
    assert http_.get(f"{sb.url}/customers").status_code == 404
    assert http_.put(f"{sb.url}/data_sources", json={}).status_code == 405
    assert http_.post(f"{sb.url}/ping").status_code == 405


def test_keep_alive_serves_many_requests_on_one_connection(sb: Sandbox) -> None:
    port = int(sb.url.rsplit(":", 1)[1].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    auth = "Basic " + base64.b64encode(f"{sb.api_key}:".encode()).decode()
    try:
        conn.request("GET", "/v1/ping", headers={"Authorization": auth})
        first = conn.getresponse()
        assert first.read() == b'{"data":"pong!"}'
        sock = conn.sock
        conn.request("DELETE", "/v1/data_sources/ds_x", headers={"Authorization": auth})
        second = conn.getresponse()
        assert second.status == 404 and second.read()
        conn.request("GET", "/v1/ping", headers={"Authorization": auth})
        assert conn.getresponse().read() == b'{"data":"pong!"}'
        assert conn.sock is sock and first.getheader("Connection") != "close"
    finally:
        conn.close()


# -- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    ["key-empty", "key-key"],
)
def test_basic_auth_accepts_the_key_with_empty_or_repeated_password(sb: Sandbox, auth: str) -> None:
    password = "" if auth == "key-empty" else sb.api_key
    reply = requests.get(f"{sb.url}/ping", auth=(sb.api_key, password), timeout=5)
    assert reply.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer whatever"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + "d3Jvbmc6"},  # "wrong:"
    ],
)
def test_anything_else_is_401_with_the_recorded_body(sb: Sandbox, headers: dict[str, str]) -> None:
    reply = requests.get(f"{sb.url}/data_sources", headers=headers, timeout=5)
    assert (reply.status_code, reply.json()) == (401, UNAUTHORIZED)


def test_wrong_password_or_other_user_is_401(sb: Sandbox) -> None:
    for auth in ((sb.api_key, "other"), ("other", sb.api_key), (sb.api_key.upper(), "")):
        reply = requests.post(f"{sb.url}/data_sources", json={"name": "x"}, auth=auth, timeout=5)
        assert (reply.status_code, reply.json()) == (401, UNAUTHORIZED)
    assert len(sb.sources()) == 1


def test_the_request_log_never_holds_the_key(
    sb: Sandbox, http_: requests.Session, canary: str
) -> None:
    create(http_, sb, f"named {canary}")
    http_.get(f"{sb.url}/data_sources", params={"name": canary})
    requests.get(f"{sb.url}/ping", auth=("someone-elses-key", ""), timeout=5)
    logged = sb.requests
    assert [entry.status for entry in logged] == [201, 200, 401]
    assert canary not in repr(logged)
    assert "someone-elses-key" not in repr(logged)
    assert logged[0].headers["Authorization"] == "Basic ********"
    assert logged[0].body == {"name": "named ********"}
    assert canary not in repr(sb)


# -- concurrency and limits --------------------------------------------------------------


def test_concurrent_creates_make_each_name_exactly_once() -> None:
    with Sandbox(rate_limit_per_s=None, max_connections=None) as box:
        local = threading.local()

        def post(name: str) -> int:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.auth = (box.api_key, "")
            return int(create(local.session, box, name).status_code)

        distinct = [f"source {i}" for i in range(120)]
        same = ["Same name"] * 40
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(
                pool.map(
                    post,
                    [n for pair in zip(distinct[:40], same, strict=True) for n in pair]
                    + distinct[40:],
                )
            )
        names = [source["name"] for source in box.sources()]
        assert sorted(names) == sorted([*distinct, "Same name"])
        assert statuses.count(201) == 121 and statuses.count(422) == 39
        assert len({source["uuid"] for source in box.sources()}) == 121


def test_rate_limit_allows_40_in_any_second_then_429() -> None:
    now = [100.0]
    with Sandbox(_clock=lambda: now[0]) as box, requests.Session() as session:
        session.auth = (box.api_key, "")
        assert {session.get(f"{box.url}/ping").status_code for _ in range(40)} == {200}
        refused = session.get(f"{box.url}/ping")
        assert (refused.status_code, refused.json()) == (429, RATE_LIMITED)
        assert "Retry-After" not in refused.headers
        now[0] += 0.5
        assert session.get(f"{box.url}/ping").status_code == 429
        now[0] += 0.5  # a full second after the first 40
        assert session.get(f"{box.url}/ping").status_code == 200


def test_rate_limit_can_send_retry_after_and_can_be_turned_off() -> None:
    with Sandbox(rate_limit_per_s=2, retry_after=True, _clock=lambda: 5.0) as box:
        auth = (box.api_key, "")
        statuses = [requests.get(f"{box.url}/ping", auth=auth, timeout=5) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert statuses[2].headers["Retry-After"] == "1"
    with Sandbox(rate_limit_per_s=None, _clock=lambda: 5.0) as box, requests.Session() as s:
        s.auth = (box.api_key, "")
        assert {s.get(f"{box.url}/ping").status_code for _ in range(60)} == {200}


def _hold(sb: Sandbox, count: int) -> list[socket.socket]:
    """Open ``count`` connections whose POST bodies never arrive: requests stuck in flight."""
    port = int(sb.url.rsplit(":", 1)[1].split("/")[0])
    auth = base64.b64encode(f"{sb.api_key}:".encode()).decode()
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(
            b"POST /v1/data_sources HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Basic {auth}\r\nContent-Length: 20\r\n\r\n".encode()
        )
        held.append(sock)
    deadline = time.monotonic() + 10
    while sb.in_flight < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sb.in_flight == count
    return held


def test_more_than_20_requests_in_flight_get_503(sb: Sandbox) -> None:
    held = _hold(sb, 20)
    try:
        refused = requests.get(f"{sb.url}/ping", auth=(sb.api_key, ""), timeout=5)
        assert refused.status_code == 503
        assert refused.json()["code"] == 503
        held[0].sendall(b'{"name":"held 0"}   ')  # one finishes: room for one more
        assert held[0].recv(4096).startswith(b"HTTP/1.1 201")
        deadline = time.monotonic() + 10
        while sb.in_flight > 19 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert requests.get(f"{sb.url}/ping", auth=(sb.api_key, ""), timeout=5).status_code == 200
    finally:
        for sock in held:
            sock.close()


def test_one_cmnb_client_shared_by_30_threads_never_meets_the_connection_limit() -> None:
    # The client side of the 20-connection rule: the sandbox would answer 503 to a 21st.
    with Sandbox(rate_limit_per_s=None, latency_s=0.1) as box, box.client() as client:
        with ThreadPoolExecutor(30) as pool:
            assert all(pool.map(lambda _: client.ping(), range(60)))
        assert [r.status for r in box.requests] == [200] * 60


def test_latency_is_added_to_every_request() -> None:
    with Sandbox(latency_s=0.2) as box:
        started = time.monotonic()
        requests.get(f"{box.url}/ping", auth=(box.api_key, ""), timeout=5)
        assert time.monotonic() - started >= 0.2


# -- lifecycle, determinism, persistence -------------------------------------------------


def test_stop_closes_connections_and_restart_keeps_url_and_state(canary: str) -> None:
    box = Sandbox(canary).start()
    session = requests.Session()
    session.auth = (canary, "")
    session.post(f"{box.url}/data_sources", json={"name": "Kept"})
    url = box.url
    box.stop()
    assert not box.running
    with pytest.raises(RuntimeError):
        box.url  # noqa: B018
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/ping", timeout=5)
    with box:
        assert box.url == url
        assert [ds["name"] for ds in session.get(f"{url}/data_sources").json()["data_sources"]] == [
            "Kept"
        ]
    session.close()


def _run(seed: int | None) -> tuple[str, list[dict[str, object]]]:
    with Sandbox(seed=seed, sources=[{"name": "Stripe", "system": "Stripe"}]) as box:
        session = requests.Session()
        session.auth = (box.api_key, "")
        made = [create(session, box, name).json() for name in ("A", "B", "C")]
        session.close()
        return box.api_key, made


def test_seed_gives_identical_keys_uuids_and_timestamps() -> None:
    first, second, other = _run(11), _run(11), _run(12)
    assert first == second
    assert first[0] != other[0] and first[1][0]["uuid"] != other[1][0]["uuid"]
    stamps = [ds["created_at"] for ds in first[1]]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert all(UUID.match(str(ds["uuid"])) for ds in first[1])
    assert _run(None)[1][0]["uuid"] != _run(None)[1][0]["uuid"]


def test_state_persists_across_instances_with_the_same_path(tmp_path: Path) -> None:
    state = tmp_path / "state" / "sandbox.json"
    with Sandbox(seed=3, path=state, sources=[{"name": "Stripe", "system": "Stripe"}]) as box:
        session = requests.Session()
        session.auth = (box.api_key, "")
        kept = create(session, box, "Kept").json()
        gone = create(session, box, "Gone").json()
        session.delete(f"{box.url}/data_sources/{gone['uuid']}")
        session.close()
    assert json.loads(state.read_text())["format"] == "cmnb-sandbox/1"
    assert [p.name for p in state.parent.iterdir()] == ["sandbox.json"]  # no temp file left
    with Sandbox(seed=3, path=state, sources=[{"name": "Other"}]) as again:
        assert [ds["name"] for ds in again.sources()] == ["Stripe", "Kept"]
        session = requests.Session()
        session.auth = (again.api_key, "")
        assert session.get(f"{again.url}/data_sources/{kept['uuid']}").json() == kept
        assert create(session, again, "Kept").json() == TAKEN
        new = create(session, again, "New").json()
        assert new["uuid"] not in (kept["uuid"], gone["uuid"])
        assert new["created_at"] > gone["created_at"]
        session.close()


def test_state_survives_a_crash_mid_write_and_its_leftovers_are_removed(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    writer = (
        "from cmnb.sandbox.store import Store\n"
        f"store = Store(path={str(state)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    store.create({'name': f'n{i}'}); i += 1\n"
    )
    process = subprocess.Popen([sys.executable, "-c", writer])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if state.exists() and state.stat().st_size > 20_000:
                break
    finally:
        process.kill()  # SIGKILL: no cleanup, very likely in the middle of a write
        process.wait()
    (tmp_path / ".sandbox.json-crashed.tmp").write_text('{"format": "cmnb-sand')
    other = tmp_path / ".other.json-x.tmp"  # another state file's temporary is left alone
    other.write_text("")
    with Sandbox(path=state) as box:
        names = [ds["name"] for ds in box.sources()]
        assert len(names) > 10
        assert names == [f"n{i}" for i in range(len(names))]  # whole, in order, nothing lost
        assert box.client().data_sources.create(f"n{len(names)}").name == f"n{len(names)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json-x.tmp", "sandbox.json"]


def _unwritable(state: Path) -> None:
    """Make the state file unwritable even for root: a non-empty directory where it belongs
    (``os.replace`` of the new state onto it fails, like a read-only directory or full disk)."""
    state.unlink(missing_ok=True)
    state.mkdir()
    (state / "keep").write_text("")


def test_a_failed_write_undoes_a_create_and_answers_500(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with Sandbox(seed=5, path=state, sources=[{"name": "Before"}]) as box:
        session = requests.Session()
        session.auth = (box.api_key, "")
        create(session, box, "Written")
        written = [ds["name"] for ds in box.sources()]
        saved = state.read_bytes()
        _unwritable(state)
        answer = create(session, box, "Unwritten")
        assert answer.status_code == 500  # an answer, not a dropped connection
        assert "could not write its state file" in answer.json()["error"]
        assert [ds["name"] for ds in box.sources()] == written  # memory as before
        assert box.requests[-1].status == 500
        # The same name is free, and the next write that works takes it
        (state / "keep").unlink()
        state.rmdir()
        state.write_bytes(saved)
        again = create(session, box, "Unwritten")
        assert again.status_code == 201
        session.close()
    with Sandbox(seed=5, sources=[{"name": "Before"}]) as control:  # never failed
        control.add_source("Written")
        # The seeded uuid and clock were rolled back too: the same source as without the failure
        assert control.add_source("Unwritten")["uuid"] == again.json()["uuid"]
    with Sandbox(path=state) as reloaded:  # the file and memory agree
        assert [ds["name"] for ds in reloaded.sources()] == [*written, "Unwritten"]


def test_a_failed_write_undoes_a_delete_and_answers_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "sandbox.json"
    with Sandbox(path=state, sources=[{"name": "A"}, {"name": "B"}]) as box:
        box.add_source("C")  # the file is written at the first change
        before = box.sources()

        def disk_full(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("cmnb.sandbox.store.os.fsync", disk_full)
        session = requests.Session()
        session.auth = (box.api_key, "")
        answer = session.delete(f"{box.url}/data_sources/{before[1]['uuid']}")
        assert answer.status_code == 500
        assert box.sources() == before  # B is still there, still second
        assert json.loads(state.read_text())["sources"] == before
        assert [p.name for p in tmp_path.iterdir()] == ["sandbox.json"]  # no temporary left
        monkeypatch.undo()
        assert session.delete(f"{box.url}/data_sources/{before[1]['uuid']}").status_code == 204
        session.close()
    with Sandbox(path=state) as reloaded:
        assert [ds["name"] for ds in reloaded.sources()] == ["A", "C"]


def test_a_client_is_told_a_create_refused_by_the_disk_was_not_created(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with Sandbox(path=state, sources=[{"name": "Before"}]) as box:
        _unwritable(state)
        with (
            box.client(max_attempts=2, _sleep=lambda s: None) as client,
            pytest.raises(cmnb.ServerError) as caught,
        ):
            client.data_sources.create("Lost to the disk")
        assert caught.value.status == 500 and caught.value.maybe_sent is False
        assert "It was not created" in str(caught.value)
        assert [ds["name"] for ds in box.sources()] == ["Before"]
        assert [(r.method, r.status) for r in box.requests] == [
            ("POST", 500),
            ("POST", 500),
            ("GET", 200),
        ]


def test_add_source_and_reset_raise_the_write_error_and_change_nothing(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with Sandbox(path=state, sources=[{"name": "Before"}]) as box:
        box.add_source("Second")
        before = box.sources()
        _unwritable(state)
        with pytest.raises(OSError):
            box.add_source("Third")
        with pytest.raises(OSError):
            box.reset()
        assert box.sources() == before


def test_a_file_that_is_not_sandbox_state_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a cmnb sandbox state file"):
        Sandbox(path=bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        Sandbox(path=bad)


def test_add_source_sources_and_reset(sb: Sandbox, http_: requests.Session) -> None:
    recurly = sb.add_source("Recurly EU", system="Recurly", status="working")
    assert (recurly["system"], recurly["status"]) == ("Recurly", "working")
    assert set(recurly) >= set(FLAGS.values())
    with pytest.raises(ValueError, match="already exists"):
        sb.add_source("Recurly EU")
    create(http_, sb, "Mine")
    sb.faults.add("ping", status=500)
    assert [ds["name"] for ds in sb.sources()] == ["Stripe payments", "Recurly EU", "Mine"]
    seeded_stripe = sb.sources()[0]
    sb.reset()
    assert sb.sources() == [seeded_stripe]
    assert (sb.requests, len(sb.faults)) == ([], 0)


# -- packaging and the standalone runner -------------------------------------------------


def test_importing_the_sandbox_does_not_import_the_client_or_requests() -> None:
    code = (
        "import sys, cmnb.sandbox as s; b = s.Sandbox().start(); b.stop(); "
        "print('cmnb.api._client' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False False", out.stderr


def test_serve_prints_url_and_key_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    code = "from cmnb.sandbox import serve; serve(port=0, seed=5, faults=['create:502:x1'])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+/v1)", text)
        key = re.search(r"API key: (sbx_[0-9a-f]{32})", text)
        assert url and key, text
        assert f"curl -u {key.group(1)}: {url.group(1)}/ping" in text
        assert "fault:   create:502:x1" in text
        auth = (key.group(1), "")
        assert requests.get(f"{url.group(1)}/ping", auth=auth, timeout=5).json() == {
            "data": "pong!"
        }
        assert (
            requests.post(
                f"{url.group(1)}/data_sources", json={"name": "x"}, auth=auth, timeout=5
            ).status_code
            == 502
        )
        proc.send_signal(signal.SIGINT)
        rest, errors = proc.communicate(timeout=20)
        assert proc.returncode == 0, errors
        assert "cmnb sandbox stopped." in rest
        assert "Traceback" not in errors
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_stops_cleanly_on_sigterm_and_puts_the_old_handler_back() -> None:
    code = (
        "import signal\n"
        "from cmnb.sandbox import serve\n"
        "def mine(signum, frame): pass\n"
        "signal.signal(signal.SIGTERM, mine)\n"
        "serve(port=0, seed=5)\n"
        "print('handler restored:', signal.getsignal(signal.SIGTERM) is mine)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Ctrl-C"):
                break
        proc.send_signal(signal.SIGTERM)
        rest, errors = proc.communicate(timeout=20)
        assert proc.returncode == 0, errors
        assert rest.splitlines() == ["cmnb sandbox stopped.", "handler restored: True"]
        assert "Traceback" not in errors
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_does_not_print_a_key_you_passed(canary: str) -> None:
    out = _ServeOutput()
    thread = threading.Thread(target=_serve_until_interrupted, args=(canary, out), daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert "listening on http://127.0.0.1:" in out.text
    assert canary not in out.text
    assert "stopped" in out.text


class _ServeOutput:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        if "Ctrl-C" in text:
            raise KeyboardInterrupt  # what Ctrl-C does, delivered in this thread
        return len(text)

    def flush(self) -> None:
        pass


def _serve_until_interrupted(api_key: str, out: _ServeOutput) -> None:
    from cmnb.sandbox import serve

    serve(port=0, api_key=api_key, out=out)  # type: ignore[arg-type]


def test_the_sandbox_and_the_client_name_the_same_optional_blocks() -> None:
    # The sandbox keeps its own list on purpose (an emulator must not share the client's
    # reading of the wire); this is where a typo on either side would show.
    from cmnb.api._models import BLOCKS, block_flag
    from cmnb.sandbox.store import FLAGS

    assert {block_flag(block): block for block in BLOCKS} == FLAGS
