"""Where things are: the repository.

The one place that knows the repository layout. The data and build folders of a run
belong to its :class:`glumeta.data.workbook.Workbook` (made at the entry points).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO"]

#: The repository root (``analysis/glumeta/paths.py`` → two levels up from the package).
REPO = Path(__file__).resolve().parents[2]
