"""Where the ``cmnb`` command keeps its sandbox when no key is configured.

With no key, every command shares one sandbox state file in the user's data directory, so
``cmnb create A`` and then ``cmnb list`` show A, as they would on an account. The directory is
``$XDG_DATA_HOME/cmnb`` (else ``~/.local/share/cmnb``) on Linux and other Unixes,
``~/Library/Application Support/cmnb`` on macOS and ``%LOCALAPPDATA%\\cmnb`` on Windows: the
places platformdirs would give, written out here so the CLI needs no extra dependency.
Processes share the file safely: the sandbox takes a lock for each change and reloads what
another process wrote (see :class:`cmnb.sandbox.Sandbox`, ``path=``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["STATE_FILE_NAME", "shared_state_file", "user_data_dir"]

STATE_FILE_NAME = "sandbox.json"


def user_data_dir() -> Path:
    """cmnb's folder in the user's data directory (not created here)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # The XDG spec: a relative path is invalid and must be ignored.
        base = xdg if os.path.isabs(xdg) else str(Path.home() / ".local" / "share")
    return Path(base) / "cmnb"


def shared_state_file() -> Path:
    """The state file every no-key ``cmnb`` command shares (its folder is created)."""
    folder = user_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / STATE_FILE_NAME
