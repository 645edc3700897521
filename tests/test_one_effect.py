"""One row, one effect: the CI of every row is the same in the forest plot, the chapter's data
table, ``glumeta analyze --csv`` and ``--json`` (issue #11), shared controls included."""

import csv
import json
import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import pytest

from glumeta.views.chapter import Chapter
from glumeta.data.tables import datasets
from glumeta.views.forest import columns_of, forest_from_analysis
from glumeta.stats.plan import Analysis

NAMES = datasets()


def _cli(*args):
    r = subprocess.run([sys.executable, "-m", "glumeta.cli", *args], capture_output=True, text=True, check=True)
    return r.stdout


@pytest.mark.parametrize("name", NAMES)
def test_every_view_shows_the_same_ci(tmp_path, name):
    ch = Chapter(name, "one-effect")
    out = tmp_path / "results.csv"
    _cli("analyze", name, "--csv", str(out))
    csv_rows = {(int(r["line"]), r["measure"]): r for r in csv.DictReader(out.open(encoding="utf-8"))
                if r.get("row_type", "study") == "study"}
    js = {a["id"]: a for a in json.loads(_cli("analyze", name, "--json"))["analyses"]}
    table_html = ch.data_table().data
    checked = 0
    for a in ch.analyses:
        if not isinstance(a, Analysis):
            continue
        fig = forest_from_analysis(a, columns=columns_of(name))
        drawn = [pl for kind, pl in fig._glumeta["lines"] if kind == "study" and pl.pooled]
        shown = [pl for kind, pl in fig._glumeta["lines"] if kind == "study" and not pl.pooled]
        # rows outside the pool are drawn too (hollow), with the same CI as in the JSON's "outside" list
        outside = js[a.id].get("outside", [])
        assert len(shown) == len(outside) == (0 if a.outside is None else len(a.outside))
        for fr, s in zip(shown, outside):
            assert (fr.ci_lower, fr.ci_upper) == (s["ci_lower"], s["ci_upper"]), (a.id, s["label"], "outside")
        matplotlib.pyplot.close(fig)
        studies = js[a.id]["studies"]
        assert len(drawn) == len(studies) == a.k
        for fr, s, (_, row) in zip(drawn, studies, a.rows.iterrows()):
            # a trial's dose arms combined into one comparison (sensitivity:arms-combined) is not
            # a row of the file: its forest and JSON values are the pool's own row
            combined = "combined into one comparison" in str(row["derivation"])
            c = None if combined else csv_rows[(int(row["line"]), a.measure)]
            for bound in ("ci_lower", "ci_upper"):
                frame_value = float(row[bound])
                assert getattr(fr, bound) == frame_value, (a.id, row["label"], "forest")
                assert s[bound] == frame_value, (a.id, row["label"], "json")
                if combined:
                    continue
                assert math.isclose(float(c[bound]), frame_value, rel_tol=0, abs_tol=1e-12), (a.id, "csv")
                if a.measure == ch.table["measure"].iloc[0]:  # the chapter's table shows the file's main measure
                    assert f"{frame_value:.4f}" in table_html, (a.id, row["label"], "data table")
            checked += 1
    assert checked >= 1


def test_shared_control_rows_use_the_split_variance_everywhere(tmp_path):
    """Daly 2018 28 mg at 24 h: the reviewer saw CSV CI −10.86 to 0.86 against the forest's −12.18 to 2.18."""
    out = tmp_path / "r.csv"
    _cli("analyze", "esketamine_madrs", "--csv", str(out))
    rows = [r for r in csv.DictReader(out.open(encoding="utf-8"))
            if r["study_id"] == "daly2018" and r["time"] == "period-1 endpoint" and "28 mg" in r["comparison"]]
    assert len(rows) == 1
    r = rows[0]
    assert float(r["vi"]) > float(r["vi_unsplit"])
    assert "split over 3 comparisons" in r["derivation"]
    assert round(float(r["ci_lower"]), 2) == -12.18 and round(float(r["ci_upper"]), 2) == 2.18
