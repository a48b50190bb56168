"""Fuzzed input (hypothesis): names, uuids, command lines, the form, and the API's JSON.

The promise under test: every input ends either in a created source whose name round-trips
exactly (the server lists ``name == input.strip()``), or in a clear :class:`InputError` with
nothing sent, or in an :class:`APIError` with nothing half-done. The form shows a message and
never raises; the command line returns an exit code and never prints a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timezone
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmnb
from cmnb.api._models import DataSource
from cmnb.api._validation import name_problem
from cmnb.cli import main as cli_main
from cmnb.errors import APIError, DuplicateNameError, InputError, NotFoundError
from cmnb.notebook._form import DataSourceForm
from cmnb.notebook._table import DataSourceTable

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UUID = re.compile(r"^ds_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HUGE = "x" * (1 << 20)  # over the sandbox's 1 MiB body limit once quoted as JSON

# Text that matters: RTL, emoji (incl. ZWJ sequences), combining marks, odd whitespace.
SPECIAL_NAMES = [
    "",
    " ",
    "\t\n ",
    "\u3000",  # ideographic space: blank
    "فوترة داخلية",
    "חיוב פנימי",
    "\u202eevil\u202c",  # RTL override (a format character, allowed)
    "👩‍💻 Billing 🇪🇺",
    "e\u0301clair",
    "zero\u200bwidth",
    "a\x00b",
    "tab\tinside",
    "\x7f",
    "line\u2028separator",
    "\ud800lone",
    "  padded  ",
    "<script>alert(1)</script>",
    "x" * 5000,
    'quote " and \\ backslash',
    "%2F/..%00",
]
names = st.one_of(
    st.sampled_from(SPECIAL_NAMES),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.text(st.characters(categories=["Cc", "Cs", "Zs", "Mn", "So"]), max_size=8),
)
non_text = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=10),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@pytest.fixture(autouse=True)
def _strict(strict_callbacks: None) -> None:
    """Form callbacks that raise fail the test (see tests/conftest.py)."""


@pytest.fixture
def sb(canary: str) -> Iterator[cmnb.Sandbox]:
    with cmnb.Sandbox(canary, seed=3, rate_limit_per_s=None, max_connections=None) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb: cmnb.Sandbox) -> Iterator[cmnb.Client]:
    with sb.client(max_attempts=1, rate_limit_per_s=None) as c:
        yield c


def _names_on_server(sb: cmnb.Sandbox) -> list[str]:
    return [source["name"] for source in sb.sources()]


def _create_and_judge(sb: cmnb.Sandbox, client: cmnb.Client, name: Any) -> None:
    before_requests, before = len(sb.requests), _names_on_server(sb)
    try:
        source = client.data_sources.create(name)
    except InputError as error:
        assert name_problem(name) is not None and str(error)
        assert len(sb.requests) == before_requests  # nothing sent
        assert _names_on_server(sb) == before
        return
    except DuplicateNameError:
        assert name.strip() in before
        assert _names_on_server(sb) == before
        return
    except APIError as error:
        assert error.status == 400 and len(json.dumps(name)) > (1 << 20)  # the body limit
        assert _names_on_server(sb) == before  # nothing half-done
        return
    wanted = name.strip()
    assert source.name == wanted and UUID.match(source.uuid)
    assert _names_on_server(sb) == [*before, wanted]
    listed = client.data_sources.list(name=wanted)
    assert [(s.uuid, s.name) for s in listed] == [(source.uuid, wanted)]


@FUZZ
@given(name=st.one_of(names, non_text))
def test_any_name_is_created_exactly_or_refused_cleanly(
    sb: cmnb.Sandbox, client: cmnb.Client, name: Any
) -> None:
    _create_and_judge(sb, client, name)


def test_special_names_one_by_one(sb: cmnb.Sandbox, client: cmnb.Client) -> None:
    for name in [*SPECIAL_NAMES, HUGE, None, 42, b"bytes"]:
        _create_and_judge(sb, client, name)
    created = set(_names_on_server(sb))
    assert {"فوترة داخلية", "👩‍💻 Billing 🇪🇺", "padded", "x" * 5000} <= created
    assert HUGE not in created


def _uuid_like(draw_hex: str) -> str:
    h = draw_hex
    return f"ds_{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


uuids = st.one_of(
    st.text(max_size=50),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32).map(_uuid_like),
    st.sampled_from(["ds_", "ds_../../ping", "DS_FEF05D54-47B4-431B-AED2-EB6B9E545430 ", "ds_%2e"]),
    non_text,
)


@FUZZ
@given(uuid=uuids)
def test_any_uuid_is_looked_up_or_refused_before_sending(
    sb: cmnb.Sandbox, client: cmnb.Client, uuid: Any
) -> None:
    kept = client.data_sources.create("Keep me") if not sb.sources() else None
    before_requests, before = len(sb.requests), sb.sources()
    for call in (client.data_sources.retrieve, client.data_sources.delete):
        try:
            call(uuid)
        except InputError:
            assert len(sb.requests) == before_requests
        except NotFoundError:
            assert UUID.match(uuid.strip().lower())
        else:  # pragma: no cover - a random uuid never exists
            pytest.fail(f"{uuid!r} was found")
    assert sb.sources() == before
    assert kept is None or client.data_sources.retrieve(kept.uuid.upper()).uuid == kept.uuid


def test_a_real_uuid_retrieves_then_deletes(sb: cmnb.Sandbox, client: cmnb.Client) -> None:
    source = client.data_sources.create("Short-lived")
    assert client.data_sources.retrieve(f"  {source.uuid.upper()} ") == source
    client.data_sources.delete(source.uuid)
    with pytest.raises(NotFoundError):
        client.data_sources.retrieve(source.uuid)
    assert sb.sources() == []


# -- the command line -------------------------------------------------------------------------

_NEVER = ("sandbox", "app", "--from-csv")  # they serve forever, launch Voilà, or read stdin
EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7}
arguments = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "create",
                "list",
                "get",
                "delete",
                "--ensure",
                "--dry-run",
                "--yes",
                "--format",
                "json",
                "csv",
                "--name",
                "--system",
                "--timeout",
                "0",
                "-1",
                "nan",
                "--verbose",
                "--concurrency",
                "99",
                "--base-url",
                "ftp://x",
                "--with-processing-status",
                "-h",
                "--",
                "-",
                "ds_fef05d54-47b4-431b-aed2-eb6b9e545430",
            ]
        ),
        names,
    ),
    max_size=6,
).filter(lambda argv: not any(t and any(w.startswith(t) for w in _NEVER) for t in argv))


@FUZZ
@given(argv=arguments)
def test_any_command_line_ends_in_an_exit_code_not_a_traceback(
    sb: cmnb.Sandbox,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    canary: str,
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", sb.url)
    before = _names_on_server(sb)
    code = cli_main(argv)
    out, err = capsys.readouterr()
    assert code in EXIT_CODES, (argv, code, err)
    assert "Traceback" not in out + err
    assert canary not in out + err
    if code == 3 and "create" not in argv:  # input or configuration: nothing was created
        assert _names_on_server(sb) == before
    # (a create run sends its valid names and exits 3 for the invalid ones it refused)


@pytest.mark.parametrize("name", ["  Round trip ✓ ", "עברית", "🧾"])
def test_cli_create_round_trips_a_name(
    sb: cmnb.Sandbox,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    canary: str,
) -> None:
    monkeypatch.setenv("CHARTMOGUL_API_KEY", canary)
    monkeypatch.setenv("CHARTMOGUL_BASE_URL", sb.url)
    assert cli_main(["create", name]) == 0
    assert _names_on_server(sb) == [name.strip()]
    capsys.readouterr()
    assert cli_main(["create", "a\x01b"]) == 3
    assert "control character" in capsys.readouterr().err
    assert _names_on_server(sb) == [name.strip()]


# -- the form ---------------------------------------------------------------------------------


@FUZZ
@given(text=names, reuse=st.booleans())
def test_the_form_answers_any_text_with_a_message(sb: cmnb.Sandbox, text: str, reuse: bool) -> None:
    form = DataSourceForm(sb.client(max_attempts=1, rate_limit_per_s=None))
    before_requests = len(sb.requests)
    form.reuse_checkbox.value = reuse
    form.name_input.value = text
    form.create_button.click()
    if name_problem(text) is not None:
        assert form.hint.value and form.create_button.disabled
        assert form.status.value == "" and len(sb.requests) == before_requests
        return
    status = form.status.value
    assert "cmnb-ok" in status or "cmnb-error" in status, status
    if "cmnb-ok" in status:
        assert text.strip() in _names_on_server(sb)
        assert form.table.find_name(text) is not None


# -- the API's JSON into a table --------------------------------------------------------------

timestamps = st.one_of(
    st.datetimes(timezones=st.just(timezone.utc)).map(
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    ),
    st.datetimes().map(lambda t: t.isoformat(sep=" ")),
    st.datetimes().map(lambda t: t.isoformat() + "+05:30"),
    st.sampled_from(["", "2024-1-01T09:00:00.123Z", "2024-02-30T00:00:00.000Z", "garbage"]),
    st.text(alphabet="0123456789-T:.Z ", max_size=24),
    st.none(),
    st.integers(),
)
json_sources = st.lists(
    st.fixed_dictionaries(
        {"uuid": st.uuids().map(lambda u: f"ds_{u}"), "created_at": timestamps},
        optional={
            "name": st.one_of(st.text(max_size=5), st.none(), st.integers()),
            "system": st.sampled_from(["Custom", "Stripe", None]),
            "status": st.one_of(st.sampled_from(["idle", "working"]), st.none()),
            "processing_status": st.fixed_dictionaries({"processed": st.integers(0, 9)}),
            "surprise": st.integers(),
        },
    ),
    max_size=8,
)


@FUZZ
@given(items=json_sources)
def test_from_api_frame_equals_the_frame_of_parsed_sources(items: list[dict[str, Any]]) -> None:
    url = "https://api.chartmogul.com/v1/data_sources"
    with responses.RequestsMock() as mock, cmnb.Client("k", rate_limit_per_s=None) as client:
        mock.get(url, json={"data_sources": items})
        table = DataSourceTable.from_api(client)
    parsed = DataSourceTable(DataSource.from_dict(item) for item in items)
    assert table.to_frame().equals(parsed.to_frame())
    assert table.sources == parsed.sources
