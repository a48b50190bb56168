"""One human message per error class, shared by the form and the CLI."""

from __future__ import annotations

import pytest

from cmnb.errors import TransportError
from cmnb.notebook._messages import describe_error


@pytest.mark.parametrize(("method", "hinted"), [("POST", True), ("GET", False), ("DELETE", False)])
def test_reuse_advice_after_a_lost_answer_only_for_a_create(method: str, hinted: bool) -> None:
    error = TransportError("read timed out", method=method, path="/v1/ping", maybe_sent=True)
    text = describe_error(error, reuse_option="Pass --ensure")
    assert text.startswith("Could not reach ChartMogul")
    assert ("Pass --ensure before trying again." in text) is hinted


def test_no_reuse_advice_when_the_request_never_left() -> None:
    error = TransportError("connection refused", method="POST", maybe_sent=False)
    assert "before trying again" not in describe_error(error)
