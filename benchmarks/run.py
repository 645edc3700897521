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
* scaling (issue #21): synthetic 24 h rows appended to esketamine_madrs.csv of a temporary copy
  (benchmarks/synth.py) so that its headline pool has k = 10, 100, 1,000 (10,000: check and
  analyze only, after checking that the build refuses it up front under the 5,000-row limit; the
  copy's glumeta:limits is raised for those two): check, analyze, cold build, chapter page size
  target (k = 1,000): build <= 1.5 x toy cold, chapter HTML <= 3 MB

The toy and the book are built in turn (toy, book, toy, book, ...) for ``--repeat`` rounds, and
medians with the min-max spread are reported, so that load from other processes on the machine
falls on both.

Usage: ``make bench`` (or ``.venv/bin/python benchmarks/run.py [--repeat 3] [--scale 10,100,1000,10000]
[--json out.json]``).
"""

from __future__ import annotations

import argparse
import json
import os
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
ADD_ROWS = {"blood_glutamate": "islam2020,", "esketamine_madrs": "transform3,", "nitrous_oxide_hamd": "myles2025,",
            "ketamine_escitalopram": "arabzadeh2018,Arabzadeh 2018,2018,complete,,oral ketamine + sertraline vs "
                                     "placebo + sertraline,remission,"}


#: The sources measured: a snapshot of the repository taken when the run starts (see :func:`snapshot`).
SRC = ROOT


def snapshot(tmp: Path) -> Path:
    """Copy the package, chapters, data and config into *tmp* and run every command of this run on
    that copy (``PYTHONPATH`` ahead of the editable install), so that edits made to the checkout
    while the benchmark runs (other sessions) neither change what is measured nor make the
    package hash (glumeta.book.sphinxext) re-run every page in the middle of a series."""
    global SRC
    snap = tmp / "snapshot"
    shutil.copytree(ROOT / "analysis" / "glumeta", snap / "analysis" / "glumeta",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / f, snap / f)
    for sub in ("book", "data"):
        shutil.copytree(ROOT / sub, snap / sub, ignore=shutil.ignore_patterns("_build", "*.ipynb"))
    shutil.copytree(ROOT / "tests" / "reference", snap / "tests" / "reference")  # the environment page reads it
    for f in ("pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / f, snap / f)
    os.environ["PYTHONPATH"] = str(snap / "analysis") + os.pathsep + os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, str(snap / "analysis"))
    SRC = snap
    return snap


def copy(d: Path) -> Path:
    d.mkdir(parents=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy(SRC / f, d / f)
    for sub in ("book", "data"):
        shutil.copytree(SRC / sub, d / sub)
    return d


def book(tmp: Path) -> dict:
    d = copy(tmp / "book")
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


def preview(tmp: Path, repeat: int = 3) -> dict:
    """Live preview (issue #21 item 2): ``glumeta serve`` on a copy with the esketamine row moved out; a
    client that announces the open page (as the page's reload script does) appends the row and times,
    from the save, the reload signal and the served page containing the row; *repeat* times, the row
    removed again in between (each after the previous rebuild is complete). The Chromium version of
    this measure is tests/test_serve_preview.py."""
    import asyncio
    import signal
    import socket
    import subprocess
    import urllib.request

    import websockets

    d = copy(tmp / "preview")
    csv = d / "data" / "esketamine_madrs.csv"
    full = csv.read_text(encoding="utf-8")
    row = next(ln for ln in full.splitlines(keepends=True) if ln.startswith(ADD_ROWS["esketamine_madrs"]))
    without = full.replace(row, "")
    csv.write_text(without, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen([str(BIN / "glumeta"), "serve", "--book-dir", str(d), "--data-dir", str(d / "data"),
                            "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)

    def status() -> dict:
        try:
            with urllib.request.urlopen(f"{base}/_glumeta/status", timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            return {}

    def wait_idle(timeout=600):
        end = time.monotonic() + timeout
        while status().get("state") != "idle":
            if time.monotonic() > end:
                raise TimeoutError("glumeta serve did not finish building")
            time.sleep(0.2)

    async def once(text: str) -> tuple[float, float]:
        async with websockets.connect(f"ws://127.0.0.1:{port}/websocket-reload") as ws:
            await ws.send("/book/esketamine.html")
            await asyncio.sleep(1.0)
            t0 = time.perf_counter()
            csv.write_text(text, encoding="utf-8")
            await asyncio.wait_for(ws.recv(), 300)
            t1 = time.perf_counter()
            with urllib.request.urlopen(f"{base}/book/esketamine.html", timeout=300) as r:
                body = r.read().decode()
            # the moved-out row adds its study name to the data table and the forest plot's rows
            assert (body.count("Ochs-Ross") > baseline[0]) == (text == full), "the page does not match the file"
            return t1 - t0, time.perf_counter() - t0

    out = {"reload_signal": [], "page_served": [], "rebuild_done": []}
    baseline = []
    try:
        wait_idle()
        with urllib.request.urlopen(f"{base}/book/esketamine.html", timeout=60) as r:
            baseline.append(r.read().decode().count("Ochs-Ross"))
        for _ in range(repeat):
            time.sleep(2)
            sig, served = asyncio.run(once(full))
            wait_idle()
            out["reload_signal"].append(sig)
            out["page_served"].append(served)
            out["rebuild_done"].append(status()["cycles"][-1]["done"])
            asyncio.run(once(without))
            wait_idle()
    finally:
        os.killpg(srv.pid, signal.SIGINT)
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(srv.pid, signal.SIGKILL)
    return out


def cli() -> dict:
    g = str(BIN / "glumeta")
    timed([g, "check"])  # warm the file cache
    out = {"check": min(timed([g, "check"]) for _ in range(3))}
    from glumeta.data.tables import datasets

    out["analyze"] = {n: min(timed([g, "analyze", n, "--json"]) for _ in range(3)) for n in datasets()}
    return out


def sensitivity() -> float:
    """Leave-one-out, cumulative, estimator grid and subgroups for every analysis with k >= 2."""
    from glumeta.data.tables import datasets
    from glumeta.stats.plan import Analysis, analyze
    from glumeta.stats.sensitivity import cumulative, estimator_grid, leave_one_out, subgroups

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


def _dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def scaling(tmp: Path, ks=(10, 100, 1000, 10000), max_build_k: int = 1000) -> list[dict]:
    """check, analyze, cold build and page size with the esketamine headline pool at each k."""
    sys.path.insert(0, str(Path(__file__).parent))
    from synth import FILE, add_synthetic

    g = str(BIN / "glumeta")
    base = json.loads(subprocess.run([g, "analyze", FILE, "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    k0 = next(a["k"] for a in base["analyses"] if a["id"] == "overall")
    out = []
    for k in ks:
        d = copy(tmp / f"scale{k}")
        n = max(0, k - k0)
        add_synthetic(d / "data", n)
        dd = ["--data-dir", str(d / "data")]
        row = {"k": k, "synthetic_rows": n}
        gb = [g, "build", "--book-dir", str(d), *dd]
        if k > max_build_k:
            t0 = time.perf_counter()
            r = subprocess.run(gb, capture_output=True, text=True)
            row["build_refused_s"] = time.perf_counter() - t0
            row["build_refused"] = r.returncode != 0
            row["refusal"] = (r.stderr.strip().splitlines() or [""])[0][:300]
            add_synthetic(d / "data", 0, max_rows=k + 100)  # raise the copy's row limit for check/analyze
            row["limit_raised_to"] = k + 100
        row["check_s"] = min(timed([g, "check", *dd]) for _ in range(2))
        row["analyze_s"] = min(timed([g, "analyze", FILE, "--json", *dd]) for _ in range(2))
        if k <= max_build_k:
            row["build_s"] = timed(gb)
            html = d / "_build" / "html"
            row["chapter_html_bytes"] = (html / "book" / "esketamine.html").stat().st_size
            row["synthesis_html_bytes"] = (html / "book" / "synthesis.html").stat().st_size
            row["html_total_bytes"] = _dir_size(html)
        out.append(row)
        print(f"scaling k = {k}: {row}", flush=True)
        shutil.rmtree(d, ignore_errors=True)
    return out


def _med(xs):
    import statistics

    return statistics.median(xs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the measurements here")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of toy + book (medians are reported)")
    ap.add_argument("--scale", default="10,100,1000,10000", help="k values of the scaling table ('' for none)")
    args = ap.parse_args(argv)
    toys, books = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        snapshot(tmp)
        for r in range(args.repeat):
            toys.append(toy(tmp / f"t{r}"))
            books.append(book(tmp / f"b{r}"))
            print(f"round {r + 1}: toy {toys[-1]}\n         book {books[-1]}", flush=True)
        pv = preview(tmp, args.repeat)
        print(f"live preview: {pv}", flush=True)
        scale = scaling(tmp, [int(x) for x in args.scale.split(",") if x]) if args.scale else []
        c = cli()
        s = sensitivity()
    t = {key: _med([x[key] for x in toys]) for key in toys[0]}
    b = {key: _med([x[key] for x in books]) for key in books[0]}
    spread = lambda runs, key: f"{min(x[key] for x in runs):.1f}-{max(x[key] for x in runs):.1f}"  # noqa: E731
    rows = [("cold build", b["cold"], t["cold"], "<= 0.8x toy cold", b["cold"] / t["cold"] <= 0.8, spread(books, "cold"),
             spread(toys, "cold"))]
    for name in ADD_ROWS:
        key = f"add_row:{name}"
        rows.append((f"add a row ({name})", b[key], t["one_chapter"], "<= 1.0x toy one-chapter",
                     b[key] / t["one_chapter"] <= 1.0, spread(books, key), spread(toys, "one_chapter")))
    rows.append(("no-op rebuild", b["noop"], t["noop"], "<= 2 s", b["noop"] <= 2, spread(books, "noop"),
                 spread(toys, "noop")))
    print(f"\n{len(toys)} round(s); medians (min-max)")
    print(f"{'measure':40} {'book s':>8} {'toy s':>8} {'ratio':>6}  {'target':25} met  spread book / toy")
    for name, v, ref, target, ok, sb, st in rows:
        print(f"{name:40} {v:8.2f} {ref:8.2f} {v / ref:6.2f}  {target:25} {'yes' if ok else 'NO ':3}  {sb} / {st}")
    print(f"{'glumeta check':40} {c['check']:8.2f} {'':>8} {'':>6}  {'<= 1 s':25} {'yes' if c['check'] <= 1 else 'NO'}")
    for n, v in c["analyze"].items():
        print(f"{'glumeta analyze ' + n:40} {v:8.2f} {'':>8} {'':>6}  {'<= 1.5 s':25} {'yes' if v <= 1.5 else 'NO'}")
    print(f"{'sensitivity (all analyses)':40} {s:8.2f} {'':>8} {'':>6}  {'<= 0.5 s':25} {'yes' if s <= 0.5 else 'NO'}")
    p = _med(pv["page_served"])
    print(f"{'live preview: esketamine row -> page':40} {p:8.2f} {'':>8} {'':>6}  {'<= 2 s':25} {'yes' if p <= 2 else 'NO'}"
          f"  {min(pv['page_served']):.2f}-{max(pv['page_served']):.2f} (whole book rebuilt after "
          f"{_med(pv['rebuild_done']):.1f} s)")
    if scale:
        print(f"\nscaling (esketamine headline pool; toy cold median {t['cold']:.1f} s)")
        print(f"{'k':>6} {'check s':>8} {'analyze s':>9} {'build s':>8} {'x toy':>6} {'page MB':>8} {'html MB':>8}")
        for r in scale:
            bs = r.get("build_s")
            head = f"{r['k']:>6} {r['check_s']:8.2f} {r['analyze_s']:9.2f} "
            if bs:
                print(head + f"{bs:8.1f} {bs / t['cold']:6.2f} {r['chapter_html_bytes'] / 1e6:8.2f} "
                      f"{r['html_total_bytes'] / 1e6:8.1f}")
            else:
                print(head + f"refused in {r['build_refused_s']:.1f} s (check/analyze with the copy's limit raised)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": {"toy": toys, "book": books}, "toy": t, "book": b, "cli": c,
                                               "sensitivity_s": s, "preview": pv, "scaling": scale}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
