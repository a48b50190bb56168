"""The layering rules hold, and breaking one fails ``make lint``.

``lint-imports`` (import-linter) checks the contracts in pyproject.toml. Here each contract is
broken on purpose in a copy of the package, by adding one forbidden import, and the check must
say which contract broke and exit non-zero; the untouched copy passes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (the test extra)"
)


def lint_copy(tmp_path: Path, module: str = "", line: str = "") -> subprocess.CompletedProcess[str]:
    """Run lint-imports on a copy of cmnb/ with ``line`` appended to ``module``."""
    shutil.copytree(ROOT / "cmnb", tmp_path / "cmnb", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if module:
        target = tmp_path / module
        target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    done = lint_copy(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("cmnb/api/_secret.py", "import pandas", "The client layer never imports pandas"),
        ("cmnb/connect.py", "import IPython", "The client layer never imports pandas"),
        ("cmnb/api/_client.py", "from ..notebook import _table", "Layers:"),
        ("cmnb/sandbox/store.py", "from ..api import _models", "The sandbox uses the standard"),
        ("cmnb/cli/_data.py", "import ipywidgets", "The CLI never imports ipywidgets"),
        ("cmnb/notebook/_bulk_panel.py", "from . import _form", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    done = lint_copy(tmp_path, module, line)
    assert done.returncode != 0
    broken_lines = [text for text in done.stdout.splitlines() if " BROKEN" in text]
    assert any(text.startswith(broken) for text in broken_lines), done.stdout
