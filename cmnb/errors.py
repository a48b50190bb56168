"""Every error cmnb raises, and how a ChartMogul error response becomes one.

::

    CmnbError                      anything cmnb raises on purpose
    ├── ConfigError                no key, a bad base URL, a bad setting
    ├── InputError                 refused before sending: bad name, bad uuid (nothing was sent)
    ├── ConfirmationError          a plan's deletes not confirmed by their count (nothing sent)
    ├── TransportError             no HTTP answer: connection refused/reset, timeout, deadline
    └── APIError                   the server answered with an error status
        ├── BadRequestError        400  e.g. 'Parameter "name" is missing'
        ├── AuthenticationError    401  no valid API key
        ├── ForbiddenError         403  e.g. trial expired
        ├── NotFoundError          404  unknown data source uuid
        ├── UnprocessableError     422  validation failed
        │   └── DuplicateNameError 422  the name is taken (``.existing`` holds that source if known)
        ├── RateLimitError         429  over 40 requests/s (``.retry_after_s``)
        └── ServerError            5xx  including 503 "too many connections"

ChartMogul answers errors in four body shapes, all parsed by :func:`error_from_response`:
``{"code", "message", "param"}``, ``{"errors": {field: text}}``, ``{"error": text}`` and a
non-JSON body (plain text, an HTML page, or nothing). The server's words are always kept.
No error ever holds request headers, so the API key cannot leak through one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api._models import DataSource

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CmnbError",
    "ConfigError",
    "ConfirmationError",
    "DuplicateNameError",
    "ForbiddenError",
    "InputError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "UnprocessableError",
    "error_from_response",
]


#: Who answered (or failed to): what messages call the server. ``TARGET_SANDBOX`` when the
#: client's base URL is on this machine (the embedded or a standalone sandbox), else ChartMogul.
TARGET_CHARTMOGUL = "ChartMogul"
TARGET_SANDBOX = "the sandbox"


class CmnbError(Exception):
    """Base class of every error cmnb raises on purpose."""


class ConfigError(CmnbError):
    """The configuration is missing or wrong (no API key, a bad base URL, a bad option)."""


class InputError(CmnbError, ValueError):
    """Input refused before anything was sent. ``field`` names what was wrong.

    ``problems`` lists every refused row of a many-row input as ``(where, reason)`` pairs, e.g.
    ``("line 3", "The name is blank (only whitespace).")``; empty for a single value.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        problems: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.field = field
        self.problems: list[tuple[str, str]] = list(problems)


