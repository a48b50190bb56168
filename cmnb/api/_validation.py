"""Input rules checked before anything is sent (shared by the client, the form and the CLI).

The server is the final judge; these rules only refuse what it would certainly refuse, or what
would silently go wrong on the way there (control characters, lone surrogates, non-strings).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ..errors import InputError

__all__ = ["check_name", "check_uuid", "name_problem"]

_UUID = re.compile(
    r"^ds_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a data source name, or ``None`` if it can (after stripping)."""
    if not isinstance(name, str):
        return f"The name must be text, not {type(name).__name__}."
    stripped = name.strip()
    if not stripped:
        return "The name is empty." if not name else "The name is blank (only whitespace)."
    if stripped.isprintable():  # the usual case, checked in C: no control, no surrogate
        return None
    for char in stripped:
        category = unicodedata.category(char)
        if category == "Cc":
            return f"The name contains a control character (U+{ord(char):04X})."
        if category == "Cs":
            return f"The name contains an invalid character (lone surrogate U+{ord(char):04X})."
    return None


def check_name(name: Any) -> str:
    """Return the name with surrounding whitespace stripped, or raise :class:`InputError`."""
    problem = name_problem(name)
    if problem:
        raise InputError(problem, field="name")
    stripped: str = name.strip()
    return stripped


def check_uuid(uuid: Any) -> str:
    """Return a data source uuid (``ds_`` + UUID, lowercased), or raise :class:`InputError`."""
    if not isinstance(uuid, str):
        raise InputError(
            f"A data source uuid must be text, not {type(uuid).__name__}.", field="uuid"
        )
    candidate = uuid.strip()
    if not _UUID.match(candidate):
        # Echo only what looks like an attempt at a uuid: a key pasted into the wrong field
        # must not be repeated in an error message, a log line or a notebook output.
        if candidate[:3].lower() == "ds_" and len(candidate) <= 60:
            shown = f"{candidate!r} is not"
        else:
            shown = "That is not"
        raise InputError(
            f"{shown} a data source uuid (expected ds_ followed by a UUID, "
            "like ds_fef05d54-47b4-431b-aed2-eb6b9e545430).",
            field="uuid",
        )
    return candidate.lower()
