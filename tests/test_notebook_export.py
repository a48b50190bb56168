"""What a reader without a widget manager sees: each notebook exported to HTML by nbconvert.

GitHub, an exported page read offline, nbviewer without its CDN and a mailed notebook run no
widget code. The form and the progress bar carry a picture (``text/html``) for them; these
tests export the saved notebooks with nbconvert's HTML exporter with the network cut off, drop
every ``<script>`` and ``<style>``, and look for the text a reader should see. A last test runs
a notebook in a real kernel, as a user would, and exports it twice: saved the usual way (no
widget state) and with its widget state, where nbconvert draws the widget instead.
"""

from __future__ import annotations

import copy
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbconvert")
pytest.importorskip("bs4")

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
SAVED = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MODE_LINE = "SANDBOX — nothing leaves this machine."
SUMMARY = re.compile(r"\d+ names: \d+ created(, \d+ \w+)*")


@contextmanager
def no_network() -> Iterator[None]:
    """Every socket connection from this process fails while the export runs: nbconvert must
    build the page from what is installed (its templates, CSS and pygments), nothing fetched."""
    with pytest.MonkeyPatch.context() as patch:

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise OSError("no network while exporting")

        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        yield


def export(nb: Any) -> str:
    from nbconvert import HTMLExporter

    with no_network():
        page, _ = HTMLExporter().from_notebook_node(copy.deepcopy(nb))
    assert isinstance(page, str)
    return page


def visible(markup: str) -> str:
    """The text a reader without JavaScript sees: no script, style or template, spaces folded."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "template"]):
        hidden.decompose()
    return " ".join(soup.get_text(" ").split())


def outputs(nb: Any) -> Iterator[Any]:
    for cell in nb.cells:
        yield from cell.get("outputs", [])


def rich(nb: Any) -> Iterator[dict[str, Any]]:
    """The data of every display_data / execute_result output."""
    for output in outputs(nb):
        if output.output_type in ("display_data", "execute_result"):
            yield output.data


@pytest.mark.parametrize("path", SAVED, ids=lambda path: path.name)
def test_an_offline_export_shows_every_picture_and_table(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata  # saved state would make nbconvert draw widgets instead
    page = export(nb)
    seen = visible(page)
    htmls = [data["text/html"] for data in rich(nb) if "text/html" in data]
    for data in rich(nb):
        if WIDGET_VIEW in data:
            assert "text/html" in data, f"a widget without a picture: {data['text/plain']}"
    for markup in htmls:  # the form's and the bar's pictures, every table, the client's line
        assert visible(markup) in seen
    assert WIDGET_VIEW not in page  # no widget left for JavaScript to draw …
    assert "html-manager" not in page  # … and no widget manager fetched from a CDN


def test_the_form_and_the_progress_bar_are_visible_where_they_were_blank() -> None:
    pages = {
        path.name: visible(export(nbformat.read(path, as_version=4)))
        for path in SAVED
        if path.name.startswith(("01", "02", "app"))
    }
    for name in ("01-create-a-source.ipynb", "app.ipynb"):
        assert MODE_LINE in pages[name]
        assert "A picture of the form as it was when this cell ran." in pages[name]
    bulk = nbformat.read(NOTEBOOKS_DIR / "02-bulk-setup.ipynb", as_version=4)
    bars = [d for d in rich(bulk) if d.get("text/plain", "").startswith("create_many progress")]
    assert bars, "02 shows no progress bar"
    for bar in bars:
        summary = SUMMARY.search(visible(bar["text/html"]))
        assert summary is not None  # the bar as last drawn: the run's summary, not 0/N
        assert summary.group() in pages["02-bulk-setup.ipynb"]


@pytest.mark.parametrize("path", SAVED, ids=lambda path: path.name)
def test_an_offline_export_carries_its_pictures_inside(path: Path) -> None:
    """A picture in a notebook's text travels with it (a cell attachment, exported as data):
    a link to ../docs/ would show broken in an exported page or a mailed notebook."""
    page = export(nbformat.read(path, as_version=4))
    images = re.findall(r'<img[^>]*\bsrc="([^"]+)"', page)
    assert [src for src in images if not src.startswith("data:image/")] == []
    if path.name.startswith("01"):
        assert any(src.startswith("data:image/png;base64,") for src in images)


def test_no_notebook_opens_with_the_sandbox_notice_on_stderr() -> None:
    for path in SAVED:
        nb = nbformat.read(path, as_version=4)
        errors = [o.text for o in outputs(nb) if o.output_type == "stream" and o.name == "stderr"]
        assert not any("embedded sandbox" in text for text in errors), path.name


USER_CELLS = [
    "import cmnb\n\nclient = cmnb.connect(seed=15)\nclient",
    "form = cmnb.DataSourceForm(client)\nform",
    # what a user does in the form above: type a name, press Create
    'form.name_input.value = "Export check"\nform.create_button.click()',
    "form",  # shown again: its picture is the form as it is now
    'client.data_sources.create_many(["Billing EU", "", "Export check"], progress="auto")',
]


@pytest.mark.slow
def test_a_notebook_run_by_a_user_exports_what_the_form_showed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in USER_CELLS]
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
        store_widget_state=True,
    ).execute()

    # In a kernel, connect() says "sandbox" through the client's display, not on stderr.
    assert not [o for o in outputs(nb) if o.output_type == "stream" and o.name == "stderr"]
    (client_line,) = [d["text/html"] for d in rich(nb) if "cmnb-client" in d.get("text/html", "")]
    assert "SANDBOX (no API key configured)" in visible(client_line)

    # Saved the usual way (JupyterLab saves no widget state unless asked to).
    usual = copy.deepcopy(nb)
    usual.metadata.pop("widgets")
    seen = visible(export(usual))
    assert "SANDBOX (no API key configured) — the embedded sandbox at" in seen
    assert seen.count(MODE_LINE) == 2  # the form, shown twice
    assert "✔ Created “ Export check ” — ds_" in seen  # the status line (<bdi> around the name)
    assert re.search(r"Export check Custom .{0,60}ds_", seen)  # its table row
    assert "create_many 3 names: 1 created, 1 existing, 1 failed" in seen  # the bar's summary

    # Saved with its widget state: nbconvert prefers the widget view, whose JavaScript comes
    # from a CDN, to the picture (a blank page offline). The docs say so.
    page = export(nb)
    assert page.count(f'<script type="{WIDGET_VIEW}">') == 3
    assert "@jupyter-widgets/html-manager@" in page
    assert MODE_LINE not in visible(page) and "create_many 3 names" not in visible(page)
