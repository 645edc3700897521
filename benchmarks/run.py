"""Build-time benchmarks, measured as ratios against a reference in the same run.

Reference: a toy Jupyter Book 1 of 5 chapters that each import pandas,
statsmodels, pymare and seaborn and draw one plot, built with the stock
``jupyter-book`` CLI (execute_notebooks: force). Compared with the workbook
built by ``glumeta build``:

* cold build (fresh _build)                      target <= 0.8 x toy cold
* add one real row to one CSV -> rebuild         target <= 1.0 x toy one-chapter rebuild
* no-op rebuild                                  target <= 2 s
* glumeta check (all data)                       target <= 1 s
* glumeta analyze NAME (each file)               target <= 1.5 s wall
* all sensitivity analyses of the book           target <= 0.5 s compute

Usage: ``make bench`` (or ``.venv/bin/python benchmarks/run.py [--json out.json]``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TOY_CONFIG = """title: Toy
only_build_toc_files: true
execute:
  execute_notebooks: force
"""
TOY_CHAPTER = """---
jupytext:
  text_representation: {{extension: .md, format_name: myst}}
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---
# Chapter {i}

```{{code-cell}} ipython3
import pandas as pd
import statsmodels.api as sm
import pymare
import seaborn as sns
import matplotlib.pyplot as plt
df = pd.DataFrame({{"x": range(20), "y": [v * {i} % 7 for v in range(20)]}})
sns.scatterplot(data=df, x="x", y="y")
plt.show()
```
"""


def timed(cmd, **kw) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return dt


def toy(tmp: Path) -> dict:
    d = tmp / "toy"
    (d / "ch").mkdir(parents=True)
    (d / "_config.yml").write_text(TOY_CONFIG)
    (d / "_toc.yml").write_text("format: jb-book\nroot: ch/c1\nchapters:\n" +
                                "".join(f"  - file: ch/c{i}\n" for i in range(2, 6)))
    for i in range(1, 6):
        (d / "ch" / f"c{i}.md").write_text(TOY_CHAPTER.format(i=i))
    jb = [str(BIN / "jupyter-book"), "build", str(d)]
    cold = timed(jb)
    with open(d / "ch" / "c3.md", "a") as fh:
        fh.write("\nTouched.\n")
    one = timed(jb)
    noop = timed(jb)
    return {"cold": cold, "one_chapter": one, "noop": noop}


#: The add-a-row cases: one real, cited row of each file is moved out before the cold build and
#: appended back, one file at a time (blood glutamate is the case issue #13 measured).
ADD_ROWS = {"blood_glutamate": "islam2020,", "esketamine_madrs": "transform3,"}


def book(tmp: Path) -> dict:
    d = tmp / "book"
    d.mkdir()
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / f, d / f)
    for sub in ("book", "data"):
        shutil.copytree(ROOT / sub, d / sub)
    moved = {}
    for name, prefix in ADD_ROWS.items():
        csv = d / "data" / f"{name}.csv"
        lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
        moved[name] = next(ln for ln in lines if ln.startswith(prefix))
        csv.write_text("".join(ln for ln in lines if ln != moved[name]), encoding="utf-8")
    gb = [str(BIN / "glumeta"), "build", "--book-dir", str(d), "--data-dir", str(d / "data")]
    out = {"cold": timed(gb)}
    for name, row in moved.items():
        csv = d / "data" / f"{name}.csv"
        csv.write_text(csv.read_text(encoding="utf-8") + row, encoding="utf-8")
        out[f"add_row:{name}"] = timed(gb)
    out["noop"] = timed(gb)
    return out


def cli() -> dict:
    g = str(BIN / "glumeta")
    timed([g, "check"])  # warm the file cache
    out = {"check": min(timed([g, "check"]) for _ in range(3))}
    from glumeta.data import datasets

    out["analyze"] = {n: min(timed([g, "analyze", n, "--json"]) for _ in range(3)) for n in datasets()}
    return out


def sensitivity() -> float:
    """Leave-one-out, cumulative, estimator grid and subgroups for every analysis with k >= 2."""
    from glumeta.data import datasets
    from glumeta.plan import Analysis, analyze
    from glumeta.sensitivity import cumulative, estimator_grid, leave_one_out, subgroups

    jobs = [a.rows for name in datasets() for a in analyze(name) if isinstance(a, Analysis) and a.k >= 2]
    t0 = time.perf_counter()
    for rows in jobs:
        vi = rows["vi"]
        leave_one_out(rows["yi"], vi)
        cumulative(rows["yi"], vi, rows["year"])
        estimator_grid(rows["yi"], vi)
        for col in ("population", "design", "sample"):
            if col in rows and rows[col].notna().all():
                subgroups(rows["yi"], vi, rows[col].to_numpy())
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t, b = toy(tmp), book(tmp)
    c = cli()
    s = sensitivity()
    rows = [
        ("cold build", b["cold"], t["cold"], b["cold"] / t["cold"], "<= 0.8x toy cold", b["cold"] / t["cold"] <= 0.8),
        ("add a row (blood glutamate) -> rebuild", b["add_row:blood_glutamate"], t["one_chapter"],
         b["add_row:blood_glutamate"] / t["one_chapter"], "<= 1.0x toy one-chapter", b["add_row:blood_glutamate"] / t["one_chapter"] <= 1.0),
        ("add a row (esketamine) -> rebuild", b["add_row:esketamine_madrs"], t["one_chapter"],
         b["add_row:esketamine_madrs"] / t["one_chapter"], "<= 1.0x toy one-chapter", b["add_row:esketamine_madrs"] / t["one_chapter"] <= 1.0),
        ("no-op rebuild", b["noop"], t["noop"], b["noop"] / t["noop"], "<= 2 s", b["noop"] <= 2),
        ("glumeta check", c["check"], None, None, "<= 1 s", c["check"] <= 1),
        *[(f"glumeta analyze {n}", v, None, None, "<= 1.5 s", v <= 1.5) for n, v in c["analyze"].items()],
        ("sensitivity (all analyses)", s, None, None, "<= 0.5 s", s <= 0.5),
    ]
    print(f"{'measure':38} {'book s':>8} {'toy s':>8} {'ratio':>6}  target                    met")
    for name, v, ref, ratio, target, ok in rows:
        print(f"{name:38} {v:8.2f} {'' if ref is None else f'{ref:8.2f}':>8} "
              f"{'' if ratio is None else f'{ratio:6.2f}':>6}  {target:25} {'yes' if ok else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"toy": t, "book": b, "cli": c, "sensitivity_s": s}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
