"""The ``cmnb`` command line: parser, data-source commands and the long-running servers.

It builds on ``cmnb.api`` and borrows the display layer's words (``_messages``) and renderers,
never its widgets. ``main`` is the console script's entry point.
"""

from __future__ import annotations

from ._main import main
from ._parser import build_parser

__all__ = ["build_parser", "main"]
