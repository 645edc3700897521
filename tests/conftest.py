import os

import pytest


@pytest.fixture(autouse=True)
def _figures_in_tmp(tmp_path_factory, monkeypatch):
    """Figures drawn by tests go to a temporary _build, never the repository's."""
    if "GLUMETA_BUILD_DIR" not in os.environ:
        monkeypatch.setenv("GLUMETA_BUILD_DIR", str(tmp_path_factory.mktemp("build")))
