"""plan/apply: a desired list of sources → a reviewed plan → applied safely, idempotent.

Everything runs against the embedded sandbox, whose request log (``sb.requests``) shows exactly
what was sent: planning costs one ``GET /data_sources``, refused input and refused
confirmations cost nothing.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cmnb
from cmnb.api._apply_result import ApplyInterrupted, ApplyResult
from cmnb.api._desired import rows_from_text
from cmnb.api._plan import Plan
from cmnb.errors import ConfirmationError, InputError
from cmnb.notebook._plan_view import plan_text, result_text
from cmnb.notebook._table import DataSourceTable
from cmnb.notebook._theme import ERROR, SUCCESS


@pytest.fixture
def sb() -> Iterator[cmnb.Sandbox]:
    """An account holding two Custom sources and two integration sources."""
    with cmnb.Sandbox(seed=3, rate_limit_per_s=None, max_connections=None) as sandbox:
        sandbox.add_source("Stripe", system="Stripe")
        sandbox.add_source("Google Sheets import", system="Google Sheets")
        sandbox.add_source("In-house billing")
        sandbox.add_source("Old import")
        yield sandbox


@pytest.fixture
def client(sb: cmnb.Sandbox) -> Iterator[cmnb.Client]:
    with sb.client(rate_limit_per_s=None) as c:
        yield c


def sent(sb: cmnb.Sandbox) -> list[str]:
    """The requests the sandbox received, as ``"GET /v1/data_sources"``."""
    return [f"{r.method} {r.path}" for r in sb.requests]


def names_on(sb: cmnb.Sandbox) -> Counter[str]:
    return Counter(source["name"] for source in sb.sources())


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(step.action, step.name) for step in plan]


# -- every form of desired ----------------------------------------------------------------------

WANTED = ["In-house billing", "Legacy invoices", "Stripe"]
EXPECTED = [("keep", "In-house billing"), ("create", "Legacy invoices"), ("keep", "Stripe")]


def _desired_forms(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "names.csv").write_text(
        "id,name,notes\n1,In-house billing,x\n2,Legacy invoices,\n3,Stripe,y\n"
    )
    (tmp_path / "semicolons.csv").write_text(
        "name;notes\nIn-house billing;a\nLegacy invoices;b\nStripe;c\n"
    )
    (tmp_path / "names.tsv").write_text(
        "notes\tname\n\tIn-house billing\n\tLegacy invoices\n\tStripe\n"
    )
    (tmp_path / "names.txt").write_text("In-house billing\r\nLegacy invoices\n\nStripe\n")
    frame = pd.DataFrame({"name": WANTED, "owner": ["a", "b", "c"]})
    return {
        "list": WANTED,
        "tuple with spaces": tuple(f"  {name} " for name in WANTED),
        "generator": (name for name in WANTED),
        "DataFrame": frame,
        "Series": frame["name"],
        "csv path (str)": str(tmp_path / "names.csv"),
        "csv path (Path), ; separated": tmp_path / "semicolons.csv",
        "tsv path": tmp_path / "names.tsv",
        "txt path": tmp_path / "names.txt",
        "stdin text (rows_from_text)": rows_from_text("\n".join(WANTED) + "\n", "txt"),
    }


def test_every_form_of_desired_gives_the_same_plan_for_one_list_call(
    sb: cmnb.Sandbox, client: cmnb.Client, tmp_path: Path
) -> None:
    for label, desired in _desired_forms(tmp_path).items():
        before = len(sb.requests)
        plan = client.data_sources.plan(desired)
        assert actions(plan) == EXPECTED, label
        assert sent(sb)[before:] == ["GET /v1/data_sources"], label


def test_data_sources_and_a_table_copy_one_account_to_another(client: cmnb.Client) -> None:
    with cmnb.Sandbox(seed=9, rate_limit_per_s=None) as src_sb, src_sb.client() as src:
        for name in WANTED:
            src.data_sources.create(name)
        listed = src.data_sources.list()
        table = DataSourceTable.from_api(src)
    by_name = sorted(EXPECTED, key=lambda step: step[1])
    assert sorted(actions(client.data_sources.plan(listed)), key=lambda s: s[1]) == by_name
    assert sorted(actions(client.data_sources.plan(table)), key=lambda s: s[1]) == by_name


def test_a_plan_reads_well_in_every_form(client: cmnb.Client) -> None:
    plan = client.data_sources.plan([*WANTED, "Sales-led deals"], prune=True)
    assert plan.counts == {"create": 2, "keep": 2, "delete": 1, "ignore": 1}
    assert plan.changes == 3 and len(plan) == 6
    assert [step.row for step in plan][:4] == ["[0]", "[1]", "[2]", "[3]"]
    assert plan.summary() == "2 to create, 2 unchanged, 1 to delete, 1 ignored (not Custom)"
    text = repr(plan)
    assert text.splitlines()[0] == f"Plan: {plan.summary()}"
    assert text.splitlines()[1].startswith("  − delete  'Old import'  Custom  ds_")  # deletes first
    assert "  + create  'Legacy invoices'" in text
    assert repr(client.data_sources.plan([*WANTED, "Sales-led deals"], prune=True)) == text

    frame = plan.to_frame()
    # issue 15 changed the order: the name first, the uuid last
    assert list(frame.columns) == ["name", "action", "system", "created_at", "uuid"]
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    created = frame[frame["action"] == "create"]
    assert created["uuid"].isna().all() and created["created_at"].isna().all()
    assert frame.set_index("name").loc["Stripe", "system"] == "Stripe"

    table = plan_text(plan)
    assert table.splitlines()[0].split() == ["name", "action", "system", "created_at", "uuid"]
    assert table.splitlines()[-1] == plan.summary()
    assert [step.to_dict()["action"] for step in plan] == list(frame["action"])


def test_an_apply_result_shows_whole_errors_wrapped_and_the_uuid_last() -> None:
    from cmnb.api._apply_result import ApplyOutcome
    from cmnb.api._models import DataSource

    reason = "ChartMogul said no " * 6
    kept = DataSource("ds_00000000-0000-4000-8000-000000000001", "Kept")
    result = ApplyResult(
        [
            ApplyOutcome("Broken", "create", "failed", error=InputError(reason.strip())),
            ApplyOutcome("Kept", "keep", "kept", source=kept),
        ]
    )
    text = result_text(result).splitlines()
    assert text[0].split() == ["name", "action", "outcome", "error", "uuid"]
    uuid_at = text[0].index("uuid")
    assert text[-2][uuid_at:] == kept.uuid  # in line under its header
    error_at = text[0].index("error")
    wrapped = [line[error_at:uuid_at].strip() for line in text[1:-2]]
    assert " ".join(wrapped) == f"InputError: {reason.strip()}"  # whole, over several lines
    assert len(wrapped) > 1 and all(line[:error_at].strip() == "" for line in text[2:-2])
    page = result._repr_html_()
    assert reason.strip() in page and "white-space: normal" in page
    frame = result.to_frame()
    assert list(frame.columns) == ["name", "action", "outcome", "error", "uuid"]
    assert frame.loc[0, "error"] == f"InputError: {reason.strip()}" and frame["uuid"][0] is None


def test_plan_html_colours_actions_escapes_names_and_ends_with_the_summary(
    client: cmnb.Client,
) -> None:
    plan = client.data_sources.plan(["<b>bold</b> & co", "Stripe"], prune=True)
    page = plan._repr_html_()
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page and "<b>bold</b>" not in page
    assert f"color: {SUCCESS}" in page and "+ create" in page  # coloured, and signed
    assert f"color: {ERROR}" in page and "− delete" in page
    assert SUCCESS.startswith("var(--jp-success-color1, ")  # the Jupyter theme's colours
    assert page.endswith(f"{plan.summary()}</p></div>")

    many = client.data_sources.plan([f"Source {i:03d}" for i in range(30)] + ["Stripe"], prune=True)
    page = many._repr_html_()
    assert "showing 20 of 34 steps (changes first)" in page
    assert "Old import" in page  # a delete is never cut off behind creates and keeps


# -- bad input: every row reported, nothing sent ------------------------------------------------


def test_every_bad_row_is_reported_at_once_and_nothing_is_sent(
    sb: cmnb.Sandbox, client: cmnb.Client
) -> None:
    desired = ["Fine", "  ", "", "Fine", None, 42, "tab\tinside", " Fine "]
    with pytest.raises(InputError) as caught:
        client.data_sources.plan(desired)
    assert caught.value.problems == [
        ("[1]", "'  ': The name is blank (only whitespace)."),
        ("[2]", "'': The name is empty."),
        ("[3]", "'Fine' is given twice (first at [0])."),
        ("[4]", "The name is missing (None)."),
        ("[5]", "The name must be text, not int."),
        ("[6]", "'tab\\tinside': The name contains a control character (U+0009)."),
        ("[7]", "'Fine' is given twice (first at [0])."),
    ]
    message = str(caught.value)
    assert message.startswith("desired: 7 of 8 rows refused; nothing was sent:")
    assert all(f"  {where}: {reason}" in message for where, reason in caught.value.problems)
    assert sb.requests == []


def test_bad_rows_in_files_and_frames_are_reported_where_the_user_finds_them(
    sb: cmnb.Sandbox, client: cmnb.Client, tmp_path: Path
) -> None:
    path = tmp_path / "sources.csv"
    path.write_text('name,notes\nA,\n"",x\n\nA,\n"multi\nline",y\nB,\n')
    with pytest.raises(InputError) as caught:
        client.data_sources.plan(path)
    assert caught.value.problems == [
        ("line 3", "'': The name is empty."),
        ("line 5", "'A' is given twice (first at line 2)."),
        ("line 6", "'multi\\nline': The name contains a control character (U+000A)."),
    ]
    assert str(caught.value).startswith("sources.csv: 3 of 5 rows refused")

    frame = pd.DataFrame({"name": ["A", None, "B"]}, index=[10, 11, 12])
    frame.loc[12, "name"] = float("nan")
    with pytest.raises(InputError) as caught:
        client.data_sources.plan(frame)
    assert [where for where, _ in caught.value.problems] == ["row 11", "row 12"]
    assert caught.value.problems[1][1] == "The name is missing (an empty cell)."
    assert sb.requests == []


def test_thousands_of_bad_rows_keep_the_message_short_and_every_row_in_problems(
    client: cmnb.Client,
) -> None:
    with pytest.raises(InputError) as caught:
        client.data_sources.plan([""] * 1000)
    assert len(caught.value.problems) == 1000
    assert len(str(caught.value).splitlines()) == 32
    assert str(caught.value).endswith("… and 970 more (every one is in .problems)")


@pytest.mark.parametrize(
    ("desired", "says"),
    [
        ("In-house billing", "is not a .csv, .tsv or .txt file"),
        ("missing.csv", "Cannot read missing.csv"),
        (b"name\nA\n", "not bytes"),
        ({"name": ["A"]}, "not dict"),
        (42, "not int"),
        (
            pd.DataFrame({"title": ["A"]}),
            "the DataFrame has no 'name' column; its columns are 'title'",
        ),
    ],
)
def test_unreadable_desired_is_refused_before_anything_is_sent(
    sb: cmnb.Sandbox, client: cmnb.Client, desired: Any, says: str
) -> None:
    with pytest.raises(InputError, match=says.replace(".", r"\.").replace("(", r"\(")):
        client.data_sources.plan(desired)
    assert sb.requests == []


def test_unreadable_files_are_refused_before_anything_is_sent(
    sb: cmnb.Sandbox, client: cmnb.Client, tmp_path: Path
) -> None:
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9\n".encode("latin-1"))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "other.csv").write_text("title,notes\nA,b\n")
    for file, says in [
        ("latin1.txt", "latin1.txt is not UTF-8 text"),
        ("empty.csv", "empty.csv is empty (no header line)"),
        ("other.csv", "other.csv has no 'name' column; its columns are 'title', 'notes'"),
    ]:
        with pytest.raises(InputError) as caught:
            client.data_sources.plan(tmp_path / file)
        assert says in str(caught.value)
    with pytest.raises(InputError, match="prune must be True or False"):
        client.data_sources.plan(["A"], prune="yes")  # type: ignore[arg-type]
    assert sb.requests == []


# -- planning writes nothing; prune and integrations -------------------------------------------


def test_planning_costs_one_list_call_and_writes_nothing(
    sb: cmnb.Sandbox, client: cmnb.Client
) -> None:
    before = sb.sources()
    client.data_sources.plan(["New one", "Stripe"], prune=True)
    assert sent(sb) == ["GET /v1/data_sources"]
    assert sb.sources() == before


def test_without_prune_nothing_is_deleted_or_even_listed(client: cmnb.Client) -> None:
    plan = client.data_sources.plan(["New one"])
    assert actions(plan) == [("create", "New one")]
    assert plan.apply().counts["created"] == 1  # no confirmation needed: nothing is deleted


def test_prune_deletes_only_custom_sources_and_never_integrations(
    sb: cmnb.Sandbox, client: cmnb.Client
) -> None:
    sb.add_source("Made by an old API client", system="Import API")
    plan = client.data_sources.plan([], prune=True)
    assert sorted(actions(plan)) == [
        ("delete", "In-house billing"),
        ("delete", "Old import"),
        ("ignore", "Google Sheets import"),
        ("ignore", "Made by an old API client"),
        ("ignore", "Stripe"),
    ]
    result = plan.apply(confirm_deletes=2)
    assert result.counts["deleted"] == 2 and result.counts["kept"] == 3
    assert set(names_on(sb)) == {"Stripe", "Google Sheets import", "Made by an old API client"}
    assert not any(r.method == "DELETE" and "ds_" not in r.path for r in sb.requests)


# -- confirmation -------------------------------------------------------------------------------


@pytest.mark.parametrize("confirm", [None, 1, 3, True, "2", 2.0])
def test_deletes_need_their_exact_count_and_nothing_is_sent_without_it(
    sb: cmnb.Sandbox, client: cmnb.Client, confirm: Any
) -> None:
    plan = client.data_sources.plan(["In-house billing", "Brand new"], prune=True)
    assert plan.counts["delete"] == 1 and plan.counts["create"] == 1
    plan = client.data_sources.plan(["Brand new"], prune=True)
    assert plan.counts["delete"] == 2
    before = len(sb.requests)
    with pytest.raises(ConfirmationError) as caught:
        plan.apply(confirm_deletes=confirm)
    message = str(caught.value)
    assert "deletes 2 data sources ('In-house billing', 'Old import')" in message
    assert "destroys every import in it" in message and "irreversibly" in message
    assert "Nothing was sent" in message and "apply(confirm_deletes=2)" in message
    assert caught.value.expected == 2 and caught.value.given == confirm
    assert isinstance(caught.value, cmnb.CmnbError)
    assert len(sb.requests) == before
    assert names_on(sb)["In-house billing"] == 1


def test_confirming_deletes_a_plan_does_not_have_is_refused(
    sb: cmnb.Sandbox, client: cmnb.Client
) -> None:
    plan = client.data_sources.plan(["New"], prune=False)
    before = len(sb.requests)
    with pytest.raises(ConfirmationError, match="this plan deletes nothing"):
        plan.apply(confirm_deletes=2)
    assert len(sb.requests) == before
    assert plan.apply(confirm_deletes=0).ok


# -- apply: outcomes, staleness, idempotence ----------------------------------------------------


def test_apply_then_plan_again_changes_nothing(sb: cmnb.Sandbox, client: cmnb.Client) -> None:
    desired = ["In-house billing", "Legacy invoices", "Sales-led deals", "Stripe"]
    plan = client.data_sources.plan(desired, prune=True)
    result = plan.apply(confirm_deletes=1)
    assert [(o.name, o.action, o.outcome) for o in result] == [
        ("In-house billing", "keep", "kept"),
        ("Legacy invoices", "create", "created"),
        ("Sales-led deals", "create", "created"),
        ("Stripe", "keep", "kept"),
        ("Google Sheets import", "ignore", "kept"),
        ("Old import", "delete", "deleted"),
    ]
    assert result.ok and result.summary() == "6 steps: 2 created, 3 kept, 1 deleted"
    again = client.data_sources.plan(desired, prune=True)
    assert again.changes == 0 and again.counts["keep"] == 4
    assert again.apply().counts == {**dict.fromkeys(result.counts, 0), "kept": 5}
    assert names_on(sb) == Counter([*desired, "Google Sheets import"])


def test_applying_the_same_plan_twice_is_harmless(sb: cmnb.Sandbox, client: cmnb.Client) -> None:
    plan = client.data_sources.plan(["New"], prune=True)
    plan.apply(confirm_deletes=2)
    second = plan.apply(confirm_deletes=2)
    assert {o.name: o.outcome for o in second if o.action != "ignore"} == {
        "New": "existing",
        "In-house billing": "gone",
        "Old import": "gone",
    }
    assert second.ok and names_on(sb)["New"] == 1


def test_a_stale_plan_acts_only_on_what_it_showed_and_says_what_changed(
    sb: cmnb.Sandbox, client: cmnb.Client
) -> None:
    plan = client.data_sources.plan(["In-house billing", "Appeared", "Fresh"], prune=True)
    assert plan.counts == {"create": 2, "keep": 1, "delete": 1, "ignore": 2}
    # Meanwhile, someone else changes the account.
    with sb.client() as other:
        other.data_sources.create("Appeared")
        held = {s.name: s for s in other.data_sources.list()}
        other.data_sources.delete(held["Old import"].uuid)
        other.data_sources.delete(held["In-house billing"].uuid)
        other.data_sources.delete(held["Stripe"].uuid)
        late = other.data_sources.create("Created after the plan")
    result = plan.apply(confirm_deletes=1)
    outcomes = {o.name: o.outcome for o in result}
    assert outcomes == {
        "In-house billing": "failed",  # planned keep, deleted since: not re-created
        "Appeared": "existing",
        "Fresh": "created",
        "Old import": "gone",
        "Google Sheets import": "kept",
        "Stripe": "gone",
    }
    kept_error = next(o.error for o in result if o.name == "In-house billing")
    assert "deleted after the plan was made" in str(kept_error)
    assert late.uuid in {s["uuid"] for s in sb.sources()}  # never shown, never deleted
    assert not result.ok and result.failed[0].name == "In-house billing"


def test_apply_reports_progress_for_every_step(client: cmnb.Client) -> None:
    plan = client.data_sources.plan(["In-house billing", "A", "B"], prune=True)
    seen: list[tuple[int, int, str]] = []

    class Bar:
        started: int | None = None
        finished: ApplyResult | None = None

        def start(self, total: int) -> None:
            self.started = total

        def __call__(self, done: int, total: int, outcome: Any) -> None:
            seen.append((done, total, outcome.outcome))

        def finish(self, result: ApplyResult) -> None:
            self.finished = result

    bar = Bar()
    result = plan.apply(confirm_deletes=1, progress=bar)
    assert bar.started == len(plan) == 6 and bar.finished is result
    assert [done for done, _, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert Counter(outcome for _, _, outcome in seen) == Counter(o.outcome for o in result)


def test_ctrl_c_during_the_creates_sends_no_delete(sb: cmnb.Sandbox, client: cmnb.Client) -> None:
    plan = client.data_sources.plan([f"New {i}" for i in range(5)], prune=True)

    def interrupt(done: int, total: int, outcome: Any) -> None:
        if outcome.action == "create":
            raise KeyboardInterrupt

    with pytest.raises(ApplyInterrupted) as caught:
        plan.apply(confirm_deletes=2, concurrency=1, progress=interrupt)
    partial = caught.value.partial_result
    assert partial.interrupted and len(partial) == len(plan)
    assert {o.outcome for o in partial if o.action == "delete"} == {"skipped"}
    assert not any(r.method == "DELETE" for r in sb.requests)
    created = {o.name for o in partial if o.outcome == "created"}
    assert created == {n for n in names_on(sb) if n.startswith("New")}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_apply_under_random_faults_keeps_a_record_equal_to_the_server(seed: int) -> None:
    """10% of every kind of request go wrong while the plan is applied, with the client's
    default ``max_attempts``: whatever happened, the record must say what the server holds."""
    with cmnb.Sandbox(seed=5, rate_limit_per_s=None, max_connections=None) as sb:
        for i in range(20):
            sb.add_source(f"Obsolete {i:02d}")
        sb.add_source("Stripe", system="Stripe")
        for i in range(10):
            sb.add_source(f"Kept {i:02d}")
        faults = [
            {"endpoint": "create", "status": 500, "after_commit": True},
            {"endpoint": "create", "reset": True},
            {"endpoint": "delete", "status": 502, "after_commit": True},
            {"endpoint": "delete", "reset": True, "after_commit": True},
            {"endpoint": "any", "status": 500},
            {"endpoint": "any", "status": 429},
        ]
        desired = [f"Kept {i:02d}" for i in range(10)] + [f"New {i:02d}" for i in range(40)]
        with sb.client(
            timeout=1,
            deadline_s=30,
            rate_limit_per_s=None,
            _sleep=lambda s: time.sleep(s / 20),
        ) as client:
            assert client._transport.max_attempts == 4  # the default
            plan = client.data_sources.plan(desired, prune=True)
            assert plan.counts == {"create": 40, "keep": 10, "delete": 20, "ignore": 1}
            for n, fault in enumerate(faults):
                sb.faults.add(**fault, times=None, probability=0.1, seed=seed * 100 + n)  # type: ignore[arg-type]
            result = plan.apply(confirm_deletes=20, concurrency=4)
        assert sum(f.fired for f in sb.faults) > 10  # the faults really bit
        sb.faults.clear()
        server = {s["name"]: s["uuid"] for s in sb.sources()}
        assert len(server) == len(sb.sources())  # no duplicates
        for o in result:
            if o.outcome in ("created", "existing", "kept"):
                assert server.get(o.name) == o.uuid, o
            elif o.outcome in ("deleted", "gone"):
                assert o.uuid not in server.values(), o
            elif o.outcome == "failed" and o.action == "create":
                assert o.name not in server, o
            elif o.outcome == "failed":
                assert o.uuid in server.values(), o
        with sb.client(rate_limit_per_s=None) as client:
            again = client.data_sources.plan(desired, prune=True)
            not_done = sum(1 for o in result if not o.ok)
            assert again.changes <= not_done
            again.apply(confirm_deletes=again.counts["delete"])
            assert client.data_sources.plan(desired, prune=True).changes == 0


def test_a_server_that_keeps_failing_gives_failed_rows_that_match_it(sb: cmnb.Sandbox) -> None:
    with sb.client(rate_limit_per_s=None, max_attempts=2, _sleep=lambda s: None) as client:
        plan = client.data_sources.plan(["Stripe", "Never made"], prune=True)
        sb.faults.add("create", status=500, times=None)
        sb.faults.add("delete", status=500, times=None)
        result = plan.apply(confirm_deletes=2)
    assert {o.name: o.outcome for o in result if o.action in ("create", "delete")} == {
        "Never made": "failed",
        "In-house billing": "failed",
        "Old import": "failed",
    }
    assert "Never made" not in names_on(sb)
    assert {"In-house billing", "Old import"} <= set(names_on(sb))
    assert all("HTTP 500" in str(o.error) for o in result.failed)


def test_deletes_whose_answers_are_lost_are_unknown_when_the_lookup_fails_too() -> None:
    with cmnb.Sandbox(seed=4, rate_limit_per_s=None) as sb:
        for name in ("One", "Two"):
            sb.add_source(name)
        with sb.client(rate_limit_per_s=None, max_attempts=2, _sleep=lambda s: None) as client:
            plan = client.data_sources.plan([], prune=True)
            sb.faults.add("delete", reset=True, times=None)  # sent, never answered
            sb.faults.add("retrieve", status=500, times=None)  # no lookup answers either
            sb.faults.add("list", status=500, times=None)
            result = plan.apply(confirm_deletes=2)
        assert [o.outcome for o in result] == ["unknown", "unknown"]
        assert result.unknown == list(result) and not result.ok
        assert "unknown" in repr(result) and "may have reached the server" in repr(result)


def test_the_key_never_shows(canary: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    with cmnb.Sandbox(canary, seed=1, rate_limit_per_s=None) as sb:
        sb.add_source("Old")
        with sb.client(rate_limit_per_s=None) as client:
            plan = client.data_sources.plan(["A", "B"], prune=True)
            shown += [repr(plan), str(plan), plan._repr_html_(), plan_text(plan)]
            shown += [repr(step) for step in plan] + [str(plan.to_frame())]
            with pytest.raises(ConfirmationError) as refused:
                plan.apply()
            shown += [str(refused.value), repr(refused.value)]
            with pytest.raises(InputError) as bad:
                client.data_sources.plan(["", "A", "A"])
            shown += [str(bad.value), repr(bad.value.problems)]
            sb.faults.add("create", status=500, times=None)
            result = plan.apply(confirm_deletes=1)
            shown += [repr(result), result._repr_html_(), result_text(result)]
            shown += [str(result.to_frame()), repr(list(result))]
    shown += [record.getMessage() for record in caplog.records]
    encoded = base64.b64encode(f"{canary}:".encode()).decode()
    assert not [text for text in shown if canary in text or encoded in text]
    assert result.counts["failed"] == 2


def test_planning_and_applying_load_no_pandas_or_widgets() -> None:
    script = (
        "import sys, cmnb\n"
        "with cmnb.Sandbox(seed=1) as sb:\n"
        "    sb.add_source('Old')\n"
        "    plan = sb.client().data_sources.plan(['A'], prune=True)\n"
        "    repr(plan), repr(plan.apply(confirm_deletes=1))\n"
        "heavy = ('pandas', 'numpy', 'ipywidgets', 'IPython', 'jinja2')\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
