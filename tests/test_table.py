"""DataSourceTable: the collection, its DataFrame, exports and the round trip to the server."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cmnb
from cmnb.api._models import DataSource, format_timestamp
from cmnb.errors import ConfigError
from cmnb.notebook._table import BASE_COLUMNS, DataSourceTable


def source(n: int, name: str | None = None, status: str = "idle", **extra: Any) -> DataSource:
    return DataSource.from_dict(
        {
            "uuid": f"ds_00000000-0000-4000-8000-{n:012d}",
            "name": name if name is not None else f"Source {n}",
            "system": "Custom",
            "created_at": f"2024-03-{n:02d}T09:30:00.918Z",
            "status": status,
            **extra,
        }
    )


class FakeDataSources:
    """Stands in for ``client.data_sources``: serves a fixed list and records each call."""

    def __init__(self, sources: list[DataSource]) -> None:
        self.sources = sources
        self.calls: list[dict[str, Any]] = []

    def list(self, **filters: Any) -> list[DataSource]:
        self.calls.append(filters)
        return [s for s in self.sources if filters.get("name") in (None, s.name)]


class FakeClient:
    def __init__(self, sources: list[DataSource]) -> None:
        self.data_sources = FakeDataSources(sources)


def test_empty_frame_has_the_columns_and_dtypes() -> None:
    frame = DataSourceTable().df
    assert list(frame.columns) == list(BASE_COLUMNS)
    assert len(frame) == 0
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"


def test_frame_columns_values_and_dtypes() -> None:
    table = DataSourceTable([source(1), source(2, status="working")])
    frame = table.df
    # issue 15 changed the order: the name first, the uuid last
    assert list(frame.columns) == ["name", "system", "created_at", "status", "uuid"]
    assert list(frame["name"]) == ["Source 1", "Source 2"]
    assert list(frame["status"]) == ["idle", "working"]
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["created_at"][0] == pd.Timestamp("2024-03-01T09:30:00.918Z")
    assert frame["name"].dtype == DataSourceTable([]).df["name"].dtype


def test_blocks_are_flattened_in_a_stable_order_with_nullable_dtypes() -> None:
    invoices = {
        "manual": {"create_subscription_when_invoice_is": "open", "zeta": 1},
        "automatic": {"prevent_subscription_for_invoice_voided": True},
    }
    table = DataSourceTable(
        [
            source(1, invoice_handling_setting=invoices),
            source(2, processing_status={"processed": None, "pending": 2, "failed": None}),
            source(3),
        ]
    )
    frame = table.df
    columns = list(frame.columns)
    assert columns[:7] == [
        *BASE_COLUMNS[:-1],
        "processing_status.processed",
        "processing_status.pending",
        "processing_status.failed",
    ]
    assert columns[-1] == "uuid"  # after every block field
    assert columns.index("invoice_handling_setting.manual.zeta") > columns.index(
        "invoice_handling_setting.manual.prevent_subscription_for_invoice_written_off"
    )
    assert columns.index("invoice_handling_setting.manual.zeta") < columns.index(
        "invoice_handling_setting.automatic.create_subscription_when_invoice_is"
    )
    assert str(frame["processing_status.processed"].dtype) == "Int64"
    assert frame["processing_status.pending"].tolist() == [pd.NA, 2, pd.NA]
    assert (
        str(
            frame[
                "invoice_handling_setting.automatic.prevent_subscription_for_invoice_voided"
            ].dtype
        )
        == "boolean"
    )
    # the same sources in another order give the same columns
    assert list(DataSourceTable(reversed(table.sources)).df.columns) == columns


def test_asked_for_blocks_give_the_same_columns_with_or_without_rows() -> None:
    blocks = ["processing_status", "invoice_handling_setting"]
    empty = DataSourceTable().to_frame(blocks=blocks)
    plain = DataSourceTable([source(1)]).to_frame(blocks=blocks)
    full = DataSourceTable(
        [
            source(
                1,
                processing_status={"processed": 1, "pending": 0, "failed": 0},
                invoice_handling_setting={
                    "manual": {"create_subscription_when_invoice_is": "open"},
                    "automatic": {"create_subscription_when_invoice_is": "paid"},
                },
                auto_churn_subscription_setting={"enabled": True, "interval": 7},
            )
        ]
    ).to_frame(blocks=blocks)
    assert list(empty.columns) == list(plain.columns)
    assert list(empty.columns)[4:7] == [
        "processing_status.processed",
        "processing_status.pending",
        "processing_status.failed",
    ]
    assert list(empty.columns)[-1] == "uuid"
    assert "invoice_handling_setting.automatic.create_subscription_when_invoice_is" in empty
    assert not any(c.startswith("auto_churn") for c in empty.columns)  # not asked for
    # a source carrying every block adds the one not asked for, after the others' columns
    assert [c for c in full.columns if not c.startswith("auto_churn")] == list(empty.columns)
    assert str(empty["processing_status.processed"].dtype) == "Int64"
    assert plain["processing_status.processed"].isna().all()
    assert list(DataSourceTable().to_frame().columns) == list(BASE_COLUMNS)


def test_an_unknown_block_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown block 'processing'"):
        DataSourceTable().to_frame(blocks=["processing"])


def test_no_created_at_becomes_nat() -> None:
    frame = DataSourceTable([DataSource("ds_x", "x")]).df
    assert frame["created_at"].isna().all()
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"


def test_add_extend_len_contains_remove() -> None:
    table = DataSourceTable()
    table.add(source(1))
    table.extend([source(2), source(3)])
    assert len(table) == 3
    assert source(2).uuid in table and source(2) in table
    table.add(source(2, status="working"))  # same uuid: replaced in place, not duplicated
    assert len(table) == 3
    assert [s.status for s in table] == ["idle", "working", "idle"]
    removed = table.remove(source(1).uuid)
    assert removed.name == "Source 1"
    assert [s.name for s in table.sources] == ["Source 2", "Source 3"]
    with pytest.raises(KeyError, match="no data source"):
        table.remove(source(1).uuid)
    with pytest.raises(TypeError, match="DataSource"):
        table.add({"uuid": "x"})  # type: ignore[arg-type]


def test_a_source_comes_back_as_added_with_its_blocks_unknown_keys_and_microseconds() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    added = dataclasses.replace(
        source(1, processing_status={"processed": 3, "pending": 1}, surprise={"new": True}),
        created_at=moment,
    )
    table = DataSourceTable([added])
    assert table.sources == [added] and table.find_name("Source 1") == added
    assert table.sources[0].extra == {"surprise": {"new": True}}  # extra is not compared by ==
    assert table.sources[0].created_at == moment
    assert table.remove(added.uuid) == added


def test_find_name_is_exact_after_stripping() -> None:
    table = DataSourceTable([source(1, "Billing")])
    assert table.find_name("  Billing ") is not None
    assert table.find_name("billing") is None


def test_repr_html_and_plain_repr() -> None:
    table = DataSourceTable([source(n) for n in range(1, 5)], max_rows=2)
    html = table._repr_html_()
    assert "showing 2 of 4 data sources (newest first)" in html
    assert "Source 4" in html and "Source 1" not in html
    text = repr(table)
    assert text.splitlines()[0] == "DataSourceTable: showing 2 of 4 data sources (newest first)"
    assert "'Source 4'" in text.splitlines()[1]
    assert repr(DataSourceTable()) == "DataSourceTable: No data sources yet."


def test_to_csv_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sources.csv"
    DataSourceTable([source(1, 'Comma, "quoted"')]).to_csv(path)
    back = pd.read_csv(path)
    assert list(back.columns) == list(BASE_COLUMNS)
    assert back["name"][0] == 'Comma, "quoted"'
    assert back["created_at"][0] == "2024-03-01T09:30:00.918Z"


def test_the_csv_columns_are_the_frames_in_its_order(tmp_path: Path) -> None:
    path = tmp_path / "sources.csv"
    table = DataSourceTable([source(1, processing_status={"processed": 1})])
    table.to_csv(path)
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == list(table.df.columns)
    assert header[0] == "name" and header[-1] == "uuid"


def test_to_csv_writes_the_api_timestamp_form_and_reads_back(tmp_path: Path) -> None:
    moments = [
        datetime(2024, 3, 1, 9, 0, 1, 304999, tzinfo=timezone.utc),  # truncated, not rounded
        datetime(2024, 3, 1, 9, 0, 2, tzinfo=timezone.utc),
        None,
    ]
    sources = [DataSource(f"ds_{i}", f"S{i}", created_at=m) for i, m in enumerate(moments)]
    path = tmp_path / "sources.csv"
    DataSourceTable(sources).to_csv(path)
    text = pd.read_csv(path, dtype=str, keep_default_na=False)["created_at"].tolist()
    assert text == ["2024-03-01T09:00:01.304Z", "2024-03-01T09:00:02.000Z", ""]
    assert text[:2] == [format_timestamp(m) for m in moments[:2]]
    back = pd.read_csv(path, parse_dates=["created_at"])["created_at"]
    assert str(back.dt.tz) == "UTC"
    expected = DataSourceTable(sources).df["created_at"].dt.floor("ms")
    assert back.tolist()[:2] == expected.tolist()[:2]
    assert pd.isna(back[2])


def test_to_parquet_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "sources.parquet"
    table = DataSourceTable([source(1), source(2, processing_status={"processed": 1})])
    table.to_parquet(path)
    back = pd.read_parquet(path)
    assert list(back.columns) == list(table.df.columns)
    assert back["created_at"][1] == pd.Timestamp("2024-03-02T09:30:00.918Z")


def test_to_parquet_without_pyarrow_says_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'cmnb\[parquet\]'"):
        DataSourceTable([source(1)]).to_parquet(tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_from_api_passes_filters() -> None:
    client = FakeClient([source(1), source(2)])
    table = DataSourceTable.from_api(client, name="Source 2")  # type: ignore[arg-type]
    assert [s.name for s in table] == ["Source 2"]
    assert client.data_sources.calls == [{"name": "Source 2"}]


def test_refresh_updates_statuses_and_drops_deleted_sources() -> None:
    table = DataSourceTable([source(1), source(2), source(3)])
    server = FakeClient([source(3, status="working"), source(1), source(9)])
    dropped = table.refresh(server)  # type: ignore[arg-type]
    assert [s.uuid for s in dropped] == [source(2).uuid]
    assert [(s.name, s.status) for s in table] == [("Source 1", "idle"), ("Source 3", "working")]
    assert source(9) not in table  # not ours: never added
    assert server.data_sources.calls == [
        {
            "with_processing_status": False,
            "with_auto_churn_subscription_setting": False,
            "with_invoice_handling_setting": False,
        }
    ]


def test_refresh_asks_for_the_blocks_the_table_shows() -> None:
    table = DataSourceTable([source(1, processing_status={"processed": 0})])
    server = FakeClient([source(1, processing_status={"processed": 5})])
    table.refresh(server)  # type: ignore[arg-type]
    [call] = server.data_sources.calls
    assert call["with_processing_status"] is True
    assert call["with_invoice_handling_setting"] is False
    assert table.df["processing_status.processed"].tolist() == [5]


def test_refresh_of_an_empty_table_sends_nothing() -> None:
    server = FakeClient([source(1)])
    assert DataSourceTable().refresh(server) == []  # type: ignore[arg-type]
    assert server.data_sources.calls == []


def test_refresh_failure_leaves_the_table_unchanged() -> None:
    class Failing:
        class data_sources:
            @staticmethod
            def list(**_: Any) -> list[DataSource]:
                raise cmnb.ServerError(500, "boom")

    table = DataSourceTable([source(1)])
    with pytest.raises(cmnb.ServerError):
        table.refresh(Failing())  # type: ignore[arg-type]
    assert len(table) == 1


def test_created_at_keeps_microseconds_in_utc() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    frame = DataSourceTable([DataSource("ds_x", "x", created_at=moment)]).df
    assert frame["created_at"][0] == pd.Timestamp(moment)


def test_import_cmnb_loads_neither_pandas_nor_ipywidgets() -> None:
    code = (
        "import sys, cmnb; cmnb.DataSource; "
        "print(sorted(m for m in ('pandas', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- against the real sandbox --------------------------------------------------------------------


def test_from_api_and_refresh_against_the_sandbox() -> None:
    with cmnb.Sandbox(seed=1, rate_limit_per_s=None) as sb, sb.client() as client:
        for name in ("A", "B", "C"):
            client.data_sources.create(name)
        sb.add_source("Stripe account", system="Stripe")
        table = DataSourceTable.from_api(client, system="Custom")
        assert [s.name for s in table] == ["A", "B", "C"]
        assert list(table.df.columns) == list(BASE_COLUMNS)

        client.data_sources.delete(table.find_name("B").uuid)  # type: ignore[union-attr]
        dropped = table.refresh(client)
        assert [s.name for s in dropped] == ["B"]
        assert [s.name for s in table] == ["A", "C"]

        with_status = DataSourceTable.from_api(client, with_processing_status=True)
        assert "processing_status.processed" in with_status.df.columns
        assert len(with_status) == 3  # A, C and the Stripe one


@pytest.mark.parametrize("stamp", ["2263-01-01T00:00:00.000Z", "1600-01-01 00:00:00"])
def test_instants_beyond_datetime64_ns_become_nat_not_an_error(stamp: str) -> None:
    # pandas 2 raises for these where pandas 3 coerces: `make compat` runs this on pandas 2.
    fine = {
        "uuid": "ds_00000000-0000-4000-8000-000000000001",
        "name": "Fine",
        "system": "Custom",
        "created_at": "2024-03-01T09:00:00.000Z",
        "status": "idle",
    }
    odd = {**fine, "uuid": "ds_00000000-0000-4000-8000-000000000002", "name": "Odd"}
    odd["created_at"] = stamp
    parsed = DataSourceTable([DataSource.from_dict(fine), DataSource.from_dict(odd)])
    as_listed = DataSourceTable()
    as_listed._extend_json([fine, odd])  # what from_api holds: the API's JSON, parsed in bulk
    for table in (parsed, as_listed):
        frame = table.to_frame().set_index("name")
        assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
        assert frame.loc["Fine", "created_at"] == pd.Timestamp("2024-03-01T09:00:00Z")
        assert pd.isna(frame.loc["Odd", "created_at"])
