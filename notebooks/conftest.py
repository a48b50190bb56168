"""The nbval run (``pytest --nbval notebooks``): each notebook's kernel gets the environment that
``build.py`` ran it with (:func:`build.kernel_env`): its own ``CMNB_SANDBOX_SEED``, the build's
IPython directory, no API key.

nbval starts one kernel per notebook, when the notebook's first cell is set up. The hook below
runs before that (``tryfirst``), so the kernel inherits the variables; they are put back once
the notebook's last cell is done. Outside ``notebooks/`` this file does nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_build", HERE / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
_state: dict[str, object] = {}  # "ipython": the IPython dir; "notebook", "saved": what is set


def _is_notebook(item: pytest.Item | None) -> bool:
    return item is not None and item.path.suffix == ".ipynb"


def _set(changes: dict[str, str | None]) -> None:
    for variable, value in changes.items():
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = value


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_notebook(item) or _state.get("notebook") == item.path:
        return
    if "ipython" not in _state:
        _state["ipython"] = build.ipython_dir(tempfile.mkdtemp(prefix="cmnb-nbval-ipython-"))
    changes = build.kernel_env(item.path.name, _state["ipython"])
    _state["saved"] = {variable: os.environ.get(variable) for variable in changes}
    _state["notebook"] = item.path
    _set(changes)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _is_notebook(item) and (nextitem is None or nextitem.path != item.path):
        saved = _state.pop("saved", {})
        assert isinstance(saved, dict)
        _set(saved)
        _state.pop("notebook", None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    ipython = _state.pop("ipython", None)
    if isinstance(ipython, Path):
        shutil.rmtree(ipython, ignore_errors=True)
