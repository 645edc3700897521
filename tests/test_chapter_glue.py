"""The chapter layer split by job (issue #17, item 4) and glue names from stable ids (item 2).

* :mod:`glumeta.views.html` renders HTML as plain strings (no IPython, no myst-nb); the notebook layer
  :mod:`glumeta.views.chapter` wraps them, and :mod:`glumeta.book.directives` uses them without reaching into
  the notebook layer.
* A chapter quotes a ledger check's worked numbers as ``<prefix>_<id>``, *id* a stable glue id of
  :data:`glumeta.views.chapter.DETAIL_IDS`, so renaming a display label never breaks the prose.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from glumeta.views import chapter
from glumeta.views.chapter import DETAIL_IDS, detail_id

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "analysis" / "glumeta"
BOOK = ROOT / "book"
GLUE_CHECK = re.compile(r"""glue_check\(\s*["']([^"']+)["']\s*,\s*["']([^"']+)["']\s*\)""")
QUOTED = re.compile(r"\{glue:text\}`([A-Za-z0-9_]+)`")


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            mod = ("." * node.level) + (node.module or "")
            out.update(f"{mod}:{a.name}" for a in node.names)
            out.add(mod)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_views_and_directives_import_no_ipython_and_no_chapter():
    for name in ("views/html.py", "book/directives.py"):
        imports = _imports(PACKAGE / name)
        assert not [i for i in imports if i.split(":")[0].lstrip(".").startswith(("IPython", "myst_nb"))], name
        assert not [i for i in imports if i.split(":")[0] in (".chapter", "..views.chapter", "glumeta.views.chapter")], name


def test_the_public_names_stay_importable():
    from glumeta.views import html as views
    from glumeta.views.chapter import Chapter, Synthesis, fmt, fmt_ci, ledger_html, summary_table, table  # noqa: F401

    assert ledger_html is views.ledger_html and summary_table is views.summary_table
    assert issubclass(Synthesis, views.SynthesisView)


def test_frame_html_formats_floats_as_before():
    import pandas as pd

    from glumeta.views.html import frame_html

    out = frame_html(pd.DataFrame({"a": [-0.5, 0.00004, float("nan"), float("-inf")], "b": ["x-y", "a", "b", "c"]}))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", out)
    assert cells == ["−0.500", "x-y", "4e−05", "a", "nan", "b", "−inf", "c"]


def test_detail_ids_are_unique_names():
    assert len(set(DETAIL_IDS.values())) == len(DETAIL_IDS), "one id per display label"
    assert all(re.fullmatch(r"[a-z0-9_]+", k) for k in DETAIL_IDS)
    assert "verdict" not in DETAIL_IDS  # glued by glue_check beside the details


def test_a_label_with_a_varying_part_has_one_id():
    assert detail_id("p (t, 19 df)") == detail_id("p (t, 23 df)") == "p_t"
    assert detail_id("d (40 split evenly, 20/20)") == "d_even_split"
    assert detail_id("d (12/13)") == "d"
    assert detail_id("CI centre (log scale)") == "ci_centre_scale" and detail_id("CI centre") == "ci_centre"


def test_renaming_a_label_keeps_the_glue_name(monkeypatch):
    """The prose quotes the id; a renamed label is re-pointed in DETAIL_IDS, the prose is untouched."""
    monkeypatch.setitem(DETAIL_IDS, "pearson", "Pearson chi-square")
    monkeypatch.setattr(chapter, "_TEMPLATES", [(re.compile(re.escape(v)), k) for k, v in DETAIL_IDS.items()])
    assert detail_id("Pearson chi-square") == "pearson"
    assert detail_id("Pearson χ²") is None


def _quoted_check_names() -> list[tuple[str, str, str]]:
    """(page, prefix, glue name) of every ``{glue:text}`` name a page quotes from a glue_check."""
    out = []
    for page in sorted(BOOK.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        prefixes = [p for _, p in GLUE_CHECK.findall(text)]
        for name in QUOTED.findall(text):
            # the longest prefix wins ("inosh_i2_q_implied" belongs to "inosh_i2", not "inosh")
            owner = max((p for p in prefixes if name.startswith(p + "_")), key=len, default=None)
            if owner is not None:
                out.append((page.name, owner, name))
    return out


def test_the_scan_sees_the_glued_checks():
    assert len(_quoted_check_names()) >= 20


@pytest.mark.parametrize("page,prefix,name", _quoted_check_names(), ids=lambda x: str(x))
def test_prose_quotes_only_stable_ids(page, prefix, name):
    gid = name[len(prefix) + 1:]
    assert gid == "verdict" or gid in DETAIL_IDS, (
        f"{page} quotes {name}: '{gid}' is not a stable glue id (glumeta.views.chapter.DETAIL_IDS)")


def test_every_label_the_ledger_gives_has_an_id():
    from glumeta.stats.ledger import ledger
    from glumeta.data.workbook import Workbook

    labels = {k for row in ledger(Workbook()) for k in row.details}
    assert labels, "the ledger gives worked numbers"
    missing = sorted(k for k in labels if detail_id(k) is None)
    assert not missing, f"give these ledger details a stable glue id in glumeta.views.chapter.DETAIL_IDS: {missing}"
