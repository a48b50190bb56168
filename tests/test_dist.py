"""The distribution as a user gets it: the sdist and the wheel, checked, installed away from
the clone into a virtualenv of their own, and run there.

``pip install 'cmnb[notebook]'`` from the wheel, in a venv under the test's tmp dir, with HOME
and the working directory there too: nothing can come from the source tree. The install reuses
pip's cache, so a second run costs seconds. Each check is its own test; what cannot run here
(no Voilà in the installed extra, no network for pip) is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmnb._version import __version__

pytestmark = pytest.mark.dist

ROOT = Path(__file__).resolve().parent.parent
BUILD_S = 300
INSTALL_S = 600
APP_START_S = 60


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from this checkout by ``python -m build``."""
    if shutil.which("git") is None:
        pytest.skip("dist checks skipped: git is missing")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=BUILD_S,
    )
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("cmnb-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh venv holding the wheel with its notebook extra; returns the environment to run
    it with (HOME, data dir and working directory of its own, no API key)."""
    home = tmp_path_factory.mktemp("home")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    done = subprocess.run(
        [*pip, f"{wheel_of(dist)}[notebook]"], capture_output=True, text=True, timeout=INSTALL_S
    )
    if done.returncode != 0:
        pytest.fail(f"pip install of the wheel failed:\n{done.stderr[-3000:]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHARTMOGUL_", "PYTHON"))}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VENV=str(venv),
    )
    return env


def run(
    env: dict[str, str], *command: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=timeout
    )


def test_sdist_and_wheel_pass_twine_check_strict(dist: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_wheel_contents_are_clean(dist: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_wheel_contents", str(wheel_of(dist))],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_wheel_holds_every_layer_the_types_marker_and_the_app_notebook(dist: Path) -> None:
    names = set(zipfile.ZipFile(wheel_of(dist)).namelist())
    for package in ("cmnb", "cmnb/api", "cmnb/notebook", "cmnb/cli", "cmnb/sandbox"):
        assert f"{package}/__init__.py" in names, package
    assert "cmnb/py.typed" in names
    assert "cmnb/notebook/app.ipynb" in names
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "benchmarks/"))]


def test_the_installed_cmnb_is_the_wheel_not_the_checkout(installed: dict[str, str]) -> None:
    done = run(installed, "python", "-c", "import cmnb; print(cmnb.__file__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(installed["VENV"]), done.stdout


def test_installed_version_is_the_one_written_in_the_package(installed: dict[str, str]) -> None:
    done = run(installed, "cmnb", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cmnb", __version__]


def test_installed_cli_remembers_its_sandbox_between_commands(installed: dict[str, str]) -> None:
    created = run(installed, "cmnb", "create", "Dist check A")
    assert created.returncode == 0, created.stderr
    listed = run(installed, "cmnb", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Dist check A" in listed.stdout
    # The notice names the state file, which lives in the user's data directory.
    state = Path(installed["XDG_DATA_HOME"]) / "cmnb"
    assert str(state) in listed.stderr
    assert any(state.iterdir())


def test_installed_form_builds_without_a_key(installed: dict[str, str]) -> None:
    code = "import cmnb; form = cmnb.DataSourceForm(); print(repr(form))"
    done = run(installed, "python", "-c", code)
    assert done.returncode == 0, done.stderr
    assert "DataSourceForm(mode=SANDBOX)" in done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fetch(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.fixture
def app(installed: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``cmnb app --no-browser`` on a free port; yields (base URL, the token it printed)."""
    port = free_port()
    process = subprocess.Popen(
        ["cmnb", "app", "--no-browser", "--port", str(port)],
        env=installed,
        cwd=installed["HOME"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token = None
        deadline = time.monotonic() + APP_START_S
        assert process.stdout is not None
        while token is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            found = re.search(r"token=([0-9a-f]{16,})", line)
            token = found.group(1) if found else None
        assert token, "cmnb app printed no URL with a token"
        base = f"http://127.0.0.1:{port}/"
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_installed_app_refuses_a_visitor_without_the_token(app: tuple[str, str]) -> None:
    base, _ = app
    status, _body = fetch(base)
    assert status in (302, 403), status


def test_installed_app_serves_the_form_with_the_token(app: tuple[str, str]) -> None:
    base, token = app
    status, body = fetch(f"{base}?token={token}")
    assert status == 200
    assert "DataSourceForm" in body or "cmnb" in body
