"""The pure HTML/text renderers: golden files, escaping, ordering, truncation.

Regenerate the golden files after an intended change with ``CMNB_UPDATE_GOLDEN=1 pytest
tests/test_render.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmnb.api._models import DataSource
from cmnb.notebook import _render as render
from cmnb.notebook._table import DataSourceTable

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = "<img src=x onerror=alert(1)>"


def source(n: int, name: str | None = None, **extra: object) -> DataSource:
    return DataSource.from_dict(
        {
            "uuid": f"ds_00000000-0000-4000-8000-{n:012d}",
            "name": name if name is not None else f"Source {n}",
            "system": "Custom",
            "created_at": f"2024-03-{n:02d}T09:30:00.000Z",
            "status": "idle",
            **extra,
        }
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CMNB_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (see module docstring)"


def test_empty_table_is_just_a_note() -> None:
    html = render.sources_html(DataSourceTable().df)
    check_golden("empty.html", html)
    assert "<table" not in html
    assert "No data sources yet." in html


def test_two_sources_newest_first_and_escaped() -> None:
    frame = DataSourceTable([source(1, HOSTILE), source(2, "Billing & Co")]).df
    html = render.sources_html(frame)
    check_golden("two_sources.html", html)
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Billing &amp; Co" in html
    assert html.index("Billing") < html.index("&lt;img")
    assert "2 data sources" in html
    assert "2024-03-02 09:30:00 UTC" in html


def test_long_table_is_truncated_with_a_note() -> None:
    frame = DataSourceTable([source(n) for n in range(1, 8)]).df
    html = render.sources_html(frame, max_rows=3)
    check_golden("truncated.html", html)
    assert "showing 3 of 7 data sources (newest first)" in html
    assert [f"Source {n}" in html for n in range(1, 8)] == [False] * 4 + [True] * 3


def leaf_headers(html: str, level: int) -> list[str]:
    """The header texts of one header row, as read (``<wbr>`` only lets them wrap)."""
    found = re.findall(rf'class="col_heading level{level} col\d+" [^>]*>(.*?)</th>', html)
    return [text.replace("<wbr>", "") for text in found]


def test_optional_blocks_are_columns_and_unknown_values_are_escaped() -> None:
    with_blocks = source(
        1,
        processing_status={"processed": 3, "pending": None, "failed": 0, "note": "<b>x</b>"},
        auto_churn_subscription_setting={"enabled": True, "interval": 7},
    )
    frame = DataSourceTable([with_blocks, source(2)]).df
    html = render.sources_html(frame)
    check_golden("blocks.html", html)
    # issue 15: a block's fields are grouped under its name (which may wrap), not 40-character
    # dotted headers; name first, uuid last
    assert 'colspan="4">processing_<wbr>status</th>' in html
    assert 'colspan="2">auto_<wbr>churn_<wbr>subscription_<wbr>setting</th>' in html
    assert leaf_headers(html, level=1) == [
        "name", "system", "created_at", "status", "processed", "pending", "failed", "note",
        "enabled", "interval", "uuid",
    ]  # fmt: skip
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


RULES = [
    "create_subscription_when_invoice_is",
    "update_subscription_when_invoice_is",
    "prevent_subscription_for_invoice_voided",
    "prevent_subscription_for_invoice_refunded",
    "prevent_subscription_for_invoice_written_off",
]


def test_invoice_handling_is_grouped_by_side_under_its_block() -> None:
    rules = {
        "create_subscription_when_invoice_is": "open",
        "prevent_subscription_for_invoice_voided": True,
    }
    setting = {"invoice_handling_setting": {"manual": rules, "automatic": rules}}
    html = render.sources_html(DataSourceTable([source(1, **setting)]).df)
    assert 'colspan="10">invoice_<wbr>handling_<wbr>setting</th>' in html
    assert 'colspan="5">manual</th>' in html and 'colspan="5">automatic</th>' in html
    assert ">create_<wbr>subscription_<wbr>when_<wbr>invoice_<wbr>is</th>" in html
    assert leaf_headers(html, level=2) == [
        "name", "system", "created_at", "status",
        *RULES, *RULES,  # manual, then automatic
        "uuid",
    ]  # fmt: skip


def test_hostile_column_header_and_nested_value_are_escaped() -> None:
    frame = pd.DataFrame({"<script>h</script>": [{"k": "<i>"}], "created_at": [pd.NaT]})
    html = render.sources_html(frame)
    assert "<script>" not in html and "<i>" not in html
    assert "&lt;script&gt;h&lt;/script&gt;" in html
    assert "{&#x27;k&#x27;: &#x27;&lt;i&gt;&#x27;}" in html


def test_output_is_deterministic() -> None:
    frame = DataSourceTable([source(1), source(2)]).df
    assert render.sources_html(frame) == render.sources_html(frame.copy())
    assert 'id="T_cmnb-sources"' in render.sources_html(frame)


def test_newest_first_puts_missing_times_last_and_breaks_ties_by_last_added() -> None:
    moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
    frame = DataSourceTable(
        [
            DataSource("ds_a", "a", created_at=moment),
            DataSource("ds_b", "b", created_at=None),
            DataSource("ds_c", "c", created_at=moment),
            DataSource("ds_d", "d", created_at=datetime(2025, 1, 1, tzinfo=timezone.utc)),
        ]
    ).df
    assert list(render.newest_first(frame)["name"]) == ["d", "c", "a", "b"]


@pytest.mark.parametrize(
    ("shown", "total", "note"),
    [
        (0, 0, "No data sources yet."),
        (1, 1, "1 data source"),
        (5, 5, "5 data sources"),
        (20, 21, "showing 20 of 21 data sources (newest first)"),
    ],
)
def test_count_note(shown: int, total: int, note: str) -> None:
    assert render.count_note(shown, total) == note


def test_text_listing() -> None:
    # issue 15: the name first, the uuid last, in the DataFrame's column order, aligned
    frame = DataSourceTable([source(1, HOSTILE), source(2)]).df
    assert render.sources_text(frame) == (
        "DataSourceTable: 2 data sources\n"
        "  'Source 2'                      Custom  2024-03-02 09:30:00 UTC  idle"
        "  ds_00000000-0000-4000-8000-000000000002\n"
        "  '<img src=x onerror=alert(1)>'  Custom  2024-03-01 09:30:00 UTC  idle"
        "  ds_00000000-0000-4000-8000-000000000001"
    )
    assert render.sources_text(frame, max_rows=1).startswith(
        "DataSourceTable: showing 1 of 2 data sources (newest first)\n"
    )


def test_a_long_name_overflows_its_own_listing_line_only() -> None:
    frame = DataSourceTable(
        [source(1, "L" * 70), source(2, "Short"), source(3, "\u202eevil\nname")]
    ).df
    first, second, third = render.listing_lines(render.newest_first(frame))
    assert first.startswith("'\\u202eevil\\nname'  ") and "\n" not in first  # quoted, one line
    assert second.index("Custom") == first.index("Custom")  # aligned, at most 40 wide
    assert third.startswith(repr("L" * 70) + "  Custom")  # the whole name, pushed along
    assert [line.rsplit("  ", 1)[1] for line in (first, second, third)] == [
        f"ds_00000000-0000-4000-8000-{n:012d}" for n in (3, 2, 1)
    ]
    assert render.listing_lines(DataSourceTable().df) == []


def test_max_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        render.sources_html(DataSourceTable().df, max_rows=0)


def test_a_long_name_is_cut_in_the_html_with_the_full_text_on_hover() -> None:
    long_name = "<b>" + "x" * 200 + " & tail"
    frame = DataSourceTable([source(1, long_name), source(2)]).df
    html = render.sources_html(frame)
    # the cell shows the first characters and an ellipsis, so the columns after it stay in view
    shown = "&lt;b&gt;" + "x" * (render.MAX_CELL_CHARS - 4) + "…"
    assert f">{shown}</span>" in html
    # the whole name, escaped once, is the cell's tooltip
    assert f'title="&lt;b&gt;{"x" * 200} &amp; tail"' in html
    assert "<b>" not in html and "&amp;lt;" not in html
    assert "Source 2</td>" in html  # short names are untouched
    # the DataFrame and the plain-text listing keep the full name
    assert frame["name"].iloc[0] == long_name
    assert repr(long_name) in render.sources_text(frame)


def test_outcome_errors_are_never_cut() -> None:
    error = "A data source named “x” already exists. " * 5
    frame = pd.DataFrame(
        {"name": ["y" * 100], "outcome": ["failed"], "uuid": [None], "error": [error]}
    )
    html = render.outcomes_html(frame)
    assert html.count(error.strip()) == 1
    assert f">{'y' * (render.MAX_CELL_CHARS - 1)}…</span>" in html  # names are cut as usual


class _Cells(HTMLParser):
    """The text and the ``title`` of every ``<td>`` of a rendered table, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[list[str]] = []  # [text, title]
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._in_td = True
            self.cells.append(["", ""])
        elif self._in_td:
            self.cells[-1][1] += dict(attrs).get("title") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_td = False

    def handle_data(self, data: str) -> None:
        if self._in_td:
            self.cells[-1][0] += data


