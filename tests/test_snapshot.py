"""The static pictures in the form's and the progress bar's display data (issue 15).

A viewer without a widget manager (GitHub, an HTML export read offline, nbviewer without its
CDN, a mailed notebook) shows an output's ``text/html``; a live front end shows the widget view.
These tests check what the picture holds, that it is escaped and holds no field value or key,
and that ipywidgets 7.7 and 8 both display it (``make compat`` runs this file under 7.7).
tests/test_notebook_export.py checks what nbconvert makes of it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest

import cmnb
from cmnb.notebook._form import SNAPSHOT_CAPTION, DataSourceForm
from cmnb.notebook._snapshot import WIDGET_VIEW
from cmnb.notebook._widget_progress import WidgetProgress

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _strict(strict_callbacks: None) -> None:
    """Form callbacks that raise fail the test (see tests/conftest.py)."""


@pytest.fixture
def sb() -> Iterator[cmnb.Sandbox]:
    with cmnb.Sandbox(seed=3, rate_limit_per_s=None) as sandbox:
        yield sandbox


@pytest.fixture
def form(sb: cmnb.Sandbox) -> DataSourceForm:
    return DataSourceForm(sb.client(max_attempts=1))


def visible(markup: str) -> str:
    """What a reader sees of some HTML: tags and <style> blocks dropped, entities decoded."""
    markup = re.sub(r"<style.*?</style>", "", markup, flags=re.S)
    markup = re.sub(r"<(/div|/p|/td|/th|/tr|progress)\b", r" <\1", markup)  # block ends: a space
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def formatted(obj: Any) -> dict[str, Any]:
    """The display data IPython makes of ``obj`` (``display(obj)``, or ``obj`` last in a cell).

    Empty when the object displays itself (``_ipython_display_``, ipywidgets 7.7's way): then
    no ``display_id`` would reach the output, and the picture could not be updated.
    """
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return dict(data)


def create(form: DataSourceForm, name: str) -> None:
    form.name_input.value = name
    form.create_button.click()


def test_the_form_carries_its_picture_next_to_the_live_view(form: DataSourceForm) -> None:
    bundle = formatted(form)
    assert set(bundle) == {"text/plain", "text/html", WIDGET_VIEW}
    assert bundle["text/plain"] == "DataSourceForm(mode=SANDBOX)"  # nbval compares it: stable
    assert bundle[WIDGET_VIEW] == {
        "version_major": 2,
        "version_minor": 0,
        "model_id": form.widget.model_id,
    }
    seen = visible(bundle["text/html"])
    assert seen.startswith("SANDBOX — nothing leaves this machine.")
    assert "No data sources yet." in seen
    assert seen.endswith(SNAPSHOT_CAPTION)


def test_the_picture_is_the_form_as_last_rendered(form: DataSourceForm) -> None:
    create(form, "Billing EU")
    create(form, "Stripe")
    form.client.data_sources.create("Held elsewhere")
    create(form, "Held elsewhere")  # refused by the server: the status line says why
    seen = visible(form._repr_mimebundle_()["text/html"])
    status = visible(form.status.value)
    assert status.startswith("✖ ") and "Held elsewhere" in status
    assert status in seen
    assert "2 data sources" in seen
    (billing,) = form.client.data_sources.list(name="Billing EU")
    assert re.search(rf"Billing EU .*{billing.uuid}", seen)  # a table row, name first

    form.mode_toggle.value = "bulk"  # many names: the outcome rows are in the picture too
    form.bulk.names_input.value = "Billing EU\nBackoffice"
    form.bulk.create_all_button.click()
    seen = visible(form._repr_mimebundle_()["text/html"])
    assert "Backoffice" in seen and "created" in seen and "existing" in seen


def test_the_picture_is_escaped_and_holds_no_field_value(form: DataSourceForm) -> None:
    create(form, HOSTILE)
    form.name_input.value = "Typed but never sent"
    picture = form._repr_mimebundle_()["text/html"]
    assert HOSTILE not in picture and "<img" not in picture
    assert html.escape(HOSTILE, quote=True) in picture  # in the status line and the table
    assert "Typed but never sent" not in picture
    assert "<script" not in picture.lower()


def test_the_form_widget_shown_on_its_own_has_the_same_picture(form: DataSourceForm) -> None:
    create(form, "Billing EU")
    assert formatted(form.widget) == formatted(form)


def test_no_key_in_the_picture_of_a_form_that_went_live(
    sb: cmnb.Sandbox, canary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cmnb.Sandbox(canary, seed=4) as account:
        monkeypatch.setenv("CHARTMOGUL_BASE_URL", account.url)
        form = DataSourceForm(sb.client())
        form.key_input.value = canary  # pasted, then Go LIVE
        form.go_live_button.click()
        pictures = [form._repr_mimebundle_()["text/html"]]
        assert "Now LIVE" in pictures[0]
        create(form, "After go-live")
        pictures.append(repr(formatted(form.widget)))
        assert "After go-live" in pictures[1]
        assert not any(canary in picture for picture in pictures)
        form.client.close()


class Shown:
    """``IPython.display.display`` stand-in: what was shown, with its handle's updates."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []

    def __call__(self, obj: Any, **kwargs: Any) -> Any:
        self.calls.append((obj, kwargs))
        shown = self

        class Handle:
            def update(self, obj: Any) -> None:
                shown.updates.append(formatted(obj))

        return Handle() if kwargs.get("display_id") else None


def test_the_progress_bar_updates_its_picture_once_at_the_end(
    sb: cmnb.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = Shown()
    monkeypatch.setattr("IPython.display.display", shown)
    bar = WidgetProgress()
    with sb.client() as client:
        result = client.data_sources.create_many(["Billing EU", "", HOSTILE], progress=bar)

    ((box, options),) = shown.calls
    assert box is bar.box and options == {"display_id": True}
    (final,) = shown.updates  # not on every redraw: a front end redraws the output each time
    assert final["text/plain"] == "create_many progress bar (3 names)"
    assert final[WIDGET_VIEW]["model_id"] == bar.box.model_id
    assert visible(final["text/html"]) == f"create_many {result.summary()}"
    assert result.summary() == "3 names: 2 created, 1 failed"
    assert "<img" not in final["text/html"]
    assert formatted(bar.box) == final

    quiet = WidgetProgress(show=False)  # inside the form: nothing shown, nothing updated
    with sb.client() as client:
        client.data_sources.create_many(["Quiet"], progress=quiet)
    assert len(shown.calls) == 1 and len(shown.updates) == 1
    assert "1 names: 1 created" in visible(formatted(quiet.box)["text/html"])


def test_ipywidgets_own_display_method_is_switched_off(form: DataSourceForm) -> None:
    """7.7's Widget._ipython_display_ would publish a bundle without the picture (and ignore
    display_id); IPython skips a display method that is not callable."""
    bar = WidgetProgress(show=False)
    for widget in (form.widget, bar.box):
        assert widget._ipython_display_ is None
        assert set(formatted(widget)) == {"text/plain", "text/html", WIDGET_VIEW}
