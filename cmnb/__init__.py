"""cmnb: create and manage ChartMogul data sources from Jupyter.

``import cmnb`` is cheap: it imports neither requests, pandas nor ipywidgets. Every public name
below is loaded on first use (PEP 562), so a script that only needs the errors pays for nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CmnbError,
    ConfigError,
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
    from .bulk import BulkInterrupted, BulkOutcome, BulkResult
    from .client import Client
    from .connection import connect
    from .form import DataSourceForm
    from .models import DataSource
    from .sandbox import Sandbox
    from .secret import Secret
    from .table import DataSourceTable

__version__ = "0.1.0"

_LAZY = {
    "BulkInterrupted": "bulk",
    "BulkOutcome": "bulk",
    "BulkResult": "bulk",
    "Client": "client",
    "connect": "connection",
    "DataSource": "models",
    "DataSourceForm": "form",
    "DataSourceTable": "table",
    "Sandbox": "sandbox",
    "Secret": "secret",
}

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BulkInterrupted",
    "BulkOutcome",
    "BulkResult",
    "Client",
    "CmnbError",
    "ConfigError",
    "DataSource",
    "DataSourceForm",
    "DataSourceTable",
    "DuplicateNameError",
    "ForbiddenError",
    "InputError",
    "NotFoundError",
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
