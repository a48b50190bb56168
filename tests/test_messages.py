"""One human message per error class, shared by the form and the CLI."""

from __future__ import annotations

import pytest

from cmnb.api._bulk_result import BulkOutcome
from cmnb.errors import InputError, ServerError, TransportError
from cmnb.notebook._messages import describe_error, describe_outcome, short_error


@pytest.mark.parametrize(("method", "hinted"), [("POST", True), ("GET", False), ("DELETE", False)])
def test_reuse_advice_after_a_lost_answer_only_for_a_create(method: str, hinted: bool) -> None:
    error = TransportError("read timed out", method=method, path="/v1/ping", maybe_sent=True)
    text = describe_error(error, reuse_option="Pass --ensure")
    assert text.startswith("Could not reach ChartMogul")
    assert ("Pass --ensure before trying again." in text) is hinted


def test_no_reuse_advice_when_the_request_never_left() -> None:
    error = TransportError("connection refused", method="POST", maybe_sent=False)
    assert "before trying again" not in describe_error(error)


def test_a_bulk_outcome_is_said_like_its_error_or_as_not_sent() -> None:
    refused = ServerError(502, "Bad Gateway")
    failed = BulkOutcome("A", "failed", error=refused)
    assert describe_outcome(failed) == describe_error(refused)
    assert describe_outcome(BulkOutcome("B", "skipped")) == "Not sent: the run was interrupted."
    assert describe_outcome(BulkOutcome("C", "created")) is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, ""),
        (InputError("The name is empty."), "InputError: The name is empty."),
        (RuntimeError(""), "RuntimeError"),
        (ValueError("first line\nsecond line"), "ValueError: first line"),
    ],
)
def test_short_error_is_the_type_and_the_first_line(
    error: BaseException | None, expected: str
) -> None:
    assert short_error(error) == expected


def test_short_error_is_cut_to_its_limit() -> None:
    text = short_error(ValueError("x" * 500), limit=20)
    assert len(text) == 20 and text.endswith("…")


def test_an_unknown_outcome_says_it_may_exist_and_a_lost_answer_found_says_so() -> None:
    lost = TransportError("reset", method="POST", maybe_sent=True)
    unknown = describe_outcome(
        BulkOutcome("U", "unknown", error=lost), reuse_option="Pass --ensure"
    )
    assert unknown is not None and unknown.startswith("Unknown: ")
    assert "may or may not exist" in unknown and "Pass --ensure before sending it again" in unknown
    found = BulkOutcome("F", "created", note="Its answer was lost; the lookup found it.")
    assert describe_outcome(found) == "Its answer was lost; the lookup found it."


def test_messages_name_the_sandbox_when_it_answered(canary: str) -> None:
    """The target comes from the client's base URL: on this machine, a sandbox; else ChartMogul."""
    import cmnb

    with cmnb.Sandbox(canary) as sb, sb.client(max_attempts=1) as client:
        sb.faults.add("list", status=500)
        with pytest.raises(ServerError) as caught:
            client.data_sources.list()
    assert caught.value.target == "the sandbox"
    assert describe_error(caught.value).startswith("The sandbox had a server error (HTTP 500)")
    gone = TransportError("connection refused", method="GET", target="the sandbox")
    assert describe_error(gone).startswith("Could not reach the sandbox")
    assert describe_error(TransportError("refused", method="GET")).startswith(
        "Could not reach ChartMogul"
    )


def test_an_answer_from_chartmogul_is_said_to_be_chartmogul_s(canary: str) -> None:
    import responses

    import cmnb

    with responses.RequestsMock() as rsps, cmnb.Client(canary, max_attempts=1) as client:
        rsps.get("https://api.chartmogul.com/v1/data_sources", status=503, body="down")
        with pytest.raises(ServerError) as caught:
            client.data_sources.list()
    assert caught.value.target == "ChartMogul"
    assert describe_error(caught.value).startswith("ChartMogul had a server error (HTTP 503)")
