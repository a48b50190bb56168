"""Settings: key and base URL from argument → environment → ./.env, checked before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

import cmnb
from cmnb.api._secret import Secret
from cmnb.api._settings import (
    DEFAULT_BASE_URL,
    is_loopback_host,
    normalize_timeout,
    read_dotenv,
    resolve_api_key,
    resolve_base_url,
)
from cmnb.errors import ConfigError


def write_dotenv(text: str) -> None:
    Path(".env").write_text(text, encoding="utf-8")


# --- API key -------------------------------------------------------------------------------


def test_no_key_anywhere_gives_none() -> None:
    assert resolve_api_key() is None


def test_key_argument_wins_over_env_and_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", "from-env")
    write_dotenv("CHARTMOGUL_API_KEY=from-dotenv\n")
    key = resolve_api_key("  from-arg\n")
    assert isinstance(key, Secret)
    assert key.reveal() == "from-arg"


def test_key_argument_may_be_a_secret() -> None:
    key = resolve_api_key(Secret("wrapped"))
    assert key is not None and key.reveal() == "wrapped"


def test_key_from_env_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", "from-env")
    write_dotenv("CHARTMOGUL_API_KEY=from-dotenv\n")
    key = resolve_api_key()
    assert key is not None and key.reveal() == "from-env"


def test_blank_argument_and_env_fall_through_to_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", "   ")
    write_dotenv("CHARTMOGUL_API_KEY=from-dotenv\n")
    key = resolve_api_key("")
    assert key is not None and key.reveal() == "from-dotenv"


@pytest.mark.parametrize(
    "line",
    [
        "CHARTMOGUL_API_KEY=abc123",
        "export CHARTMOGUL_API_KEY=abc123",
        'CHARTMOGUL_API_KEY="abc123"',
        "CHARTMOGUL_API_KEY='abc123'",
        "  CHARTMOGUL_API_KEY = abc123  # my key",
        'CHARTMOGUL_API_KEY="abc123" # my key',
        "CHARTMOGUL_API_KEY='abc123'\t# my key",
        "CHARTMOGUL_API_KEY=abc123\t# my key",
        "export\tCHARTMOGUL_API_KEY=abc123",
    ],
)
def test_dotenv_line_forms(line: str) -> None:
    write_dotenv(f"# ChartMogul\n\nOTHER=1\n{line}\n")
    key = resolve_api_key()
    assert key is not None and key.reveal() == "abc123"


def test_read_dotenv_keeps_quoted_hash_and_ignores_junk() -> None:
    write_dotenv('A="x # not a comment"\nno equals sign here\n#B=2\n')
    assert read_dotenv() == {"A": "x # not a comment"}


def test_dotenv_with_a_byte_order_mark() -> None:
    # Notepad on Windows saves "UTF-8" with a BOM; the first key must still be found.
    Path(".env").write_bytes(b"\xef\xbb\xbfCHARTMOGUL_API_KEY=abc123\r\n")
    key = resolve_api_key()
    assert key is not None and key.reveal() == "abc123"


def test_dotenv_that_is_not_utf8_is_a_config_error() -> None:
    Path(".env").write_bytes(b"CHARTMOGUL_API_KEY=\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        resolve_api_key()


def test_missing_dotenv_is_empty(tmp_path: Path) -> None:
    assert read_dotenv(tmp_path / "nope.env") == {}


def test_non_string_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="api_key must be a str"):
        resolve_api_key(123)  # type: ignore[arg-type]


def test_client_without_key_says_how_to_set_one() -> None:
    with pytest.raises(ConfigError) as caught:
        cmnb.Client()
    text = str(caught.value)
    assert "CHARTMOGUL_API_KEY" in text
    assert ".env" in text
    assert "api_key=" in text


# --- base URL ------------------------------------------------------------------------------


def test_default_base_url() -> None:
    assert resolve_base_url() == DEFAULT_BASE_URL == "https://api.chartmogul.com/v1"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.chartmogul.com", "https://api.chartmogul.com/v1"),
        ("https://api.chartmogul.com/", "https://api.chartmogul.com/v1"),
        ("https://api.chartmogul.com/v1", "https://api.chartmogul.com/v1"),
        ("https://api.chartmogul.com/v1/", "https://api.chartmogul.com/v1"),
        ("  https://API.ChartMogul.com/v1  ", "https://api.chartmogul.com/v1"),
        ("https://proxy.example.com/chartmogul", "https://proxy.example.com/chartmogul/v1"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765/v1"),
        ("http://localhost:8765/v1", "http://localhost:8765/v1"),
        ("http://[::1]:8765/", "http://[::1]:8765/v1"),
        ("http://127.9.9.9/v1", "http://127.9.9.9/v1"),
        ("https://example.test/V1", "https://example.test/v1"),
        ("https://example.test/V1/", "https://example.test/v1"),
        ("https://proxy.example.com/chartmogul/V1", "https://proxy.example.com/chartmogul/v1"),
        ("https://proxy.example.com/vault", "https://proxy.example.com/vault/v1"),
        ("https://proxy.example.com/v2/chartmogul", "https://proxy.example.com/v2/chartmogul/v1"),
    ],
)
def test_base_url_normalized(given: str, expected: str) -> None:
    assert resolve_base_url(given) == expected


def test_base_url_from_env_then_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    write_dotenv("CHARTMOGUL_BASE_URL=http://127.0.0.1:1/v1\n")
    assert resolve_base_url() == "http://127.0.0.1:1/v1"
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", "http://127.0.0.1:2")
    assert resolve_base_url() == "http://127.0.0.1:2/v1"
    assert resolve_base_url("http://127.0.0.1:3") == "http://127.0.0.1:3/v1"


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("http://api.chartmogul.com/v1", "unencrypted"),
        ("http://10.0.0.5:8080", "unencrypted"),
        ("ftp://api.chartmogul.com", "must look like"),
        ("api.chartmogul.com/v1", "must look like"),
        ("https://api.chartmogul.com/v1?x=1", "query"),
        ("https://api.chartmogul.com/v1#top", "fragment"),
        ("https://api.chartmogul.com:99999/v1", "not a valid URL"),
        ("https://example.test/v2", "API version 'v2'.*speaks is v1"),
        ("https://example.test/V2/", "API version 'V2'.*speaks is v1"),
        ("https://example.test/v0", "API version 'v0'"),
        ("https://example.test/v1.1", "API version 'v1.1'"),
        ("https://proxy.example.com/chartmogul/v10", "API version 'v10'"),
    ],
)
def test_bad_base_urls_are_refused(given: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        resolve_base_url(given)


def test_base_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_base_url("https://user:hunter2@api.chartmogul.com/v1")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.200.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("api.chartmogul.com", False),
        ("128.0.0.1", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_client_reports_mode_from_base_url(canary: str) -> None:
    with cmnb.Client(canary, base_url="http://127.0.0.1:9/") as local:
        assert local.base_url == "http://127.0.0.1:9/v1"
        assert local.is_loopback is True
        assert repr(local) == "Client(base_url='http://127.0.0.1:9/v1', mode=SANDBOX)"
    with cmnb.Client(canary) as live:
        assert live.base_url == "https://api.chartmogul.com/v1"
        assert live.is_loopback is False
        assert "mode=LIVE" in repr(live)


# --- timeouts and limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [(10, (10.0, 10.0)), (2.5, (2.5, 2.5)), ((3, 45), (3.0, 45.0))],
)
def test_normalize_timeout(
    given: float | tuple[float, float], expected: tuple[float, float]
) -> None:
    assert normalize_timeout(given) == expected


@pytest.mark.parametrize("bad", [0, -1, (1, 0), (1, 2, 3), "5", None, True, (None, 5)])
def test_bad_timeouts_are_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        normalize_timeout(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_attempts", 0),
        ("max_attempts", 2.5),
        ("deadline_s", 0),
        ("deadline_s", -3),
        ("rate_limit_per_s", 0),
        ("rate_limit_per_s", float("inf")),
        ("timeout", -1),
    ],
)
def test_client_refuses_bad_options(canary: str, option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=option.split("_per")[0]):
        cmnb.Client(canary, **{option: value})  # type: ignore[arg-type]
