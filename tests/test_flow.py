"""The flow of studies (glumeta.views.flow) counts what the data hold: each state's rows and studies are
recomputed here from the raw CSV (csv module) and the pools of glumeta.stats.plan.analyze()."""

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from glumeta.data.tables import datasets
from glumeta.views.flow import STATES, flow_figure, flow_html, flow_rows, flow_studies, flow_summary
from glumeta.stats.plan import Analysis, analyze, is_main
from glumeta.data.workbook import Workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
NAMES = list(datasets())
RANK = {s: i for i, s in enumerate(STATES)}


def _pk(name):
    pkg = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
    return next(r for r in pkg["resources"] if r["name"] == name)["schema"]["primaryKey"]


def _expected(name):
    """Row states and study states computed independently of glumeta.views.flow."""
    pk = _pk(name)
    with open(DATA / f"{name}.csv", encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    analyses = [a for a in analyze(name) if isinstance(a, Analysis)]
    key = lambda rec: tuple(str(rec[c]) for c in pk)  # noqa: E731
    primary = {key(r) for a in analyses if is_main(a.id) for r in a.rows.to_dict("records")}
    pooled_any = {key(r) for a in analyses if not is_main(a.id) for r in a.rows.to_dict("records")}
    rows = []
    for r in raw:
        st = r["status"]
        state = ("excluded" if st == "excluded" else "pending" if st == "pending"
                 else "primary" if key(r) in primary else "other" if key(r) in pooled_any else "shown")
        rows.append((r["study_id"], state))
    studies = {}
    for sid, state in rows:
        studies[sid] = min(studies.get(sid, state), state, key=RANK.get)
    return rows, studies


@pytest.mark.parametrize("name", NAMES)
def test_flow_counts_equal_the_rows_in_each_state(name):
    rows, studies = _expected(name)
    f = flow_summary(name)
    assert f["rows"] == len(rows)
    assert f["studies"] == len(studies)
    for s in STATES:
        assert f[s]["rows"] == sum(st == s for _, st in rows), s
        assert f[s]["studies"] == sum(st == s for st in studies.values()), s
        assert f["rows_of_counted_studies"][s] == sum(st == s and studies[sid] != s for sid, st in rows)
    assert sum(f[s]["studies"] for s in STATES) == f["studies"]
    assert sum(f[s]["rows"] for s in STATES) == f["rows"]
    assert f["with_numbers"]["rows"] == f["primary"]["rows"] + f["other"]["rows"] + f["shown"]["rows"]
    per_study = flow_studies(name).set_index("study_id")["state"].to_dict()
    assert per_study == studies
    assert [st for _, st in rows] == list(flow_rows(name)["state"])


@pytest.mark.parametrize("name", NAMES)
def test_every_row_outside_the_headline_has_a_reason(name):
    r = flow_rows(name)
    assert (r.loc[r["state"] != "primary", "reason"].str.len() > 0).all()
    assert (r.loc[r["state"] == "primary", "reason"] == "").all()


def test_study_state_is_its_best_row():
    """TRANSFORM-3: its whole-trial row is analysed (outside the 24 h headline), its sex strata are excluded."""
    s = flow_studies("esketamine_madrs").set_index("study_id")
    assert s.loc["transform3", "state"] == "other"
    assert s.loc["transform3", "rows_excluded"] == 2
    f = flow_summary("esketamine_madrs")
    assert f["rows_of_counted_studies"]["excluded"] == 2
    reasons = [r for r, _, _ in f["reasons"]["excluded"]]
    assert any("active comparator" in r for r in reasons)  # ESCAPE-TRD, counted as an excluded study


def test_main_analyses_listed_with_their_k():
    f = flow_summary("ketamine_escitalopram")
    mains = {a.id: a.k for a in analyze("ketamine_escitalopram") if isinstance(a, Analysis) and is_main(a.id)}
    assert {aid: k for aid, _, k, _ in f["main"]} == mains


def test_figure_text_readable_and_svg_deterministic(tmp_path):
    import matplotlib.pyplot as plt

    from glumeta.views.forest import save_figure

    fig = flow_figure("esketamine_madrs")
    sizes = [t.get_fontsize() for t in fig.findobj(lambda o: hasattr(o, "get_fontsize") and hasattr(o, "get_text"))
             if t.get_text()]
    assert sizes and min(sizes) >= 8
    a = save_figure(fig, "flowtest", "a", root=tmp_path, formats=("svg",))["svg"].read_bytes()
    plt.close(fig)
    fig = flow_figure("esketamine_madrs")
    b = save_figure(fig, "flowtest", "b", root=tmp_path, formats=("svg",))["svg"].read_bytes()
    plt.close(fig)
    assert a == b
    assert b"<dc:date>" not in a


def test_flow_html_escapes_labels(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    p = data / "blood_glutamate.csv"
    rows = list(csv.reader(open(p, encoding="utf-8", newline="")))
    hostile = '<script>alert("x")</script> & $x$'
    rows[3][rows[0].index("study")] = hostile  # a pending row: shown in the pending box and the table
    with open(p, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    view = flow_html(Workbook(data).dataset("blood_glutamate"), "flowtest")
    out = view._repr_html_()
    assert "<script>" not in out
    assert "&lt;script&gt;" in out
    assert view.paths["svg"].exists() and view.paths["png"].exists() and view.paths["pdf"].exists()
    assert re.search(r'alt="Flow of studies of data/blood_glutamate.csv: \d+ studies', out)


def test_a_study_no_analysis_pools_is_shown_not_pooled():
    """Guimarães 2021 and Myles 2025 (repeated sessions) are pooled by no analysis: they are "shown, not
    pooled in any analysis", never "in sensitivity or other analyses only" (audit 18, 2a)."""
    s = flow_studies("nitrous_oxide_hamd").set_index("study_id")
    for sid in ("guimaraes2021", "myles2025"):
        assert s.loc[sid, "state"] == "shown", sid
        assert s.loc[sid, "pools"] == ""
    other = s[s["state"] == "other"]
    assert (other["pools"].str.len() > 0).all()  # every "other" study names an analysis that pools it
    view = flow_html("nitrous_oxide_hamd", "flowtest")
    t = view.table().set_index("study")
    assert t.loc["Myles 2025", "state"] == "shown, not pooled in any analysis"
    assert "shown but not pooled in any analysis" in view.alt and "shown but not pooled" in view.counts_text()


@pytest.mark.parametrize("name", NAMES)
def test_other_means_pooled_somewhere(name):
    s = flow_studies(name)
    assert (s.loc[s["state"] == "other", "pools"].str.len() > 0).all()
    assert (s.loc[s["state"] == "shown", "pools"] == "").all()
