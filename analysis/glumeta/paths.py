"""Where things are: the repository, the data folder and the build folder.

The one place that knows the repository layout, so that chapters, the CLI and
the build find the data from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO", "build_dir", "data_dir", "in_book_build"]

#: The repository root (``analysis/glumeta/paths.py`` → two levels up from the package).
REPO = Path(__file__).resolve().parents[2]


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data folder: *path*, else ``$GLUMETA_DATA_DIR``, else ``<repo>/data``."""
    if path is not None:
        return Path(path).resolve()
    env = os.environ.get("GLUMETA_DATA_DIR")
    return Path(env).resolve() if env else REPO / "data"


def build_dir(root: str | os.PathLike | None = None) -> Path:
    """The build folder: ``<root>/_build``, else ``$GLUMETA_BUILD_DIR`` (set by ``glumeta build``
    to the book being built), else ``<repo>/_build``."""
    if root is not None:
        return Path(root) / "_build"
    env = os.environ.get("GLUMETA_BUILD_DIR")
    return Path(env) if env else REPO / "_build"


def in_book_build() -> bool:
    """True while a page is being built into the book, false in plain Jupyter.

    :mod:`glumeta.sphinxext` sets ``$GLUMETA_DECLARED`` (the tables a page declares) for every page
    the build reads, in-process and in the kernel it starts. A page built into the book links its
    figures as files (copied into the HTML output under ``figures/``); elsewhere a figure is
    embedded, so that a notebook user still sees it. The one place that decides."""
    return "GLUMETA_DECLARED" in os.environ
