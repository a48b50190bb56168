"""`Secret`: a string that never shows itself.

The API key travels through settings, the transport and the form wrapped in a `Secret`, so that
no ``repr()``, ``str()``, f-string, log record or exception message can leak it by accident.
Only :meth:`Secret.reveal` returns the real value, and only the transport calls it.
"""

from __future__ import annotations

from typing import NoReturn


class Secret:
    """A masked string: ``repr()`` is ``Secret('********')``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret takes a str")
        self._value = value

    def reveal(self) -> str:
        """Return the real value. Call this only at the last moment, when building a request."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
