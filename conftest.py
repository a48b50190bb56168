"""The environment every ```python block of README.md and docs/*.md runs in (pytest-markdown-docs).

``make test`` runs them with ``pytest --markdown-docs README.md docs``. Each block runs on its
own, in a fresh namespace, the way a reader types it into a new notebook with no API key:

- no ``CHARTMOGUL_API_KEY`` or ``CHARTMOGUL_BASE_URL``, and an empty temporary working directory
  (no ``.env``; the files a block writes land there);
- ``cmnb.connect()`` answers with a fresh, seeded embedded sandbox (``seed=2026``) that already
  holds one integration source, ``Stripe`` (system ``Stripe``);
- HTTPS to anywhere but the loopback goes to a dead proxy: a block can never reach the real API.

Blocks that continue a page's story may use these globals without defining them: ``cmnb``,
``client`` (``cmnb.connect()``) and ``sb`` (the sandbox that client talks to). A fence can ask
for a fixture below with an option after the language, e.g. ```` ```python fixture:key_in_env ````
(GitHub shows only the language).

Outside the docs' blocks (``tests/``) this file does nothing.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DOCS_SEED = 2026
DOCS_SOURCES = [{"name": "Stripe", "system": "Stripe"}]

_current: dict[str, Any] = {}


def _is_docs_block(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("markdown-docs") is not None


@pytest.fixture(autouse=True)
def _docs_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """For a docs block only: no key, a temporary cwd, a fresh seeded embedded sandbox."""
    if not _is_docs_block(request):
        yield  # tests/ items: nothing, not even a tmp dir
        return
    import cmnb

    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    tmp_path: Path = request.getfixturevalue("tmp_path")

    connection = importlib.import_module("cmnb.connect")
    monkeypatch.delenv("CHARTMOGUL_API_KEY", raising=False)
    monkeypatch.delenv("CHARTMOGUL_BASE_URL", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the no-key CLI's sandbox
    sandbox = cmnb.Sandbox(seed=DOCS_SEED, sources=DOCS_SOURCES).start()
    monkeypatch.setattr(connection, "_embedded", sandbox)
    monkeypatch.setattr(connection, "_noticed", False)
    _current.update(sandbox=sandbox)
    root_handlers, cmnb_level = logging.root.handlers[:], logging.getLogger("cmnb").level
    try:
        yield
    finally:
        logging.root.handlers[:] = root_handlers  # a block's logging.basicConfig() ends here
        logging.getLogger("cmnb").setLevel(cmnb_level)
        _current.clear()
        sandbox.stop()


@pytest.fixture
def key_in_env(_docs_sandbox: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key configured the way a reader does it: ``CHARTMOGUL_API_KEY`` (and, here, a base URL
    pointing at the seeded sandbox, so ``cmnb.Client()`` and ``cmnb.connect()`` go "LIVE")."""
    sandbox = _current["sandbox"]
    monkeypatch.setenv("CHARTMOGUL_API_KEY", sandbox.api_key)
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", sandbox.url)


@pytest.fixture
def self_signed_cert(_docs_sandbox: None, tmp_path: Path) -> None:
    """``cert.pem`` and ``key.pem`` for 127.0.0.1 in the working directory, made by openssl."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


@pytest.hookimpl(optionalhook=True)  # a venv without pytest-markdown-docs still loads this file
def pytest_markdown_docs_globals() -> dict[str, Any]:
    """``cmnb``, ``client`` and ``sb`` for the blocks that continue a page's story."""
    if "sandbox" not in _current:
        return {}
    import cmnb

    return {"cmnb": cmnb, "client": cmnb.connect(), "sb": _current["sandbox"]}
