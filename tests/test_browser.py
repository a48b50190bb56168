"""The form in a real browser: Voilà serving ``notebooks/app.ipynb``, and JupyterLab and
Jupyter Notebook 7 running ``notebooks/01-create-a-source.ipynb``, all driven by Debian's
Chromium through Playwright.

Skipped, with the reason shown, when Chromium, Playwright, Voilà, JupyterLab or Notebook 7 is
missing (``make test`` installs Chromium first when run as root). Never runs ``playwright install``.
Servers listen on 127.0.0.1 only, with a HOME and runtime dir of their own under the test's
tmp dir, and serve copies of the notebooks, so the saved outputs in the repo are never touched.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import cmnb

pytestmark = pytest.mark.browser

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
BIN = Path(sys.executable).parent
SERVER_START_S = 30.0
UI_TIMEOUT_MS = 30_000


def missing_tools() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (make test installs Debian's chromium when run as root)"
    for module in ("playwright", "voila", "jupyterlab"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[browser]')"
    return None


def notebook7_missing() -> str | None:
    try:
        version = importlib.metadata.version("notebook")
    except importlib.metadata.PackageNotFoundError:
        return "notebook is not installed (pip install -e '.[browser]')"
    if int(version.split(".")[0]) < 7:
        return f"notebook {version} is installed, this test needs 7 or later ('notebook>=7.0')"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    reason = missing_tools()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No developer config, key or proxy: a HOME and Jupyter dirs of the test's own."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHARTMOGUL_", "JUPYTER"))}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def copy_without_outputs(notebook: Path, folder: Path) -> int:
    """Copy ``notebook`` into ``folder`` with no outputs, counts or saved widget state, so that
    whatever a page shows, the kernel made. Returns the number of code cells."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell in code_cells:
        cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, folder / notebook.name)
    return len(code_cells)


def jupyter_command(app: str, root: Path) -> list[str]:
    """``jupyter lab`` or ``jupyter notebook`` on ``root``: loopback, no token, no browser."""
    return [
        str(BIN / "jupyter"),
        app,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
    ]


