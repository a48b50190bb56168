"""The example notebooks: saved as built, executed, and holding no secret.

nbval (``pytest --nbval notebooks``) re-runs every notebook and compares its outputs; these
tests check what nbval does not: that no key ever lands in a saved notebook — in an output or
in the widget state that Jupyter saves in ``metadata.widgets`` — even when a key is pasted into
the form's ``Password`` field and used.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import cmnb

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
SAVED = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# A sandbox key (sbx_ + 32 hex digits) or an unredacted Basic auth header.
KEY_SHAPES = re.compile(r"sbx_[0-9a-f]{32}|Basic (?!\*{8})[A-Za-z0-9+/=]{8,}")


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exposed(nb: dict[str, Any]) -> str:
    """Everything a saved notebook shows or stores besides its code: outputs and widget state."""
    parts = [json.dumps(cell.get("outputs", [])) for cell in nb["cells"]]
    parts.append(json.dumps(nb["metadata"].get("widgets", {})))
    return "\n".join(parts)


def widget_models(nb: dict[str, Any]) -> list[dict[str, Any]]:
    state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return list(state.values())


def assert_no_secret(nb: dict[str, Any], *secrets: str) -> None:
    text = exposed(nb)
    for secret in secrets:
        assert secret not in text
    assert KEY_SHAPES.findall(text) == []
    for model in widget_models(nb):
        if model["model_name"] == "PasswordModel":
            assert model["state"].get("value", "") == ""


def test_every_notebook_is_built_by_build_py() -> None:
    assert [path.name for path in SAVED] == sorted(load_build().NOTEBOOKS)


@pytest.mark.parametrize("path", SAVED, ids=lambda path: path.name)
def test_saved_notebook_is_what_build_py_writes_and_fully_executed(path: Path) -> None:
    build = load_build()
    nb = json.loads(path.read_text(encoding="utf-8"))
    expected = build.make(path.name, build.NOTEBOOKS[path.name])
    assert [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]] == [
        (c.cell_type, c.source) for c in expected.cells
    ], "edit notebooks/build.py, then run it: the saved notebook differs from its source"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code_cells), "saved without running every cell"
    errors = [o for c in code_cells for o in c["outputs"] if o["output_type"] == "error"]
    assert errors == []


@pytest.mark.parametrize("path", SAVED, ids=lambda path: path.name)
def test_saved_notebook_holds_no_secret(path: Path, canary: str) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert_no_secret(nb, canary)


def test_form_notebooks_save_the_forms_picture_and_no_widget_state() -> None:
    """Viewers that run no widget code show the picture in the form's output. Saved widget
    state would make nbconvert and nbviewer draw the widget from it instead, with JavaScript
    from a CDN (a blank offline): see tests/test_notebook_export.py."""
    for name in ("01-create-a-source.ipynb", "app.ipynb"):
        nb = json.loads((NOTEBOOKS_DIR / name).read_text(encoding="utf-8"))
        assert "widgets" not in nb["metadata"]
        forms = [
            output["data"]
            for cell in nb["cells"]
            for output in cell.get("outputs", [])
            if "".join(output.get("data", {}).get("text/plain", "")).startswith("DataSourceForm(")
        ]
        assert forms and all("cmnb-snapshot" in "".join(data["text/html"]) for data in forms)


def test_the_packaged_app_notebook_is_the_tested_one_without_outputs() -> None:
    """``cmnb app`` serves cmnb/notebook/app.ipynb (package data); build.py writes it from the
    same cells as notebooks/app.ipynb, which nbval runs."""
    packaged = json.loads(
        (NOTEBOOKS_DIR.parent / "cmnb" / "notebook" / "app.ipynb").read_text(encoding="utf-8")
    )
    tested = json.loads((NOTEBOOKS_DIR / "app.ipynb").read_text(encoding="utf-8"))
    assert [c["source"] for c in packaged["cells"]] == [c["source"] for c in tested["cells"]]
    assert all(not c.get("outputs") for c in packaged["cells"])
    assert "widgets" not in packaged["metadata"]


TUTORIALS = [name for name in load_build().NOTEBOOKS if name != "app.ipynb"]


def test_every_tutorial_has_a_seed_of_its_own() -> None:
    """So that a uuid shown in one notebook shows up in no other."""
    seeds = load_build().SEEDS
    assert set(TUTORIALS) <= set(seeds)
    assert len(set(seeds.values())) == len(seeds)


def test_the_build_environment_seeds_the_sandbox_and_hides_any_key(tmp_path: Path) -> None:
    build = load_build()
    first = build.kernel_env("01-create-a-source.ipynb", tmp_path)
    assert first["CMNB_SANDBOX_SEED"] == str(build.SEEDS["01-create-a-source.ipynb"])
    assert first["CHARTMOGUL_API_KEY"] is first["CHARTMOGUL_BASE_URL"] is None
    assert build.kernel_env("app.ipynb", tmp_path)["CMNB_SANDBOX_SEED"] is None
    env = build.changed({"CHARTMOGUL_API_KEY": "x", "CMNB_SANDBOX_SEED": "7", "HOME": "/h"}, first)
    assert env == {"CMNB_SANDBOX_SEED": "1", "HOME": "/h", "IPYTHONDIR": str(tmp_path)}


def test_the_build_kernels_create_one_at_a_time(tmp_path: Path) -> None:
    """The kernels' startup file pins what it means to pin (it raises if the setting moved)."""
    build = load_build()
    startup = build.ipython_dir(tmp_path) / "profile_default" / "startup"
    (script,) = startup.glob("*.py")
    from cmnb.api import _apply, _bulk

    before = (_bulk.MAX_CONCURRENCY, _apply.MAX_CONCURRENCY)
    try:
        namespace: dict[str, Any] = {}
        exec(script.read_text(encoding="utf-8"), namespace)
        assert (_bulk.MAX_CONCURRENCY, _apply.MAX_CONCURRENCY) == (1, 1)
        assert [name for name in namespace if not name.startswith("__")] == []
    finally:
        _bulk.MAX_CONCURRENCY, _apply.MAX_CONCURRENCY = before


