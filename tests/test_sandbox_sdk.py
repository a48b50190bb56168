"""Clients against the sandbox: the official ChartMogul SDK (proof that the sandbox speaks the
real protocol, not just our dialect) and cmnb's own client, end to end, for every endpoint,
error and limit."""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import chartmogul
import pytest
import requests

import cmnb
from cmnb.errors import (
    AuthenticationError,
    BadRequestError,
    DuplicateNameError,
    InputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from cmnb.sandbox import Sandbox


@pytest.fixture
def sb(canary: str) -> Iterator[Sandbox]:
    with Sandbox(canary, seed=2, sources=[{"name": "Stripe EU", "system": "Stripe"}]) as box:
        yield box


# -- the official SDK (chartmogul 4.x) ---------------------------------------------------


@pytest.fixture
def cfg(sb: Sandbox) -> chartmogul.Config:
    config = chartmogul.Config(sb.api_key, request_timeout=5, max_retries=0)
    config.uri = sb.url  # 4.x reads the base URL from this (class) attribute
    return config


def sdk_error(call: Any) -> tuple[int, bytes]:
    with pytest.raises(chartmogul.APIError) as caught:
        call.get()
    response = caught.value.__cause__.response  # type: ignore[union-attr]
    return response.status_code, caught.value.args[0]


def test_sdk_create_list_retrieve_destroy(sb: Sandbox, cfg: chartmogul.Config) -> None:
    assert chartmogul.Ping.ping(cfg).get().data == "pong!"
    made = chartmogul.DataSource.create(cfg, data={"name": "In-house billing"}).get()
    assert (made.name, made.system, made.status) == ("In-house billing", "Custom", "idle")
    assert made.uuid.startswith("ds_") and made.created_at.tzinfo is not None

    listed = chartmogul.DataSource.all(cfg).get()
    assert [ds.name for ds in listed.data_sources] == ["Stripe EU", "In-house billing"]
    by_name = chartmogul.DataSource.all(cfg, name="In-house billing").get()
    assert [ds.uuid for ds in by_name.data_sources] == [made.uuid]
    stripe = chartmogul.DataSource.all(cfg, system="Stripe").get()
    assert [ds.name for ds in stripe.data_sources] == ["Stripe EU"]

    got = chartmogul.DataSource.retrieve(
        cfg,
        uuid=made.uuid,
        with_processing_status=True,
        with_auto_churn_subscription_setting=True,
        with_invoice_handling_setting=True,
    ).get()
    assert got.uuid == made.uuid
    assert (got.processing_status.processed, got.auto_churn_subscription_setting.enabled) == (
        0,
        False,
    )
    assert set(got.invoice_handling_setting) == {"manual", "automatic"}
    plain = chartmogul.DataSource.retrieve(cfg, uuid=made.uuid).get()
    assert not hasattr(plain, "processing_status")

    assert chartmogul.DataSource.destroy(cfg, uuid=made.uuid).get() is None
    assert [ds.name for ds in chartmogul.DataSource.all(cfg).get().data_sources] == ["Stripe EU"]
    # the SDK sent its flags as "true" strings
    flagged = [entry for entry in sb.requests if entry.path.endswith(made.uuid) and entry.query]
    assert flagged[0].query == dict.fromkeys(
        [
            "with_processing_status",
            "with_auto_churn_subscription_setting",
            "with_invoice_handling_setting",
        ],
        "true",
    )


def test_sdk_gets_the_errors_it_expects(sb: Sandbox, cfg: chartmogul.Config) -> None:
    chartmogul.DataSource.create(cfg, data={"name": "Taken"}).get()
    assert sdk_error(chartmogul.DataSource.create(cfg, data={"name": "Taken"})) == (
        422,
        b'{"errors":{"name":"Has already been taken."}}',
    )
    assert sdk_error(chartmogul.DataSource.create(cfg, data={"name": ""})) == (
        422,
        b'{"errors":{"name":"A name is required for each data source."}}',
    )
    assert sdk_error(chartmogul.DataSource.create(cfg, data={})) == (
        400,
        b'{"code":400,"message":"Parameter \\"name\\" is missing","param":"name"}',
    )
    unknown = "ds_00000000-0000-1000-8000-000000000000"
    for call in (
        chartmogul.DataSource.retrieve(cfg, uuid=unknown),
        chartmogul.DataSource.destroy(cfg, uuid=unknown),
    ):
        assert sdk_error(call) == (404, b'{"error":"Data source not found"}')
    wrong = chartmogul.Config("not-the-key", request_timeout=5, max_retries=0)
    wrong.uri = sb.url
    assert sdk_error(chartmogul.DataSource.all(wrong)) == (
        401,
        b'{"code":401,"message":"No valid API key provided","param":null}',
    )


def test_sdk_sees_faults_as_errors(sb: Sandbox, cfg: chartmogul.Config) -> None:
    sb.faults.add("create:502")
    status, body = sdk_error(chartmogul.DataSource.create(cfg, data={"name": "x"}))
    assert status == 502 and b"<title>502 Bad Gateway</title>" in body


# -- cmnb's own client ---------------------------------------------------------------------


@pytest.fixture
def client(sb: Sandbox) -> Iterator[cmnb.Client]:
    with sb.client(_sleep=lambda s: None) as bound:
        yield bound


def test_client_every_endpoint(sb: Sandbox, client: cmnb.Client) -> None:
    assert client.is_loopback and client.base_url == sb.url
    assert client.ping() is True
    made = client.data_sources.create("  In-house billing ")
    assert (made.name, made.system, made.status) == ("In-house billing", "Custom", "idle")
    assert [ds.name for ds in client.data_sources.list()] == ["Stripe EU", "In-house billing"]
    assert client.data_sources.list(name="In-house billing") == [made]
    assert [ds.name for ds in client.data_sources.list(system="Stripe")] == ["Stripe EU"]
    full = client.data_sources.retrieve(
        made.uuid,
        with_processing_status=True,
        with_auto_churn_subscription_setting=True,
        with_invoice_handling_setting=True,
    )
    assert full.processing_status is not None and full.processing_status.failed == 0
    assert full.auto_churn_subscription_setting is not None
    assert full.invoice_handling_setting is not None and full.invoice_handling_setting.manual
    assert client.data_sources.retrieve(made.uuid).processing_status is None
    assert client.data_sources.get_or_create("In-house billing") == (made, False)
    fresh, created = client.data_sources.get_or_create("Second")
    assert created and client.data_sources.ensure("Second") == fresh
    client.data_sources.delete(made.uuid)
    assert [ds.name for ds in client.data_sources.list()] == ["Stripe EU", "Second"]


def test_client_errors(sb: Sandbox, client: cmnb.Client) -> None:
    first = client.data_sources.create("Taken")
    with pytest.raises(DuplicateNameError) as duplicate:
        client.data_sources.create("Taken")
    assert duplicate.value.existing == first
    assert duplicate.value.message == "name: Has already been taken."
    unknown = "ds_00000000-0000-1000-8000-000000000000"
    with pytest.raises(NotFoundError, match="Data source not found"):
        client.data_sources.retrieve(unknown)
    with pytest.raises(NotFoundError):
        client.data_sources.delete(unknown)
    with pytest.raises(InputError):
        client.data_sources.create("   ")  # refused before sending
    with cmnb.Client("wrong-key", base_url=sb.url) as wrong, pytest.raises(AuthenticationError):
        wrong.ping()
    assert all(
        entry.path != "/v1/data_sources" or entry.body != {"name": "   "} for entry in sb.requests
    )


def test_client_gets_the_server_400_when_it_sends_page(sb: Sandbox, client: cmnb.Client) -> None:
    with pytest.raises(BadRequestError, match='Parameter "page" is deprecated'):
        client._call("GET", "/data_sources", params={"page": "1"})


def test_client_recovers_a_create_whose_answer_was_lost(sb: Sandbox, client: cmnb.Client) -> None:
    sb.faults.add("create", status=500, after_commit=True)
    first = client.data_sources.create("Lost once")  # 500 after commit → retry → 422 → adopt
    sb.faults.add("create", reset=True, after_commit=True)
    second = client.data_sources.create("Lost twice")  # reset after commit → same recovery
    assert [ds["name"] for ds in sb.sources()] == ["Stripe EU", "Lost once", "Lost twice"]
    assert [first.uuid, second.uuid] == [ds["uuid"] for ds in sb.sources()[1:]]
    statuses = [entry.status for entry in sb.requests if entry.method == "POST"]
    assert statuses == [500, 422, None, 422]


def test_client_retries_a_timeout_and_reports_a_502(sb: Sandbox) -> None:
    sb.faults.add("list", delay_s=30)
    with sb.client(timeout=(2, 0.3), _sleep=lambda s: None) as client:
        assert [ds.name for ds in client.data_sources.list()] == ["Stripe EU"]  # 2nd attempt
    sb.faults.add("ping:502:always")
    with sb.client(max_attempts=1) as client, pytest.raises(ServerError) as caught:
        client.ping()
    assert caught.value.status == 502 and caught.value.message == "502 Bad Gateway"
    sb.faults.clear()
    sb.faults.add("ping", delay_s=30)
    with sb.client(timeout=(2, 0.2), max_attempts=1) as client, pytest.raises(TransportError):
        client.ping()


def test_client_meets_the_rate_limit(canary: str) -> None:
    with Sandbox(canary, rate_limit_per_s=3, retry_after=True, _clock=lambda: 0.0) as box:
        waits: list[float] = []
        with box.client(rate_limit_per_s=None, max_attempts=2, _sleep=waits.append) as client:
            for _ in range(3):
                client.ping()
            with pytest.raises(RateLimitError) as caught:
                client.ping()
        assert caught.value.retry_after_s == 1.0 and waits == [1.0]  # honoured Retry-After
        assert caught.value.message == "Your request rate has exceeded our rate limit."


def test_client_pacing_stays_under_the_sandbox_limit(canary: str) -> None:
    now = [0.0]
    with Sandbox(canary, _clock=lambda: now[0]) as box:

        def sleep(seconds: float) -> None:
            now[0] += seconds

        with box.client(_clock=lambda: now[0], _sleep=sleep, max_attempts=1) as client:
            for _ in range(85):
                client.ping()  # 429 would raise: the client's pacer keeps within 40/s
        assert {entry.status for entry in box.requests} == {200}


def test_client_meets_the_connection_limit(sb: Sandbox) -> None:
    port = int(sb.url.rsplit(":", 1)[1].split("/")[0])
    auth = base64.b64encode(f"{sb.api_key}:".encode()).decode()
    held = []
    try:
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(
                f"POST /v1/data_sources HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
                "Content-Length: 50\r\n\r\n".encode()
            )
            held.append(sock)
        deadline = time.monotonic() + 10
        while sb.in_flight < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        with sb.client(max_attempts=1) as client, pytest.raises(ServerError) as caught:
            client.ping()
        assert caught.value.status == 503
    finally:
        for sock in held:
            sock.close()


def test_client_bulk_create_against_the_sandbox(sb: Sandbox, client: cmnb.Client) -> None:
    result = client.data_sources.create_many(["A", "B", "Stripe EU", "C"], concurrency=4)
    assert [o.outcome for o in result.outcomes] == ["created", "created", "existing", "created"]
    assert sorted(ds["name"] for ds in sb.sources()) == ["A", "B", "C", "Stripe EU"]


def test_the_key_never_reaches_logs_or_the_request_log(
    sb: Sandbox, client: cmnb.Client, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sb.faults.add("create", status=500, after_commit=True)
    client.data_sources.create("Logged")
    with pytest.raises(NotFoundError) as caught:
        client.data_sources.delete("ds_00000000-0000-1000-8000-000000000000")
    raw = requests.get(f"{sb.url}/ping", auth=(canary, ""), timeout=5)
    assert raw.status_code == 200
    shown = caplog.text + repr(sb.requests) + repr(sb) + repr(client) + repr(caught.value)
    assert canary not in shown and str(caught.value).count(canary) == 0
    assert "cmnb.sandbox" in {record.name for record in caplog.records}
