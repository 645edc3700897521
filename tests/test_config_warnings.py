"""_config.yml hides no warning: the build runs with warnings as errors (glumeta.book.build), so a
warning must stop it rather than be silenced. (The `mystnb.unknown_mime_type` suppression was
dropped once the book built without it, in-process and with `glumeta_execute: kernel`.)"""

import yaml

from bookutil import ROOT


def test_config_suppresses_no_warning():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    sphinx = (cfg.get("sphinx") or {}).get("config") or {}
    assert "suppress_warnings" not in sphinx and "suppress_warnings" not in cfg
    assert sphinx.get("nb_execution_raise_on_error") is True