def outputs_of(cell: nbformat.NotebookNode) -> list[str]:
    """A cell's error outputs and stderr text, each as one line to show in a failure."""
    shown = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "error":
            shown.append(f"{output['ename']}: {output['evalue']}")
        elif output["output_type"] == "stream" and output["name"] == "stderr":
            shown.append("stderr: " + output["text"].strip())
    return shown


@pytest.mark.parametrize("name", TUTORIALS)
def test_a_notebook_runs_clean_cell_by_cell_and_top_to_bottom_again(
    name: str, tmp_path: Path
) -> None:
    """Readers re-run cells. In one kernel, with the build's environment: every cell twice in
    a row, then the whole notebook again from the top. No cell may show an error or write to
    stderr: a cell that shows an error does it on purpose, and catches it."""
    build = load_build()
    env = build.changed(os.environ, build.kernel_env(name, build.ipython_dir(tmp_path)))
    nb = build.make(name, build.NOTEBOOKS[name])
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    code_cells = [(index, cell) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    problems = []
    with client.setup_kernel(env=env):
        runs = [(index, cell, when) for index, cell in code_cells for when in ("", "again")]
        runs += [(index, cell, "second pass") for index, cell in code_cells]
        for index, cell, when in runs:
            client.execute_cell(cell, index)
            problems += [f"cell {index} {when}: {line}" for line in outputs_of(cell)]
    assert problems == []


PASTE_CELLS = [
    # The user pastes a wrong key, then the right one, into the form and presses Go LIVE
    # (the key comes from the environment so that it is not in the notebook's code either).
    """
import logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, format="%(name)s %(message)s")
form = cmnb.DataSourceForm()
form
""",
    """
import os
form.key_input.value = os.environ["PASTED_KEY"] + "-wrong"
form.go_live_button.click()
print(form.status.value)
""",
    """
form.key_input.value = os.environ["PASTED_KEY"]
form.go_live_button.click()
print(form.status.value)
print(repr(form.client), repr(form.client.data_sources))
""",
    """
form.name_input.value = "Created with a pasted key"
form.create_button.click()
print(form.status.value)
form.table.df
""",
    "form",
]


def test_a_key_pasted_into_the_form_is_used_but_never_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    """Run app.ipynb's form in a real kernel with no key configured, paste the canary key, use
    it, and save the executed notebook with its widget state: the key is nowhere in it."""
    with cmnb.Sandbox(canary, seed=5) as account:
        # Go LIVE builds a client from the pasted key and the configured base URL: point that
        # URL at a sandbox that accepts only the canary key, so "LIVE" stays on this machine.
        monkeypatch.setenv("CHARTMOGUL_BASE_URL", account.url)
        monkeypatch.delenv("CHARTMOGUL_API_KEY", raising=False)
        monkeypatch.setenv("PASTED_KEY", canary)
        nb = nbformat.read(NOTEBOOKS_DIR / "app.ipynb", as_version=4)
        nb.cells = [c for c in nb.cells if c.cell_type == "code"][:1]  # `import cmnb` …
        nb.cells += [nbformat.v4.new_code_cell(source.strip()) for source in PASTE_CELLS]
        NotebookClient(
            nb,
            kernel_name="python3",
            timeout=60,
            resources={"metadata": {"path": str(tmp_path)}},
            store_widget_state=True,
        ).execute()
        received = account.requests
        names = [source["name"] for source in account.sources()]
    saved = tmp_path / "executed.ipynb"
    nbformat.write(nb, saved)

    outputs = exposed(json.loads(saved.read_text(encoding="utf-8")))
    assert "The API key was not accepted" in outputs  # the wrong key was refused …
    assert "Now LIVE" in outputs  # … the right one accepted …
    assert names == ["Created with a pasted key"]  # … and used for the create
    assert [(r.method, r.path, r.status) for r in received] == [
        ("GET", "/v1/ping", 401),
        ("GET", "/v1/ping", 200),
        ("POST", "/v1/data_sources", 201),
    ]
    assert "cmnb " in outputs  # the DEBUG log lines were captured and scanned too
    assert_no_secret(json.loads(saved.read_text(encoding="utf-8")), canary)
    assert canary not in saved.read_text(encoding="utf-8")  # nor anywhere else in the file


@pytest.mark.parametrize(
    "leak",
    [
        {"outputs": [{"output_type": "stream", "name": "stdout", "text": "key=SECRET"}]},
        {"widget": {"model_name": "TextModel", "state": {"value": "SECRET"}}},
        {"widget": {"model_name": "PasswordModel", "state": {"value": "anything typed"}}},
        {"outputs": [{"output_type": "stream", "name": "stdout", "text": "Basic c2J4X2FiYzo="}]},
    ],
)
def test_the_scan_finds_a_key_wherever_it_is(leak: dict[str, Any]) -> None:
    nb: dict[str, Any] = {
        "cells": [{"cell_type": "code", "outputs": leak.get("outputs", [])}],
        "metadata": {},
    }
    if "widget" in leak:
        nb["metadata"]["widgets"] = {WIDGET_STATE: {"state": {"id1": leak["widget"]}}}
    with pytest.raises(AssertionError):
        assert_no_secret(nb, "SECRET")
