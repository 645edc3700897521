"""A fifth analysis needs no edit to glumeta: a new CSV, its schema resource and a chapter.

The new file re-uses real, cited rows (the nitrous-oxide contrasts at 24 h) under a schema of
its own, so no number is invented; what is new is the declaration: its measure, label and plan.
"""

import csv
import json

import pytest

from bookutil import analyze, build, copy_book, page, text_of
from glumeta.views.chapter import fmt, fmt_ci

pytestmark = pytest.mark.slow

NEW = "nitrous_oxide_24h"
CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
glumeta:
  data: [nitrous_oxide_24h]
---

# Nitrous oxide at 24 hours (a fifth analysis)

```{code-cell} ipython3
from glumeta.views.chapter import Chapter
ch = Chapter("nitrous_oxide_24h", "new_analysis")
v = ch.glue_analysis("overall", "new")
ch.data_table()
```

Pooled: {glue:text}`new_est` (95% CI {glue:text}`new_ci`; k = {glue:text}`new_k`).

```{code-cell} ipython3
ch.forest("overall", favours=("Favours N2O", "Favours placebo"))
```
"""


def test_new_analysis_builds_without_touching_glumeta(tmp_path):
    book = copy_book(tmp_path / "book")
    data = book / "data"
    with (data / "nitrous_oxide_hamd.csv").open(encoding="utf-8") as fh:
        # one comparison per crossover trial (the 50% dose): two doses against the same patients'
        # placebo sessions may not enter one pool (glumeta.stats.plan.dependence_problem)
        rows = [r for r in csv.DictReader(fh) if r["time"] == "24 h" and r["status"] == "complete"
                and r["comparison"].startswith("50%")]
    assert len(rows) >= 2
    with (data / f"{NEW}.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    pkg = json.loads((data / "datapackage.json").read_text(encoding="utf-8"))
    base = next(r for r in pkg["resources"] if r["name"] == "nitrous_oxide_hamd")
    res = json.loads(json.dumps(base))
    res.update(name=NEW, path=f"{NEW}.csv", title="Nitrous oxide vs placebo at 24 h")
    res["schema"]["glumeta:analysis"] = {
        "measure": "MD", "label": "{study}: {comparison:arm}",
        "overall": {"label": "Every comparison at 24 h (MD)"},
        "forest_columns": [{"header": "Arm", "template": "{comparison:arm}", "width": 1.6, "align": "left"},
                           {"header": "N act.", "template": "{n_arm1}"}, {"header": "N ctrl", "template": "{n_arm2}"}]}
    from glumeta.book.scaffold import add_to_pages

    analyses = [r["name"] for r in pkg["resources"] if "glumeta:analysis" in r["schema"]]
    for pg, text in add_to_pages(book, NEW, analyses).items():  # the pages that read every analysis
        pg.write_text(text, encoding="utf-8")
    pkg["resources"].append(res)
    (data / "datapackage.json").write_text(json.dumps(pkg, indent=2, ensure_ascii=False), encoding="utf-8")
    (book / "book" / "new_analysis.md").write_text(CHAPTER, encoding="utf-8")
    toc = (book / "_toc.yml").read_text(encoding="utf-8")
    (book / "_toc.yml").write_text(toc.replace("      - file: book/synthesis\n",
                                               "      - file: book/new_analysis\n      - file: book/synthesis\n"),
                                   encoding="utf-8")

    r = build(book)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    a = analyze(book, NEW)["overall"]
    assert a["k"] == len(rows)
    text = text_of(page(book, "new_analysis"))
    want = f"Pooled: {fmt(a['estimate'])} (95% CI {fmt_ci(a['ci_lower'], a['ci_upper'])} ; k = {a['k']} )"
    assert want in text  # (text_of puts a space where a glued span closes)
    assert '<figure class="glumeta-forest">' in page(book, "new_analysis")
