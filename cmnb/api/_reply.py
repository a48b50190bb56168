"""What a call returns: the final HTTP answer, after any retries, and what it says of the server.

A :class:`Reply` keeps the status, body and headers of the last answer, how many attempts it
took, whether an earlier attempt may have acted unseen, and the server's clock when the call
started (from the ``Date`` headers: :func:`earliest_server_start`). Turning an error status into
an exception is the caller's choice (:meth:`Reply.error`).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import TARGET_CHARTMOGUL, APIError, error_from_response
from ._retries import may_have_acted, server_date_of

__all__ = ["CHANGES", "Reply", "earliest_server_start"]

#: Methods that change the account: their error answers may leave the outcome in doubt.
CHANGES = frozenset({"POST", "DELETE"})


@dataclass(frozen=True)
class Reply:
    """The final HTTP answer to one call (after any retries).

    ``attempts`` counts the requests sent; ``after_ambiguous`` is True when an earlier attempt
    may have reached the server without us seeing its answer (see :func:`may_have_acted`).
    ``server_started_at`` is the server's clock (Unix time) when the call started, estimated
    from the ``Date`` headers of the call's answers; ``None`` when none carried a valid one.
    """

    method: str
    path: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    retry_after_s: float | None = None
    attempts: int = 1
    after_ambiguous: bool = False
    server_started_at: float | None = None
    target: str = TARGET_CHARTMOGUL

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON; raises :class:`APIError` if it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            text = self.body.decode("utf-8", "replace")
            raise APIError(
                self.status,
                text.strip()[:200],
                method=self.method,
                path=self.path,
                body=text[:2000],
                hint="The server's answer is not the JSON the API sends",
            ) from None

    def error(self, *, name: str | None = None) -> APIError:
        """The :class:`APIError` subclass for this (error) status, keeping the server's words.

        ``name`` is the data source name the call was about (for the duplicate-name message).
        For a create or delete, ``maybe_sent`` says whether the server may have acted anyway.
        """
        error = error_from_response(
            self.status,
            self.body,
            method=self.method,
            path=self.path,
            name=name,
            retry_after_s=self.retry_after_s,
        )
        error.maybe_sent = self.method in CHANGES and (
            self.after_ambiguous or may_have_acted(self.status)
        )
        error.server_started_at = self.server_started_at
        error.target = self.target
        return error


def earliest_server_start(
    known: float | None, headers: Mapping[str, str], elapsed_s: float
) -> float | None:
    """The server's clock at the start of a call, given one more answer ``elapsed_s`` into it.

    Each answer's ``Date`` minus the time since the call started is a lower bound of the server's
    clock at the start (``Date`` is stamped before we receive it, and truncated to the second).
    The lowest is kept: it never makes a source this call created look older than the call,
    even when a later answer came from a machine whose clock runs ahead.
    """
    date = server_date_of(headers)
    if date is None:
        return known
    estimate = date - elapsed_s
    return estimate if known is None else min(known, estimate)
