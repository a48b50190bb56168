from __future__ import annotations

import pickle
from datetime import datetime, timezone

import pytest

import cmnb
from cmnb.api._models import DataSource, parse_timestamp
from cmnb.api._secret import Secret
from cmnb.api._validation import check_name, check_uuid
from cmnb.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    DuplicateNameError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnprocessableError,
    error_from_response,
)

SEED = {
    "uuid": "ds_fef05d54-47b4-431b-aed2-eb6b9e545430",
    "name": "In-house billing",
    "system": "Custom",
    "created_at": "2023-01-10T15:34:05.918Z",
    "status": "idle",
}


def test_secret_never_shows_itself(canary: str) -> None:
    secret = Secret(canary)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{[secret]}"):
        assert canary not in shown
    assert secret.reveal() == canary
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_parse_seed_object_and_round_trip() -> None:
    ds = DataSource.from_dict(SEED)
    assert ds.uuid == SEED["uuid"]
    assert ds.created_at == datetime(2023, 1, 10, 15, 34, 5, 918000, tzinfo=timezone.utc)
    assert ds.to_dict() == SEED
    assert repr(ds) == (
        "DataSource(uuid='ds_fef05d54-47b4-431b-aed2-eb6b9e545430', name='In-house billing', "
        "system='Custom', created_at=2023-01-10T15:34:05.918Z, status='idle')"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-01-10 15:34:05", datetime(2016, 1, 10, 15, 34, 5, tzinfo=timezone.utc)),
        ("2023-01-10T15:34:05Z", datetime(2023, 1, 10, 15, 34, 5, tzinfo=timezone.utc)),
        (
            "2023-01-10T17:34:05.5+02:00",
            datetime(2023, 1, 10, 15, 34, 5, 500000, tzinfo=timezone.utc),
        ),
        ("not a date", None),
        (None, None),
        ("2023-13-40T00:00:00Z", None),
    ],
)
def test_parse_timestamp(text: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_unknown_fields_and_open_strings_never_break_parsing() -> None:
    data = {
        **SEED,
        "status": "some_future_status",
        "system": "Import API",
        "brand_new": {"x": 1},
        "processing_status": {"processed": 5, "pending": None, "failed": 0, "extra_count": 2},
        "auto_churn_subscription_setting": {"enabled": True, "interval": 7},
        "invoice_handling_setting": {
            "manual": {"create_subscription_when_invoice_is": "open", "future_rule": True},
            "automatic": {"prevent_subscription_for_invoice_voided": False},
        },
    }
    ds = DataSource.from_dict(data)
    assert ds.status == "some_future_status"
    assert ds.processing_status is not None and ds.processing_status.processed == 5
    assert ds.auto_churn_subscription_setting is not None
    assert ds.auto_churn_subscription_setting.interval == 7
    assert ds.invoice_handling_setting is not None
    manual = ds.invoice_handling_setting.manual
    assert manual is not None and manual.create_subscription_when_invoice_is == "open"
    out = ds.to_dict()
    assert out["brand_new"] == {"x": 1}
    assert out["processing_status"]["extra_count"] == 2
    assert out["invoice_handling_setting"]["manual"]["future_rule"] is True
    assert DataSource.from_dict({}).uuid == ""


@pytest.mark.parametrize(
    ("status", "body", "cls", "message", "param"),
    [
        (
            400,
            '{"code":400,"message":"Parameter \\"name\\" is missing","param":"name"}',
            BadRequestError,
            'Parameter "name" is missing',
            "name",
        ),
        (
            422,
            '{"errors":{"name":"A name is required for each data source."}}',
            UnprocessableError,
            "name: A name is required for each data source.",
            None,
        ),
        (
            422,
            '{"errors":{"name":"Has already been taken."}}',
            DuplicateNameError,
            "name: Has already been taken.",
            None,
        ),
        (404, '{"error":"Data source not found"}', NotFoundError, "Data source not found", None),
        (
            401,
            '{"code":401,"message":"No valid API key provided","param":null}',
            AuthenticationError,
            "No valid API key provided",
            None,
        ),
        (
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
            ServerError,
            "502 Bad Gateway",
            None,
        ),
        (500, "", ServerError, "", None),
        (504, "upstream timed out\nmore", ServerError, "upstream timed out", None),
        (418, "{not json", APIError, "{not json", None),
    ],
)
def test_error_body_shapes(
    status: int, body: str, cls: type[APIError], message: str, param: str | None
) -> None:
    error = error_from_response(
        status, body.encode(), method="POST", path="/v1/data_sources", name="X"
    )
    assert type(error) is cls
    assert error.status == status
    assert error.message == message
    assert error.param == param
    assert "POST /v1/data_sources" in str(error)


def test_duplicate_message_is_actionable_and_names_existing() -> None:
    error = error_from_response(422, '{"errors":{"name":"Has already been taken."}}', name="X")
    assert isinstance(error, DuplicateNameError)
    assert "A data source named 'X' already exists" in str(error)
    error.attach_existing(DataSource.from_dict(SEED))
    assert SEED["uuid"] in str(error)
    assert error.existing is not None


def test_rate_limit_keeps_retry_after() -> None:
    error = error_from_response(429, "{}", retry_after_s=2.0)
    assert isinstance(error, RateLimitError)
    assert error.retry_after_s == 2.0
    assert "retry after 2 s" in str(error)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("   \t", "blank"),
        ("bad\x00name", "control character"),
        ("bad\nname", "control character"),
        ("bad\ud800", "surrogate"),
        (42, "must be text"),
        (None, "must be text"),
    ],
)
def test_bad_names_are_refused(raw: object, problem: str) -> None:
    with pytest.raises(cmnb.InputError, match=problem) as caught:
        check_name(raw)
    assert caught.value.field == "name"


