"""The sandbox over HTTPS (``Sandbox(ssl_context=...)``) and the client's ``verify`` setting.

The certificate is a throwaway self-signed one for ``127.0.0.1`` made by the ``openssl``
command (the same helper the ``tls`` benchmark uses); without openssl these tests skip.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cmnb.api._transport import Transport
from cmnb.errors import ConfigError, TransportError
from cmnb.sandbox import Sandbox

# benchmarks/ is not an installed package; the test run's cwd is a temporary directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import self_signed_cert

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None,
    reason="the openssl command is not installed: it makes the test certificate",
)


@pytest.fixture(scope="module")
def cert_and_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def cert(cert_and_key: tuple[str, str]) -> str:
    return cert_and_key[0]


@pytest.fixture
def server_context(cert_and_key: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_and_key)
    return context


@pytest.fixture
def sb(canary: str, server_context: ssl.SSLContext) -> Iterator[Sandbox]:
    with Sandbox(canary, ssl_context=server_context) as box:
        yield box


def _port(box: Sandbox) -> int:
    return int(box.url.rsplit(":", 1)[1].split("/")[0])


# -- clients over TLS -----------------------------------------------------------------------


def test_the_url_is_https_and_survives_a_restart(sb: Sandbox) -> None:
    url = sb.url
    assert url.startswith("https://127.0.0.1:") and url.endswith("/v1")
    sb.stop()
    assert repr(sb) == "<Sandbox stopped, 0 sources>"
    with sb:
        assert sb.url == url


def test_cmnb_client_creates_lists_retrieves_and_deletes_over_tls(sb: Sandbox, cert: str) -> None:
    with sb.client(verify=cert) as client:
        assert client.ping()
        made = client.data_sources.create("Over TLS")
        assert [ds.name for ds in client.data_sources.list()] == ["Over TLS"]
        assert client.data_sources.retrieve(made.uuid).name == "Over TLS"
        client.data_sources.delete(made.uuid)
        assert client.data_sources.list() == []
    assert [r.status for r in sb.requests] == [200, 201, 200, 200, 204, 200]


def test_raw_requests_create_list_delete_over_tls(sb: Sandbox, cert: str) -> None:
    with requests.Session() as session:
        session.auth = (sb.api_key, "")
        created = session.post(f"{sb.url}/data_sources", json={"name": "Raw"}, verify=cert)
        assert created.status_code == 201
        listed = session.get(f"{sb.url}/data_sources", verify=cert).json()["data_sources"]
        assert [ds["name"] for ds in listed] == ["Raw"]
        uuid = created.json()["uuid"]
        assert session.delete(f"{sb.url}/data_sources/{uuid}", verify=cert).status_code == 204
    assert sb.sources() == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_client_that_does_not_trust_the_certificate_sends_nothing(sb: Sandbox) -> None:
    with sb.client() as client, pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        client.data_sources.create("Never sent")
    assert sb.requests == []  # the handshake failed: no request reached the API
    assert sb.sources() == []
    with requests.Session() as session:  # ...and the server keeps serving
        session.auth = (sb.api_key, "")
        assert session.get(f"{sb.url}/ping", verify=False).status_code == 200


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_skips_the_check(sb: Sandbox) -> None:
    with sb.client(verify=False) as client:
        assert client.ping()


def test_verify_is_checked_before_anything_is_sent(sb: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no CA file or directory"):
        sb.client(verify=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="verify must be True, False or the path"):
        sb.client(verify=1)
    assert sb.requests == []


def test_a_verify_path_beats_requests_ca_bundle(
    sb: Sandbox, cert: str, canary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With trust_env (the default for non-local hosts) requests lets REQUESTS_CA_BUNDLE
    # override a session-wide verify; the transport sends it with each request instead.
    import certifi

    from cmnb.api._secret import Secret

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    transport = Transport(Secret(canary), sb.url, trust_env=True, verify=cert)
    try:
        assert transport.request("GET", "/ping").status == 200
    finally:
        transport.close()


# -- the server side ------------------------------------------------------------------------


def test_plain_http_to_the_tls_port_gets_a_clear_400_and_the_server_lives_on(
    sb: Sandbox, cert: str
) -> None:
    plain = sb.url.replace("https://", "http://")
    answer = requests.get(f"{plain}/ping", auth=(sb.api_key, ""), timeout=5)
    assert answer.status_code == 400
    assert answer.json()["message"] == "This sandbox speaks HTTPS: use an https:// URL"
    with socket.create_connection(("127.0.0.1", _port(sb)), timeout=5) as junk:
        junk.sendall(b"\x16\x03\x01\x00\x05hello")  # looks like TLS, is not
        with contextlib.suppress(ConnectionResetError):
            while junk.recv(4096):  # an alert perhaps, then the server hangs up (no timeout)
                pass
    assert requests.get(f"{sb.url}/ping", auth=(sb.api_key, ""), verify=cert).status_code == 200


def test_a_silent_client_does_not_hold_up_the_others(sb: Sandbox, cert: str) -> None:
    # The handshake runs in the connection's thread: a client that connects and never speaks
    # waits there (up to its handshake timeout) while others are accepted and served.
    with socket.create_connection(("127.0.0.1", _port(sb)), timeout=5):
        reply = requests.get(f"{sb.url}/ping", auth=(sb.api_key, ""), verify=cert, timeout=5)
        assert reply.status_code == 200


def _hold_tls_request(box: Sandbox, cert: str) -> ssl.SSLSocket:
    """A TLS request whose body never comes: it stays in flight until released or stopped."""
    context = ssl.create_default_context(cafile=cert)
    raw = socket.create_connection(("127.0.0.1", _port(box)), timeout=10)
    held = context.wrap_socket(raw, server_hostname="127.0.0.1")
    auth = base64.b64encode(f"{box.api_key}:".encode()).decode()
    held.sendall(
        b"POST /v1/data_sources HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Basic {auth}\r\nContent-Length: 20\r\n\r\n".encode()
    )
    deadline = time.monotonic() + 10
    while box.in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert box.in_flight == 1
    return held


def test_the_connection_limit_holds_over_tls(
    canary: str, server_context: ssl.SSLContext, cert: str
) -> None:
    with Sandbox(canary, ssl_context=server_context, max_connections=1) as box:
        held = _hold_tls_request(box, cert)
        try:
            refused = requests.get(f"{box.url}/ping", auth=(canary, ""), verify=cert, timeout=5)
            assert refused.status_code == 503
            held.sendall(b'{"name":"held"}     ')
            assert held.recv(4096).startswith(b"HTTP/1.1 201")
            deadline = time.monotonic() + 10
            while box.in_flight and time.monotonic() < deadline:
                time.sleep(0.01)
            again = requests.get(f"{box.url}/ping", auth=(canary, ""), verify=cert, timeout=5)
            assert again.status_code == 200
        finally:
            held.close()


def test_stop_ends_tls_connections_in_flight_and_idle(sb: Sandbox, cert: str) -> None:
    session = requests.Session()
    session.auth = (sb.api_key, "")
    assert session.get(f"{sb.url}/ping", verify=cert).status_code == 200  # idle keep-alive
    held = _hold_tls_request(sb, cert)
    url = sb.url
    sb.stop()
    try:
        assert held.recv(4096) == b""  # the server closed the request it was waiting on
        with pytest.raises(requests.ConnectionError):
            session.get(f"{url}/ping", verify=cert, timeout=5)
    finally:
        held.close()
        session.close()


def test_only_a_server_side_context_is_accepted() -> None:
    with pytest.raises(ValueError, match="server-side one"):
        Sandbox(ssl_context=ssl.create_default_context())
    with pytest.raises(TypeError, match=r"ssl\.SSLContext"):
        Sandbox(ssl_context="cert.pem")  # type: ignore[arg-type]
