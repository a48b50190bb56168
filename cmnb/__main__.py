"""``python -m cmnb``: the same as the ``cmnb`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
