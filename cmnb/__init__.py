"""cmnb: create and manage ChartMogul data sources from Jupyter.

``import cmnb`` is cheap: it imports neither requests, pandas nor ipywidgets. Every public name
below is loaded on first use (PEP 562), so a script that only needs the errors pays for nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# connect() is eager: it is light, and the ``cmnb.connect`` attribute must be the function, not
# the module of the same name that a later ``import cmnb.connect`` would otherwise leave here.
from ._version import __version__
from .connect import connect
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CmnbError,
    ConfigError,
    ConfirmationError,
    DuplicateNameError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableError,
)

if TYPE_CHECKING:
    from .api._apply_result import ApplyInterrupted, ApplyOutcome, ApplyResult
    from .api._bulk import BulkInterrupted, BulkOutcome, BulkResult
    from .api._client import Client
    from .api._models import DataSource
    from .api._plan import Plan, PlanStep
    from .api._secret import Secret
    from .notebook._form import DataSourceForm
    from .notebook._table import DataSourceTable
    from .sandbox import Sandbox

_LAZY = {
    "ApplyInterrupted": "api._apply_result",
    "ApplyOutcome": "api._apply_result",
    "ApplyResult": "api._apply_result",
    "BulkInterrupted": "api._bulk",
    "BulkOutcome": "api._bulk",
    "BulkResult": "api._bulk",
    "Client": "api._client",
    "DataSource": "api._models",
    "DataSourceForm": "notebook._form",
    "DataSourceTable": "notebook._table",
    "Plan": "api._plan",
    "PlanStep": "api._plan",
    "Sandbox": "sandbox",
    "Secret": "api._secret",
}

__all__ = [
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
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cmnb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