def test_names_are_stripped_and_unicode_kept() -> None:
    assert check_name("  In-house billing \n") == "In-house billing"
    assert check_name("مرحبا 🚀 שלום") == "مرحبا 🚀 שלום"


def test_uuid_error_never_echoes_what_is_not_a_uuid_attempt(canary: str) -> None:
    with pytest.raises(cmnb.InputError) as caught:
        check_uuid(canary)
    assert canary not in str(caught.value)
    with pytest.raises(cmnb.InputError, match="'ds_123' is not a data source uuid"):
        check_uuid("ds_123")


def test_uuid_check() -> None:
    assert check_uuid(" DS_FEF05D54-47B4-431B-AED2-EB6B9E545430 ") == SEED["uuid"].lower()
    for bad in ("", "fef05d54-47b4-431b-aed2-eb6b9e545430", "ds_123", "ds_../../etc", 7):
        with pytest.raises(cmnb.InputError):
            check_uuid(bad)


def test_flatten_fields_names_nested_values_with_dots() -> None:
    from cmnb.api._models import flatten_fields

    nested = {"uuid": "ds_x", "block": {"a": 1, "side": {"b": None}}, "empty": {}}
    assert flatten_fields(nested) == {"uuid": "ds_x", "block.a": 1, "block.side.b": None}
    assert flatten_fields({"a": 1}, "processing_status") == {"processing_status.a": 1}


@pytest.mark.parametrize(
    "raw", ["processed", 3, ["a", "b"], True], ids=["string", "int", "list", "bool"]
)
def test_a_block_that_is_not_an_object_is_kept_as_given(raw: object) -> None:
    # Public SDK fixtures hold a plain string where a block belongs: keep it, do not drop it.
    data = {
        "uuid": "ds_1",
        "name": "A",
        "processing_status": raw,
        "auto_churn_subscription_setting": None,
        "invoice_handling_setting": {"manual": {"create_subscription_when_invoice_is": "open"}},
    }
    source = DataSource.from_dict(data)
    assert source.processing_status is None
    assert source.extra == {"processing_status": raw}
    assert source.auto_churn_subscription_setting is None  # null: no block, nothing to keep
    assert source.invoice_handling_setting is not None
    out = source.to_dict()
    assert out["processing_status"] == raw  # written back as it came
    assert "auto_churn_subscription_setting" not in out
