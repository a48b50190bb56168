"""Short, human, one-sentence messages for cmnb's errors (shared by the form and the CLI).

The one place an error becomes a sentence: :func:`describe_error` for people (the form's status
line, the CLI's stderr), :func:`describe_outcome` for one name of a bulk run (the form's outcome
rows), :func:`short_error` for the compact ``TypeName: message`` of a ``BulkResult``'s rows.
Exceptions keep their own ``str`` (what a traceback shows). Widget-free and stdlib-only on
purpose: the command line and a ``BulkResult``'s repr use it without ipywidgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import (
    TARGET_CHARTMOGUL,
    TARGET_SANDBOX,
    APIError,
    AuthenticationError,
    CmnbError,
    ConfigError,
    DuplicateNameError,
    ForbiddenError,
    InputError,
    RateLimitError,
    ServerError,
    TransportError,
)

if TYPE_CHECKING:
    from ..api._bulk_result import BulkOutcome

__all__ = [
    "FORM_PREVIEW_OPTION",
    "FORM_REUSE_OPTION",
    "describe_error",
    "describe_outcome",
    "short_error",
]

#: How the form tells a user to reuse an existing source; the CLI says "Pass --ensure".
FORM_REUSE_OPTION = "Tick “If it exists, reuse it”"
#: The same advice after the form's **Apply**, which always reuses: a new preview tells
#: whether a name whose answer was lost is in the account.
FORM_PREVIEW_OPTION = "Press Preview"


def _capital(target: str) -> str:
    return target[:1].upper() + target[1:]


def _said(exc: APIError) -> str:
    message = exc.message.strip()
    return f" Server said: {message[:200]}" if message else ""


def describe_error(exc: BaseException, *, reuse_option: str = FORM_REUSE_OPTION) -> str:
    """A short, human, plain-text message for an error (escape it before putting it in HTML).

    ``reuse_option`` names the switch that reuses an existing source (the form's checkbox by
    default); it appears in the duplicate-name and "may have been created" messages.
    """
    if isinstance(exc, DuplicateNameError):
        where = f" ({exc.existing.uuid})" if exc.existing is not None else ""
        return f"A data source named “{exc.name}” already exists{where}. {reuse_option} to use it."
    target = getattr(exc, "target", TARGET_CHARTMOGUL)  # who answered: ChartMogul or the sandbox
    if isinstance(exc, AuthenticationError):
        where = (
            "use the key the sandbox was started with"
            if target == TARGET_SANDBOX
            else "check it in ChartMogul → Profile → API keys"
        )
        return f"The API key was not accepted (HTTP 401): {where}."
    if isinstance(exc, ForbiddenError):
        return "This account may not do that (HTTP 403): is the trial expired?" + _said(exc)
    if isinstance(exc, RateLimitError):
        wait = f"{exc.retry_after_s:g} s" if exc.retry_after_s is not None else "a few seconds"
        return f"Rate limited by {target} (HTTP 429): wait {wait} and try again."
    if isinstance(exc, ServerError):
        return f"{_capital(target)} had a server error (HTTP {exc.status}); try again shortly." + (
            _said(exc)
        )
    if isinstance(exc, APIError):
        return f"{_capital(target)} refused the request (HTTP {exc.status})." + _said(exc)
    if isinstance(exc, TransportError):
        reason = str(exc).rstrip(".")
        # Only a create can have done something we did not see; a lost list/get/delete answer
        # created nothing, so its message carries no advice about reusing a source.
        create = exc.method.upper() in ("POST", "")
        maybe = f" {reuse_option} before trying again." if exc.maybe_sent and create else ""
        return f"Could not reach {target} (network down or timed out): {reason}.{maybe}"
    if isinstance(exc, InputError):
        return f"Not sent: {exc}"
    if isinstance(exc, ConfigError):
        return f"Configuration problem: {exc}"
    if isinstance(exc, CmnbError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted: the request may or may not have reached ChartMogul."
    return (
        f"Unexpected error ({type(exc).__name__}); details are in the 'cmnb' logger at DEBUG level."
    )


def describe_outcome(outcome: BulkOutcome, *, reuse_option: str = FORM_REUSE_OPTION) -> str | None:
    """What went wrong with one name of a bulk run, as :func:`describe_error` says it; for a name
    never sent, that the run was interrupted; for an ``unknown`` one, that it may or may not
    exist; the outcome's note when all went well but something is worth knowing (an answer lost
    and the source found); ``None`` otherwise."""
    if outcome.outcome == "unknown":
        return (
            "Unknown: the answer was lost and the lookup that would tell failed too, so it may "
            f"or may not exist. {reuse_option} before sending it again."
        )
    if outcome.error is not None:
        return describe_error(outcome.error, reuse_option=reuse_option)
    if outcome.outcome == "skipped":
        return "Not sent: the run was interrupted."
    return outcome.note or None


def short_error(error: BaseException | None, limit: int | None = 200) -> str:
    """``"TypeName: first line of the message"``, cut to ``limit`` characters (``None``: never
    cut; ``""`` for no error).

    The compact form of a bulk run's rows: cut in ``BulkResult``'s one-line repr, whole in its
    HTML and ``to_frame()`` (where the cell wraps), the type telling the kind of failure at a
    glance.
    """
    if error is None:
        return ""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
