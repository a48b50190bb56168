"""Shared fixtures. ``CANARY`` is the fake API key every test uses and then looks for."""

from __future__ import annotations

import pytest

CANARY = "cmnb_canary_9f2c7e41d0b84a6f"


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test sees the developer's real key, base URL or .env file."""
    monkeypatch.delenv("CHARTMOGUL_API_KEY", raising=False)
    monkeypatch.delenv("CHARTMOGUL_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def canary() -> str:
    return CANARY
