"""The colours of cmnb's HTML: JupyterLab's theme variables, today's light colours as fallbacks.

A fixed dark green or red is hard to read on JupyterLab's dark theme; its CSS variables follow
the theme the user picked. Where they are not defined (Voilà's default template, Colab, a static
HTML export) the fallback after the comma applies. Widget-free and pandas-free, so every
renderer can use it.
"""

from __future__ import annotations

__all__ = ["BORDER", "ERROR", "MUTED", "SUCCESS", "WARN"]

SUCCESS = "var(--jp-success-color1, #1a7f37)"
ERROR = "var(--jp-error-color1, #b3261e)"
WARN = "var(--jp-warn-color1, #9a6700)"
#: Secondary text: busy and info lines.
MUTED = "var(--jp-ui-font-color2, #6b6b6b)"
#: The line under a table's header row.
BORDER = "var(--jp-border-color1, #999)"
