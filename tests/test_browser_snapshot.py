"""Which of an output's two faces a real front end shows: the live widget or its picture.

The form's and the progress bar's outputs hold both the widget view and a static picture
(``text/html``). JupyterLab 4 and Notebook 7 must draw the live widget for outputs made in the
session (the picture never shows), and the picture for a saved notebook opened from disk
(untrusted: the widget view is an "unsafe" type they skip). Voilà must draw the widget. An
exported HTML page opened with no network must show the picture. Driven by Debian's Chromium
through Playwright, like tests/test_browser.py (whose helpers this uses); skipped with the
reason when a tool is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from test_browser import (
    BIN,
    NOTEBOOKS_DIR,
    UI_TIMEOUT_MS,
    browser,  # noqa: F401 (a fixture)
    isolated_env,
    jupyter_command,
    notebook7_missing,
    serve,
)

pytestmark = pytest.mark.browser

CAPTION = "A picture of the form as it was when this cell ran."
CELLS = [
    "import cmnb\n\nclient = cmnb.connect()\nclient",
    "form = cmnb.DataSourceForm(client)\nform",
    'client.data_sources.create_many(["Alpha", "Beta", ""], progress="auto")',
]
SUMMARY = "3 names: 2 created, 1 failed"


def write_notebook(folder: Path, name: str, *, executed: bool) -> Path:
    """The cells above, as a user writes them; ``executed``: run and saved with outputs the
    usual way (no widget state), as a colleague would receive it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    if executed:
        NotebookClient(nb, timeout=60, resources={"metadata": {"path": str(folder)}}).execute()
        nb.metadata.pop("widgets", None)
    path = folder / name
    nbformat.write(nb, path)
    return path


def wait_for_the_kernel(page: Any, app: str) -> None:
    """As tests/test_browser.py waits: JupyterLab's status bar, Notebook 7's kernel logo."""
    from playwright.sync_api import expect

    if app == "lab":
        status = page.locator("#jp-main-statusbar")
        expect(status).to_contain_text("Python 3 (ipykernel) | Idle", timeout=60_000)
    else:
        expect(page.locator(".jp-NotebookKernelLogo img")).to_have_attribute(
            "title", "Python 3 (ipykernel)", timeout=60_000
        )
        indicator = page.locator(".jp-Notebook-ExecutionIndicator")
        expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)


def run_all(page: Any) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_live_front_end_draws_the_widgets_and_a_saved_notebook_their_pictures(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    app: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if app == "notebook" and (reason := notebook7_missing()):
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import expect

    root = tmp_path / "notebooks"
    root.mkdir()
    monkeypatch.delenv("CHARTMOGUL_API_KEY", raising=False)
    write_notebook(root, "fresh.ipynb", executed=False)
    write_notebook(root, "received.ipynb", executed=True)
    url = "lab/tree" if app == "lab" else "notebooks"
    env = isolated_env(tmp_path)
    with serve(jupyter_command(app, root), cwd=root, env=env, log=tmp_path / "app.log") as port:
        # A saved notebook opened from disk, not run: the pictures, no widget.
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/{url}/received.ipynb", timeout=60_000)
        expect(page.get_by_text(CAPTION)).to_be_visible(timeout=60_000)
        expect(page.get_by_text("SANDBOX — nothing leaves this machine.")).to_be_visible()
        expect(page.locator(".cmnb-progress")).to_contain_text(SUMMARY)
        expect(page.get_by_label("Source name")).to_have_count(0)
        page.close()

        # The same cells run in the front end: live widgets, no picture, nothing on stderr.
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/{url}/fresh.ipynb", timeout=60_000)
        wait_for_the_kernel(page, app)
        run_all(page)
        expect(page.get_by_label("Source name")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("SANDBOX (no API key configured)")).to_be_visible()
        bar = page.locator(".widget-hprogress, .widget-progress")
        expect(bar).to_have_count(1)  # updated at the end of the run: still one, still live
        expect(page.get_by_text(SUMMARY, exact=True)).to_be_visible()
        expect(page.get_by_text(CAPTION)).to_have_count(0)
        expect(page.locator(".cmnb-snapshot")).to_have_count(0)
        expect(page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')).to_have_count(0)
        page.get_by_label("Source name").fill("Typed live")  # the widget answers the kernel
        page.get_by_role("button", name="Create", exact=True).click()
        expect(page.get_by_text("✔ Created “Typed live” — ds_")).to_be_visible()
        page.screenshot(path=str(tmp_path / f"{app}-live.png"), full_page=True)


def test_voila_draws_the_live_form_not_its_picture(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(NOTEBOOKS_DIR / "app.ipynb", site)
    voila = [str(BIN / "voila"), "app.ipynb", "--no-browser", "--Voila.ip=127.0.0.1"]
    env = isolated_env(tmp_path)
    with serve(voila, cwd=site, env=env, log=tmp_path / "voila.log") as port:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
        expect(page.get_by_label("Source name")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("SANDBOX — nothing leaves this machine.")).to_have_count(1)
        expect(page.get_by_text(CAPTION)).to_have_count(0)
        expect(page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')).to_have_count(0)


def test_an_exported_page_opened_offline_shows_the_pictures(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """nbconvert's page from a notebook saved the usual way, opened from a file with every
    network request refused: the form's and the bar's pictures are on screen."""
    from nbconvert import HTMLExporter
    from playwright.sync_api import expect

    monkeypatch.delenv("CHARTMOGUL_API_KEY", raising=False)
    saved = write_notebook(tmp_path, "received.ipynb", executed=True)
    page_file = tmp_path / "received.html"
    page_file.write_text(HTMLExporter().from_filename(str(saved))[0], encoding="utf-8")

    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    fetched: list[str] = []

    def refuse(route: Any) -> None:
        fetched.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith("file:"), refuse)
    page = context.new_page()
    page.goto(page_file.as_uri())
    expect(page.get_by_text(CAPTION)).to_be_visible()
    expect(page.get_by_text("SANDBOX — nothing leaves this machine.")).to_be_visible()
    expect(page.locator(".cmnb-progress")).to_contain_text(SUMMARY)
    expect(page.get_by_text("SANDBOX (no API key configured)")).to_be_visible()
    page.screenshot(path=str(tmp_path / "offline-export.png"), full_page=True)
    context.close()
    assert fetched  # the page asked for its CDN scripts (require.js, MathJax), refused: no matter