@settings(max_examples=60, deadline=None)
@given(name=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=90))
def test_any_name_reads_back_from_the_html_exactly(name: str) -> None:
    html = render.sources_html(pd.DataFrame({"name": [name], "created_at": [pd.NaT]}))
    parser = _Cells()
    parser.feed(html)
    [text, title], _created_at = parser.cells
    if len(name) <= render.MAX_CELL_CHARS:
        assert (text, title) == (name, "")
    else:
        assert (text, title) == (name[: render.MAX_CELL_CHARS - 1] + "…", name)


def test_outcome_errors_wrap_and_wide_tables_scroll_in_their_own_box() -> None:
    frame = pd.DataFrame(
        {"name": ["Billing EU"], "outcome": ["failed"], "uuid": [None], "error": ["why " * 40]}
    )
    html_text = render.outcomes_html(frame)
    # the error column (the 4th: col3) wraps instead of running off the right edge
    assert re.search(r"td\.col3 \{[^}]*white-space: normal;", html_text)
    assert html_text.startswith('<div class="cmnb-outcomes" style="overflow-x: auto;')
    sources = render.sources_html(pd.DataFrame({"uuid": ["ds_1"], "name": ["a"]}))
    assert sources.startswith('<div class="cmnb-sources" style="overflow-x: auto;')


def test_outcome_notes_fill_empty_error_cells_and_repeats_are_not_problems() -> None:
    frame = pd.DataFrame(
        {
            "name": ["A", "B", "A"] + [f"n{i}" for i in range(20)],
            "outcome": ["created", "failed", "repeated"] + ["created"] * 20,
            "created_at": pd.to_datetime([None] * 23, utc=True),
            "error": [None, "InputError: no", None] + [None] * 20,
            "note": [None, "ignored: the error says it", "Same name as index 0: sent once."]
            + [None] * 20,
            "uuid": [None] * 23,
        }
    )
    html_text = render.outcomes_html(frame)
    assert ">note</th>" not in html_text  # one column says what is worth knowing
    assert "Same name as index 0: sent once." in html_text and "ignored" not in html_text
    assert re.findall(r">(A|B|n0)</td>", html_text)[:3] == ["B", "A", "A"]  # problems first
    assert "NaT" not in html_text and "None" not in html_text and "nan" not in html_text
