"""A data source's optional blocks, and the source itself, shown as small tidy tables.

Issue 15: ``InvoiceHandlingSetting`` printed as one 600-character line. Now ``print(block)``
and a notebook's text are aligned ``field  value`` lines, a notebook draws a small HTML table,
and ``repr()`` stays the one-line dataclass form (``DataSource``'s repr holds it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from cmnb.api._models import (
    AutoChurnSubscriptionSetting,
    DataSource,
    InvoiceHandlingSetting,
    ProcessingStatus,
)
from cmnb.notebook._block_view import block_grid

MANUAL = {
    "create_subscription_when_invoice_is": "open",
    "update_subscription_when_invoice_is": "open",
    "prevent_subscription_for_invoice_voided": True,
    "prevent_subscription_for_invoice_refunded": False,
    "prevent_subscription_for_invoice_written_off": True,
}
AUTOMATIC = {**MANUAL, "create_subscription_when_invoice_is": "paid"}
SOURCE = {
    "uuid": "ds_fef05d54-47b4-431b-aed2-eb6b9e545430",
    "name": "In-house <billing>",
    "system": "Custom",
    "created_at": "2023-01-10T15:34:05.918Z",
    "status": "idle",
    "processing_status": {"processed": 5, "pending": 0, "failed": None},
    "invoice_handling_setting": {"manual": MANUAL, "automatic": AUTOMATIC},
}


class Table(HTMLParser):
    """The rows of an HTML table as a reader sees them: the text of each cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.captions: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True
            self.captions.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.captions[-1] += data


def read(html: str) -> Table:
    table = Table()
    table.feed(html)
    return table


def test_invoice_handling_prints_as_a_grid_of_its_two_sides() -> None:
    setting = InvoiceHandlingSetting.from_dict({"manual": MANUAL, "automatic": AUTOMATIC})
    assert str(setting) == (
        "InvoiceHandlingSetting\n"
        "                                                manual  automatic\n"
        "  create_subscription_when_invoice_is           open    paid\n"
        "  update_subscription_when_invoice_is           open    open\n"
        "  prevent_subscription_for_invoice_voided       True    True\n"
        "  prevent_subscription_for_invoice_refunded     False   False\n"
        "  prevent_subscription_for_invoice_written_off  True    True"
    )
    assert repr(setting).startswith("InvoiceHandlingSetting(manual=InvoiceHandlingRules(")
    table = read(setting._repr_html_())
    assert table.captions == ["InvoiceHandlingSetting"]
    assert table.rows[0] == ["", "manual", "automatic"]
    assert table.rows[1] == ["create_subscription_when_invoice_is", "open", "paid"]
    assert len(table.rows) == 6


def test_flat_blocks_are_one_field_per_row_with_missing_values_empty() -> None:
    status = ProcessingStatus.from_dict({"processed": 3, "pending": None, "failed": 0})
    assert str(status) == "ProcessingStatus\n  processed  3\n  pending\n  failed     0"
    assert read(status._repr_html_()).rows == [["processed", "3"], ["pending", ""], ["failed", "0"]]
    churn = AutoChurnSubscriptionSetting(enabled=True, interval=7)
    assert str(churn) == "AutoChurnSubscriptionSetting\n  enabled   True\n  interval  7"
    assert repr(churn) == "AutoChurnSubscriptionSetting(enabled=True, interval=7)"


def test_keys_the_api_adds_later_are_shown_and_escaped() -> None:
    status = ProcessingStatus.from_dict({"processed": 1, "<b>new</b>": "<i>x</i>"})
    html = status._repr_html_()
    assert "<b>" not in html and "<i>" not in html
    assert ["<b>new</b>", "<i>x</i>"] in read(html).rows
    odd = InvoiceHandlingSetting.from_dict({"manual": {"zeta": 1}, "automatic": None, "mode": "x"})
    assert block_grid(odd.to_dict()) == (
        ["manual", "automatic"],
        [
            ("zeta", [1, None]),  # in to_dict()'s order: what the API added first
            *[(field, [None, None]) for field in MANUAL],
            ("mode", ["x", None]),
        ],
    )


def test_a_data_source_is_a_card_name_first_uuid_last_then_its_blocks() -> None:
    source = DataSource.from_dict(SOURCE)
    card = read(source._repr_html_())
    assert card.captions == ["DataSource", "processing_status", "invoice_handling_setting"]
    assert [row[0] for row in card.rows[:5]] == ["name", "system", "created_at", "status", "uuid"]
    assert card.rows[0] == ["name", "In-house <billing>"]  # escaped, read back exactly
    assert card.rows[2] == ["created_at", "2023-01-10 15:34:05 UTC"]
    assert ["failed", ""] in card.rows
    assert "<billing>" not in source._repr_html_()
    # its repr is the one line the tests of the models pin
    assert "\n" not in repr(source) and repr(source).startswith("DataSource(uuid=")


def test_a_plain_source_is_a_card_with_no_block() -> None:
    plain = {key: SOURCE[key] for key in ("uuid", "name", "system", "created_at", "status")}
    card = read(DataSource.from_dict(plain)._repr_html_())
    assert card.captions == ["DataSource"] and len(card.rows) == 5


def test_ipython_shows_the_text_table_and_the_html() -> None:
    formatters = pytest.importorskip("IPython.core.formatters")
    status = ProcessingStatus(processed=1, pending=2, failed=3)
    plain = formatters.PlainTextFormatter()(status)
    assert plain == str(status)
    assert re.search(r"<td[^>]*>2</td>", formatters.HTMLFormatter()(status))


def test_printing_a_block_loads_no_pandas() -> None:
    code = (
        "import sys\n"
        "from cmnb.api._models import InvoiceHandlingSetting, DataSource\n"
        "print(InvoiceHandlingSetting.from_dict({'manual': {'x': 1}}))\n"
        "DataSource('ds_1', 'a')._repr_html_()\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "False"
