"""Synthetic rows for the scaling benchmarks (issue #21): *n* made-up 24 h comparisons appended to
``esketamine_madrs.csv`` of a **temporary copy** of the data, so that the headline pool has about
``n`` more rows. Never pointed at the repository's data/ (refused).

The rows are plainly marked synthetic (study ``Synthetic NNNN``, source ``synthetic``); their
effects are drawn around the real pool (MD ≈ −4 points, SE 1–4) with a fixed seed.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILE = "esketamine_madrs"


def add_synthetic(data: Path, n: int, seed: int = 21, max_rows: int | None = None) -> int:
    """Append *n* synthetic rows to ``<data>/esketamine_madrs.csv``; with *max_rows*, raise the
    row limit of ``glumeta:limits`` in ``<data>/datapackage.json`` to it. Returns the rows written."""
    data = Path(data).resolve()
    if data == (ROOT / "data").resolve():
        raise ValueError("synthetic rows go into a temporary copy, never the repository's data/")
    p = data / f"{FILE}.csv"
    with open(p, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    rng = random.Random(seed)
    pops = ("suicidal ideation", "treatment-resistant")
    rows = []
    for i in range(n):
        n1 = rng.randint(20, 200)
        se = round(rng.uniform(1.0, 4.0), 2)
        md = round(rng.gauss(-4.0, 2.5), 1)
        r = dict.fromkeys(header, "")
        r.update(study_id=f"synth{i:05d}", study=f"Synthetic {i:05d}", year=str(2000 + i % 25), status="complete",
                 comparison="esketamine 84 mg vs placebo", time="24 h", primary="true", design="parallel",
                 population=pops[i % 2], n_arm1=str(n1), n_arm2=str(n1 + rng.randint(-5, 5)), md=f"{md}",
                 md_se=f"{se}", estimate_type="LS mean difference", source="synthetic",
                 locator="synthetic row for the scaling benchmark", secondary="false")
        rows.append([r[c] for c in header])
    text = p.read_text(encoding="utf-8")
    with open(p, "a", encoding="utf-8", newline="") as fh:
        if not text.endswith("\n"):
            fh.write("\n")
        csv.writer(fh, lineterminator="\n").writerows(rows)
    if max_rows is not None:
        dp = data / "datapackage.json"
        pkg = json.loads(dp.read_text(encoding="utf-8"))
        lim = pkg.setdefault("glumeta:limits", {})
        lim["rows"] = max(int(lim.get("rows", 0)), int(max_rows))
        lim["bytes"] = max(int(lim.get("bytes", 0)), 50_000_000)
        dp.write_text(json.dumps(pkg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return n