@contextmanager
def serve(command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Iterator[int]:
    """Start a Jupyter server on a free loopback port; yield the port; stop it."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, f"--port={port}"], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"{command[0]} exited early:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{command[0]} did not listen within {SERVER_START_S} s")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_voila_app_creates_a_source_and_shows_inline_errors(
    browser: Any, tmp_path: Path, canary: str
) -> None:
    from playwright.sync_api import expect

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(NOTEBOOKS_DIR / "app.ipynb", site)
    env = isolated_env(tmp_path)
    # app.ipynb calls cmnb.connect(). Configure a key and a base URL that point at a sandbox of
    # this test's own: the page then works exactly as with an account, and the test can seed a
    # source that the form's table does not know (a duplicate only the server can refuse) and
    # check what reached the "server".
    with cmnb.Sandbox(canary, seed=7, sources=[{"name": "Billing EU"}]) as account:
        env.update(CHARTMOGUL_API_KEY=canary, CHARTMOGUL_BASE_URL=account.url)
        voila = [str(BIN / "voila"), "app.ipynb", "--no-browser", "--Voila.ip=127.0.0.1"]
        with serve(voila, cwd=site, env=env, log=tmp_path / "voila.log") as port:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)

            name = page.get_by_label("Source name")
            create = page.get_by_role("button", name="Create", exact=True)
            expect(page.get_by_text("SANDBOX — nothing leaves this machine.")).to_be_visible()
            expect(create).to_be_disabled()  # nothing typed yet
            expect(page.get_by_text("The name is empty.")).to_be_visible()

            # 1. Create: the status line and a row in the table.
            name.fill("In-house billing")
            expect(create).to_be_enabled()
            create.click()
            expect(page.get_by_text("✔ Created “In-house billing” — ds_")).to_be_visible()
            row = page.locator("table tbody tr").filter(has_text="In-house billing")
            expect(row).to_have_count(1)
            expect(name).to_have_value("")  # cleared for the next name

            # 2. A duplicate the form knows (it is in its table): refused before sending.
            name.fill("In-house billing")
            expect(page.get_by_text("“In-house billing” is already in this table.")).to_be_visible()
            expect(create).to_be_disabled()

            # 3. A duplicate only the server knows: its refusal, inline, with the existing uuid.
            name.fill("Billing EU")
            create.click()
            refusal = page.get_by_text("✖ A data source named “Billing EU” already exists (ds_")
            expect(refusal).to_be_visible()
            expect(refusal).to_contain_text("Tick “If it exists, reuse it” to use it.")

            # 4. A blank name: the hint says why and the button stays disabled; Enter sends nothing.
            name.fill("   ")
            expect(page.get_by_text("The name is blank (only whitespace).")).to_be_visible()
            expect(create).to_be_disabled()
            name.press("Enter")

            # 5. Enter in the name field creates, like a click on Create.
            name.fill("Entered billing")
            name.press("Enter")
            expect(page.get_by_text("✔ Created “Entered billing” — ds_")).to_be_visible()
            expect(name).to_have_value("")

            page.screenshot(path=str(tmp_path / "voila-form.png"), full_page=True)
            html = page.content()
        posts = [(r.path, r.body, r.status) for r in account.requests if r.method == "POST"]
        names = [source["name"] for source in account.sources()]

    assert posts == [
        ("/v1/data_sources", {"name": "In-house billing"}, 201),
        ("/v1/data_sources", {"name": "Billing EU"}, 422),
        ("/v1/data_sources", {"name": "Entered billing"}, 201),
    ]  # the blank name (clicked or entered) and the known duplicate were never sent
    assert names == ["Billing EU", "In-house billing", "Entered billing"]
    assert canary not in html
    assert (tmp_path / "voila-form.png").stat().st_size > 10_000


def test_voila_bulk_mode_in_a_narrow_window(browser: Any, tmp_path: Path, canary: str) -> None:
    """Many names at 900 px: 30 pasted lines (a few bad), Create all, the bar, the outcome rows.

    The outcome table is wider than the window: its error column must wrap, so the advice at
    the end of a refusal stays on screen, and the table scrolls sideways rather than clipping.
    """
    from playwright.sync_api import expect

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(NOTEBOOKS_DIR / "app.ipynb", site)
    env = isolated_env(tmp_path)
    lines = [f"Billing region {number:02d}" for number in range(30)]
    lines[3], lines[7], lines[11], lines[20] = "Tab\tname", "   ", "Billing region 05", "Billing EU"
    with cmnb.Sandbox(canary, seed=11, sources=[{"name": "Billing EU"}]) as account:
        env.update(CHARTMOGUL_API_KEY=canary, CHARTMOGUL_BASE_URL=account.url)
        voila = [str(BIN / "voila"), "app.ipynb", "--no-browser", "--Voila.ip=127.0.0.1"]
        with serve(voila, cwd=site, env=env, log=tmp_path / "voila.log") as port:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)

            page.get_by_text("Many names", exact=True).click()
            box = page.get_by_label("Names")
            box.fill("\n".join(lines))
            expect(page.get_by_text("27 names to send. 1 line cannot be sent")).to_be_visible()
            expect(
                page.get_by_text("line 4 “Tab\tname”: The name contains a control")
            ).to_be_visible()
            page.get_by_role("button", name="Create all").click()

            status = page.get_by_text(
                "✖ 26 created, 0 existing, 1 failed; 1 invalid line not sent."
            )
            expect(status).to_be_visible()
            expect(page.get_by_text("27 names: 26 created, 1 failed")).to_be_visible()  # the bar
            expect(box).to_have_value("Tab\tname\nBilling EU")  # only the lines not done
            expect(page.get_by_text("showing 20 of 26 data sources (newest first)")).to_be_visible()

            refusal = page.locator("td").filter(has_text="A data source named “Billing EU”")
            expect(refusal).to_contain_text("to use it.")
            page.screenshot(path=str(tmp_path / "voila-bulk-900.png"), full_page=True)
            cell = refusal.bounding_box()  # where it is drawn, before any scrolling
            assert cell is not None and cell["x"] >= 0 and cell["x"] + cell["width"] <= 900
            assert cell["height"] > 40  # wrapped over several lines, not cut at the edge
            # Wider than the window (the sources table): scrolls in its own box; the form stays.
            page.locator("th", has_text="status").scroll_into_view_if_needed()
            mode_line = page.get_by_text("— nothing leaves this machine.").bounding_box()
            assert mode_line is not None and mode_line["x"] >= 0

            # The reviewed way: Preview shows the plan under the box, Apply creates what it shows.
            box.fill("Billing EU\nBilling region 00\nFrom the preview")
            preview = page.get_by_role("button", name="Preview", exact=True)
            preview.click()
            expect(page.get_by_text("Preview: 1 to create, 2 unchanged;")).to_be_visible()
            expect(page.locator(".cmnb-plan td").filter(has_text="+ create")).to_have_count(1)
            apply = page.get_by_role("button", name="Apply", exact=True)
            for button in (preview, apply):
                drawn = button.bounding_box()  # the row wraps rather than running off-screen
                assert drawn is not None and drawn["x"] + drawn["width"] <= 900
            page.screenshot(path=str(tmp_path / "voila-plan-900.png"), full_page=True)
            apply.click()
            applied = page.get_by_text("✔ Applied: 1 created, 0 existing, 0 failed, 2 unchanged")
            expect(applied).to_be_visible()
            expect(apply).to_be_disabled()  # the preview is spent
            html = page.content()
        posted = sorted(r.body["name"] for r in account.requests if r.method == "POST")

    sent = {line for line in lines if line.strip() and "\t" not in line} | {"From the preview"}
    assert posted == sorted(sent)
    assert canary not in html


def test_voila_go_live_with_a_pasted_key(browser: Any, tmp_path: Path, canary: str) -> None:
    """No key configured: the page starts on the embedded sandbox; pasting a key goes LIVE.

    "LIVE" here is a sandbox of the test's own at ``CHARTMOGUL_BASE_URL`` (no real account):
    the key must reach it in the Authorization header and never show in the page.
    """
    from playwright.sync_api import expect

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(NOTEBOOKS_DIR / "app.ipynb", site)
    env = isolated_env(tmp_path)
    with cmnb.Sandbox(canary, seed=9) as account:
        env.update(CHARTMOGUL_BASE_URL=account.url)  # where a pasted key takes the form
        voila = [str(BIN / "voila"), "app.ipynb", "--no-browser", "--Voila.ip=127.0.0.1"]
        with serve(voila, cwd=site, env=env, log=tmp_path / "voila.log") as port:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)

            key_field = page.get_by_label("API key")
            expect(key_field).to_be_visible()  # no key configured: the Go LIVE row is offered
            key_field.fill(canary)
            key_field.press("Enter")  # the key goes to the kernel and leaves the field
            expect(page.get_by_text("Key received (kept in memory, never saved)")).to_be_visible()
            expect(key_field).to_have_value("")
            page.get_by_role("button", name="Go LIVE").click()
            expect(page.get_by_text(f"✔ Now LIVE: requests go to {account.url}")).to_be_visible()
            expect(key_field).to_be_hidden()

            page.get_by_label("Source name").fill("Paid with a pasted key")
            page.get_by_role("button", name="Create", exact=True).click()
            expect(page.get_by_text("✔ Created “Paid with a pasted key” — ds_")).to_be_visible()
            html = page.content()
        seen = [(r.method, r.path, r.status) for r in account.requests]
        names = [source["name"] for source in account.sources()]

    assert seen == [("GET", "/v1/ping", 200), ("POST", "/v1/data_sources", 201)]
    assert names == ["Paid with a pasted key"]  # the key authenticated both requests
    assert canary not in html


SCREENSHOTS_ENV = "CMNB_SCREENSHOTS"  # make screenshots: CMNB_SCREENSHOTS=docs
REPO = NOTEBOOKS_DIR.parent


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header; fails if the file is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_voila_screenshots_of_the_form(browser: Any, tmp_path: Path, canary: str) -> None:
    """The README's pictures: the form in Voilà, light and dark, after a create and a refusal.

    With ``CMNB_SCREENSHOTS=docs`` (``make screenshots``) they are written to
    ``docs/form.png`` and ``docs/form-dark.png``; otherwise into the test's tmp dir, and this
    only checks that they are real pictures of a page in the theme asked for.
    """
    from playwright.sync_api import expect

    folder = os.environ.get(SCREENSHOTS_ENV)
    out = (REPO / folder) if folder else tmp_path
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(NOTEBOOKS_DIR / "app.ipynb", site)
    env = isolated_env(tmp_path)
    seeded = [{"name": "Billing EU"}, {"name": "Stripe", "system": "Stripe"}]
    with cmnb.Sandbox(canary, seed=2026, sources=seeded) as account:
        env.update(CHARTMOGUL_API_KEY=canary, CHARTMOGUL_BASE_URL=account.url)
        voila = [str(BIN / "voila"), "app.ipynb", "--no-browser", "--Voila.ip=127.0.0.1"]
        with serve(voila, cwd=site, env=env, log=tmp_path / "voila.log") as port:
            pages = {}
            for theme in ("light", "dark"):  # both kernels start at once: half the wait
                page = browser.new_page(viewport={"width": 960, "height": 640})
                page.set_default_timeout(UI_TIMEOUT_MS)
                page.goto(f"http://127.0.0.1:{port}/?theme={theme}", wait_until="commit")
                pages[theme] = page
            for theme, picture in (("light", "form.png"), ("dark", "form-dark.png")):
                page = pages[theme]
                account.reset()  # the same story, and the same uuids, in both pictures
                name = page.get_by_label("Source name")
                create = page.get_by_role("button", name="Create", exact=True)
                expect(name).to_be_visible(timeout=60_000)
                for source in ("In-house billing", "Backoffice"):
                    name.fill(source)
                    create.click()
                    expect(page.get_by_text(f"✔ Created “{source}” — ds_")).to_be_visible()
                name.fill("Billing EU")  # held by the account: the server's refusal, inline
                create.click()
                expect(page.get_by_text("✖ A data source named “Billing EU”")).to_be_visible()
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                page.screenshot(path=str(out / picture), full_page=True)
                page.close()
                red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
                dark = red + green + blue < 3 * 96
                assert dark == (theme == "dark"), f"{theme} theme drew a {background} page"
                width, height = png_size(out / picture)
                assert width == 960 and height >= 300
                assert (out / picture).stat().st_size > 10_000


def test_jupyterlab_runs_the_first_notebook_and_renders_the_form(
    browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    root = tmp_path / "notebooks"
    root.mkdir()
    copy_without_outputs(NOTEBOOKS_DIR / "01-create-a-source.ipynb", root)

    lab = jupyter_command("lab", root)
    with serve(lab, cwd=root, env=isolated_env(tmp_path), log=tmp_path / "lab.log") as port:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/lab/tree/01-create-a-source.ipynb", timeout=60_000)
        kernel_state = page.locator("#jp-main-statusbar")
        # The status bar reads "Python 3 (ipykernel) | Idle" once the kernel is connected.
        expect(kernel_state).to_contain_text("Python 3 (ipykernel) | Idle", timeout=60_000)

        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        name = page.get_by_label("Source name")
        create = page.get_by_role("button", name="Create", exact=True)
        expect(name).to_be_visible()
        expect(page.get_by_text("SANDBOX — nothing leaves this machine.")).to_be_visible()
        # The notebook clicks nothing: its form starts with an empty table.
        expect(page.get_by_text("No data sources yet.")).to_have_count(1)
        expect(kernel_state).to_contain_text("| Idle")

        # What the notebook says to try. A new name is created …
        name.fill("Billing EU")
        create.click()
        expect(page.get_by_text("✔ Created “Billing EU” — ds_")).to_be_visible()
        # … the name the notebook's ensure cell made is refused by the server, inline …
        name.fill("In-house billing")
        create.click()
        refused = page.get_by_text("✖ A data source named “In-house billing” already exists")
        expect(refused).to_be_visible()
        # … and reused once the box is ticked.
        page.get_by_label("If it exists, reuse it").check()
        create.click()
        expect(page.get_by_text("✔ Reused existing “In-house billing” — ds_")).to_be_visible()
        expect(page.get_by_text("2 data sources", exact=True)).to_have_count(1)

        # Typing is validated by the kernel.
        name.fill("   ")
        expect(page.get_by_text("The name is blank (only whitespace).")).to_be_visible()
        expect(create).to_be_disabled()
        page.screenshot(path=str(tmp_path / "jupyterlab-form.png"), full_page=True)
    assert (tmp_path / "jupyterlab-form.png").stat().st_size > 10_000


def test_notebook7_runs_the_first_notebook_and_the_form_creates_a_source(
    browser: Any, tmp_path: Path
) -> None:
    reason = notebook7_missing()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import expect

    root = tmp_path / "notebooks"
    root.mkdir()
    code_cells = copy_without_outputs(NOTEBOOKS_DIR / "01-create-a-source.ipynb", root)

    notebook = jupyter_command("notebook", root)
    with serve(notebook, cwd=root, env=isolated_env(tmp_path), log=tmp_path / "nb7.log") as port:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/notebooks/01-create-a-source.ipynb", timeout=60_000)

        # Notebook 7 has no status bar. Its kernel signals are in the toolbar: the kernel's logo,
        # drawn once the session has its kernel (Run All would otherwise ask which one), and the
        # circle next to the kernel name, whose data-status follows the kernel. That circle
        # starts out "idle" before any kernel is attached, hence the logo first.
        expect(page.locator(".jp-NotebookKernelLogo img")).to_have_attribute(
            "title", "Python 3 (ipykernel)", timeout=60_000
        )
        kernel_state = page.locator(".jp-Notebook-ExecutionIndicator")
        expect(kernel_state).to_have_attribute("data-status", "idle", timeout=60_000)

        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        # Every code cell ran, in order: the last prompt carries the last execution count, no
        # cell is still queued ("[*]"), and the kernel is idle again.
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
        expect(prompts).to_have_count(code_cells)
        expect(prompts.last).to_have_text(f"[{code_cells}]:", timeout=60_000)
        expect(prompts.filter(has_text="[*]")).to_have_count(0)
        expect(kernel_state).to_have_attribute("data-status", "idle")

        name = page.get_by_label("Source name")
        create = page.get_by_role("button", name="Create", exact=True)
        expect(page.get_by_text("SANDBOX — nothing leaves this machine.")).to_be_visible()
        # The notebook clicks nothing: its form starts with an empty table.
        expect(page.get_by_text("No data sources yet.")).to_have_count(1)

        # A user's turn: type a name, click Create.
        name.fill("Notebook seven billing")
        expect(create).to_be_enabled()
        create.click()
        expect(page.get_by_text("✔ Created “Notebook seven billing” — ds_")).to_be_visible()
        row = page.locator("table tbody tr").filter(has_text="Notebook seven billing")
        expect(row).to_have_count(1)  # in the form's table
        expect(page.get_by_text("1 data source", exact=True)).to_have_count(1)
        expect(name).to_have_value("")

        name.fill("   ")
        expect(page.get_by_text("The name is blank (only whitespace).")).to_be_visible()
        expect(create).to_be_disabled()

        page.get_by_text("SANDBOX — nothing leaves this machine.").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "notebook7-form.png"))
    assert (tmp_path / "notebook7-form.png").stat().st_size > 10_000
