"""What the CLI tests share: a finished run of ``cmnb`` and stand-ins for a terminal.

The ``cli`` fixture (tests/conftest.py) runs ``cmnb`` in-process and returns a :class:`Run`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def messages(self) -> list[str]:
        return self.err.splitlines()


class FakeTTY(io.StringIO):
    """A terminal: what the user will type, or where the progress bar is drawn."""

    def isatty(self) -> bool:
        return True


class InterruptedTTY(FakeTTY):
    """A terminal where the user presses Ctrl-C at the prompt."""

    def readline(self, size: int | None = -1) -> str:
        raise KeyboardInterrupt
