"""The public names are a contract: this pins them, and checks each one resolves."""

from __future__ import annotations

import subprocess
import sys

import cmnb

EXPECTED = {
    "APIError",
    "ApplyInterrupted",
    "ApplyOutcome",
    "ApplyResult",
    "AuthenticationError",
    "BadRequestError",
    "BulkInterrupted",
    "BulkOutcome",
    "BulkResult",
    "Client",
    "CmnbError",
    "ConfigError",
    "ConfirmationError",
    "DataSource",
    "DataSourceForm",
    "DataSourceTable",
    "DuplicateNameError",
    "ForbiddenError",
    "InputError",
    "NotFoundError",
    "Plan",
    "PlanStep",
    "RateLimitError",
    "Sandbox",
    "Secret",
    "ServerError",
    "TransportError",
    "UnprocessableError",
    "__version__",
    "connect",
}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(cmnb.__all__) == EXPECTED
    for name in cmnb.__all__:
        assert getattr(cmnb, name) is not None, name


def test_errors_hierarchy() -> None:
    assert issubclass(cmnb.DuplicateNameError, cmnb.UnprocessableError)
    for cls in (cmnb.BadRequestError, cmnb.RateLimitError, cmnb.ServerError):
        assert issubclass(cls, cmnb.APIError)
    for cls in (cmnb.ConfigError, cmnb.InputError, cmnb.TransportError, cmnb.APIError):
        assert issubclass(cls, cmnb.CmnbError)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        cmnb.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("cmnb.NoSuchThing resolved")


def test_import_is_cheap() -> None:
    code = (
        "import sys, cmnb; "
        "print(sorted(m for m in ('requests', 'pandas', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