class ConfirmationError(CmnbError):
    """A destructive step was not confirmed, or confirmed with the wrong count; nothing was sent.

    ``expected`` is the confirmation that lets it go ahead (the number of deletes); ``given``
    is what was passed.
    """

    def __init__(self, message: str, *, expected: int, given: object = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.given = given


class TransportError(CmnbError):
    """No usable HTTP answer: the connection failed, was reset, or timed out.

    ``maybe_sent`` is True when the request may have reached the server (a reset or a read
    timeout after sending) and nobody could tell what it did; False when it certainly did not
    act (connection refused, DNS failure), or when a lookup made after the lost answer showed
    that it did not. ``server_started_at`` is the server's clock (Unix time) when the call
    began, estimated from its ``Date`` headers (``None`` when no answer carried one).
    ``target`` is who was asked: ``"ChartMogul"`` or ``"the sandbox"`` (set by the transport).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        maybe_sent: bool = False,
        server_started_at: float | None = None,
        target: str = TARGET_CHARTMOGUL,
    ):
        super().__init__(message)
        self.method = method
        self.path = path
        self.maybe_sent = maybe_sent
        self.server_started_at = server_started_at
        self.target = target

    def settle(self, *, maybe_sent: bool, note: str) -> None:
        """Record what a lookup after the lost answer found: ``maybe_sent`` and a sentence
        (``note``) added to the message, e.g. that the source was not created."""
        self.maybe_sent = maybe_sent
        self.args = (f"{self.args[0]} {note}",)


class APIError(CmnbError):
    """The server answered with an error status. Keeps everything the server said.

    Attributes: ``status`` (int), ``message`` (the server's message or raw body text),
    ``param`` (the parameter it blamed, if any), ``errors`` (the ``{"field": text}`` map of a 422),
    ``method`` and ``path`` of the request, and ``body`` (the raw text, truncated).
    ``maybe_sent`` is True when a create or delete ended with this answer although the server
    may have acted on it (a 500/502/504, or any answer after an earlier attempt's was lost),
    and ``server_started_at`` is the server's clock when the call began, and ``target`` who
    answered, as for :class:`TransportError`.
    """

    default_hint = "The ChartMogul API refused the request."

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        errors: dict[str, Any] | None = None,
        method: str = "",
        path: str = "",
        body: str = "",
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.param = param
        self.errors = dict(errors or {})
        self.method = method
        self.path = path
        self.body = body
        self.hint = hint or self.default_hint
        self.maybe_sent = False
        self.server_started_at: float | None = None
        self.target = TARGET_CHARTMOGUL
        self.note = ""
        super().__init__(self._text())

    def settle(self, *, maybe_sent: bool, note: str) -> None:
        """Record what a lookup after the lost answer found (see :meth:`TransportError.settle`)."""
        self.maybe_sent = maybe_sent
        self.note = note
        self.args = (self._text(),)

    def _text(self) -> str:
        where = f" on {self.method} {self.path}" if self.method else ""
        said = f" Server said: {self.message}" if self.message else ""
        note = f" {self.note}" if self.note else ""
        return f"{self.hint} (HTTP {self.status}{where}).{said}{note}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, message={self.message!r}, "
            f"param={self.param!r}, method={self.method!r}, path={self.path!r})"
        )


class BadRequestError(APIError):
    """400: a parameter is missing or not allowed."""

    default_hint = "The request was malformed"


class AuthenticationError(APIError):
    """401: the API key is missing or not valid."""

    default_hint = (
        "The API key was not accepted: check CHARTMOGUL_API_KEY (ChartMogul → Profile → API keys)"
    )


class ForbiddenError(APIError):
    """403: the key is valid but may not do this (for example, the trial has expired)."""

    default_hint = "The account may not do this (is the trial expired, or the key read-only?)"


class NotFoundError(APIError):
    """404: no data source with that uuid (it may have been deleted)."""

    default_hint = "No such data source"


class UnprocessableError(APIError):
    """422: the server's validation refused the input; ``errors`` maps field → reason."""

    default_hint = "The server refused the input"


class DuplicateNameError(UnprocessableError):
    """422 "Has already been taken": a data source with this name exists.

    ``name`` is the name asked for; ``existing`` is the existing :class:`DataSource` when the
    client could look it up (``None`` otherwise).
    """

    def __init__(self, *args: Any, name: str = "", **kwargs: Any) -> None:
        self.name = name
        self.existing: DataSource | None = None
        kwargs.setdefault("hint", f"A data source named {name!r} already exists")
        super().__init__(*args, **kwargs)

    @classmethod
    def held_by(
        cls, existing: DataSource, *, name: str, method: str = "", path: str = ""
    ) -> DuplicateNameError:
        """The name is held by ``existing``, a source made before the call: what a lookup found
        after a create whose own answers were lost (the server's 422 was never seen)."""
        error = cls(
            422, "", name=name, errors={"name": "Has already been taken."}, method=method, path=path
        )
        error.attach_existing(existing)
        error.settle(
            maybe_sent=False,
            note=(
                "Found by a lookup after the create's answer was lost; it was made before "
                "this call."
            ),
        )
        return error

    def attach_existing(self, existing: DataSource) -> None:
        """Record the source that holds the name (and mention its uuid in the message)."""
        self.existing = existing
        self.hint = f"A data source named {self.name!r} already exists ({existing.uuid})"
        self.args = (self._text(),)


class RateLimitError(APIError):
    """429: over the rate limit. ``retry_after_s`` is the server's wait, when it gave one."""

    default_hint = "Rate limit exceeded (ChartMogul allows 40 requests per second)"

    def __init__(self, *args: Any, retry_after_s: float | None = None, **kwargs: Any) -> None:
        self.retry_after_s = retry_after_s
        if retry_after_s is not None and "hint" not in kwargs:
            kwargs["hint"] = f"{self.default_hint}; retry after {retry_after_s:g} s"
        super().__init__(*args, **kwargs)


class ServerError(APIError):
    """5xx: trouble on the server side (503 also means more than 20 parallel connections)."""

    default_hint = "ChartMogul had a server error; it is usually safe to try again later"


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    422: UnprocessableError,
    429: RateLimitError,
}

_BODY_KEEP = 2000


def _decode_json(body: bytes | str) -> Any:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def error_from_response(
    status: int,
    body: bytes | str,
    *,
    method: str = "",
    path: str = "",
    name: str | None = None,
    retry_after_s: float | None = None,
) -> APIError:
    """Build the right :class:`APIError` subclass from a status and a raw body of any shape.

    ``name`` is the data source name the request was about (used for the duplicate-name
    message); ``retry_after_s`` is the parsed ``Retry-After`` header, if any.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    data = _decode_json(text)
    message = ""
    param: str | None = None
    errors: dict[str, Any] = {}
    if isinstance(data, dict):
        if isinstance(data.get("errors"), dict):
            errors = data["errors"]
            message = "; ".join(f"{field}: {reason}" for field, reason in errors.items())
        if isinstance(data.get("message"), str):
            message = data["message"]
        elif isinstance(data.get("error"), str):
            message = data["error"]
        if isinstance(data.get("param"), str):
            param = data["param"]
    if not message:
        message = _plain_text_message(text)
    common: dict[str, Any] = dict(
        param=param, errors=errors, method=method, path=path, body=text[:_BODY_KEEP]
    )
    if status == 422 and "taken" in str(errors.get("name", "")).lower():
        return DuplicateNameError(status, message, name=name or "", **common)
    if status == 429:
        return RateLimitError(status, message, retry_after_s=retry_after_s, **common)
    if status >= 500:
        return ServerError(status, message, **common)
    return _BY_STATUS.get(status, APIError)(status, message, **common)


def _plain_text_message(text: str) -> str:
    """A short message from a non-JSON body: an HTML page's <title>, or the first line of text."""
    stripped = text.strip()
    if not stripped:
        return ""
    lower = stripped.lower()
    if "<title>" in lower and "</title>" in lower:
        start = lower.index("<title>") + len("<title>")
        return stripped[start : lower.index("</title>")].strip()[:200]
    if lower.startswith("<"):
        return "(an HTML error page)"
    return stripped.splitlines()[0][:200]
