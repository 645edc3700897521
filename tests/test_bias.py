"""Risk of bias (glumeta.views.bias): published judgments only, each with its source; "not assessed"
elsewhere; every study of every data file has a row; data concerns are computed and labelled."""

import csv
import shutil
from pathlib import Path

import pytest

from glumeta.views.bias import NOT_ASSESSED, bias_html, bias_table, published
from glumeta.data.tables import datasets
from glumeta.data.workbook import Workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
NAMES = list(datasets())


def _csv(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", NAMES)
def test_every_study_has_one_row(name):
    ids = list(dict.fromkeys(r["study_id"] for r in _csv(DATA / f"{name}.csv")))
    t = bias_table(name)
    assert list(t["study_id"]) == ids


@pytest.mark.parametrize("name", NAMES)
def test_no_judgment_without_a_source(name):
    t = bias_table(name)
    judged = t[t["published risk of bias"] != NOT_ASSESSED]
    assert (judged["source"].str.strip().str.len() > 0).all()
    assert (t.loc[t["published risk of bias"] == NOT_ASSESSED, "source"] == "").all()
    # independently from the CSV: a study is judged exactly when risk_of_bias.csv has rows for it
    rob = [r for r in _csv(DATA / "risk_of_bias.csv") if r["file"] == name]
    assert set(judged["study_id"]) == {r["study_id"] for r in rob}
    for r in rob:
        row = t.set_index("study_id").loc[r["study_id"]]
        assert f"{r['domain']}: {r['judgment']}" in row["published risk of bias"]
        assert r["source"] in row["source"].split("; ")


@pytest.mark.parametrize("name", NAMES)
def test_html_links_every_judgment_to_its_source(name):
    out = bias_html(name)._repr_html_()
    for r in published(name).itertuples():
        assert f'href="{r.source}"' in out
    t = bias_table(name)
    assert out.count(f"<i>{NOT_ASSESSED}</i>") == int((t["published risk of bias"] == NOT_ASSESSED).sum())


@pytest.mark.parametrize("name", NAMES)
def test_data_concerns_are_labelled_and_computed(name):
    raw = _csv(DATA / f"{name}.csv")
    t = bias_table(name).set_index("study_id")
    for sid in t.index:
        rows = [r for r in raw if r["study_id"] == sid]
        complete = [r for r in rows if r["status"] == "complete"]
        texts = t.loc[sid, "concern_texts"]
        assert all(x.startswith("data concern: ") for x in texts)
        if not complete:
            assert t.loc[sid, "data concerns"] == "– (no numbers analysed)"
        if any(r["secondary"] == "true" for r in complete):
            assert "secondary" in t.loc[sid, "concern_keys"]


def test_known_concerns():
    t = bias_table("blood_glutamate").set_index("study_id")
    assert {"median_iqr", "skewed"} <= set(t.loc["islam2020", "concern_keys"])
    assert "sd_from_sem" in t.loc["pan2018-c1", "concern_keys"]
    k = bias_table("ketamine_escitalopram").set_index("study_id")
    assert {"derived_counts", "completers"} <= set(k.loc["hu2016", "concern_keys"])
    n = bias_table("nitrous_oxide_hamd").set_index("study_id")
    assert "se_from_p" in n.loc["nagele2021", "concern_keys"]
    e = bias_table("esketamine_madrs").set_index("study_id")
    assert "shared_control" in e.loc["daly2018", "concern_keys"]


def test_header_only_table_means_not_assessed_everywhere(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    p = data / "risk_of_bias.csv"
    p.write_text(p.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    t = bias_table(Workbook(data).dataset("esketamine_madrs"))
    assert (t["published risk of bias"] == NOT_ASSESSED).all()
    assert (t["source"] == "").all()


@pytest.mark.parametrize("name", NAMES)
def test_incomplete_domain_sets_say_so(name):
    """Cochrane RoB 1 has 7 domains: a study with only some recorded says "k of 7 domains recorded"
    (counted independently from risk_of_bias.csv), in the table and the HTML (audit 18, 3c)."""
    rob = [r for r in _csv(DATA / "risk_of_bias.csv") if r["file"] == name]
    t = bias_table(name).set_index("study_id")
    out = bias_html(name)._repr_html_()
    for sid in {r["study_id"] for r in rob}:
        k = len({r["domain"] for r in rob if r["study_id"] == sid})
        text = t.loc[sid, "published risk of bias"]
        assert "RoB 1" in text
        if k < 7:
            phrase = f"{k} of 7 domains recorded (Cochrane RoB 1); the other {7 - k} are not in the data"
            assert phrase in text and phrase in out
        else:
            assert "domains recorded" not in text


def test_completers_come_from_the_declared_column_not_a_text_search(tmp_path):
    """The completers concern reads the declared n_basis column (values cited from the rows' sources):
    Hu 2016's rows are completers (the source: '27 completed: … 13, … 14'), both its response and
    remission rows are flagged; Arabzadeh 2018's basis is NOT FOUND in the sources, so its n_basis is
    empty and it is not flagged although its notes quote '81 completed'; the word 'completers' in
    free text no longer flags a row."""
    k = bias_table("ketamine_escitalopram").set_index("study_id")
    assert "completers" in k.loc["hu2016", "concern_keys"]
    assert not any("(rows:" in x for x in k.loc["hu2016", "concern_texts"] if "completers" in x)
    assert "completers" not in k.loc["arabzadeh2018", "concern_keys"]
    raw = _csv(DATA / "ketamine_escitalopram.csv")
    assert {r["n_basis"] for r in raw if r["study_id"] == "hu2016"} == {"completers"}
    assert {r["n_basis"] for r in raw if r["study_id"] == "arabzadeh2018"} == {""}
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    p = data / "ketamine_escitalopram.csv"
    rows = list(csv.reader(open(p, encoding="utf-8", newline="")))
    col = rows[0].index("n_basis")
    for r in rows[1:]:
        if r[0] == "hu2016":
            r[col] = ""
    with open(p, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    t = bias_table(Workbook(data).dataset("ketamine_escitalopram")).set_index("study_id")
    assert "completers" not in t.loc["hu2016", "concern_keys"]  # its locator still says 'completers'


def test_missing_arm_sizes_are_a_data_concern():
    n = bias_table("nitrous_oxide_hamd").set_index("study_id")
    assert "missing_n" in n.loc["myles2025", "concern_keys"]
    assert n.loc["myles2025", "data concerns"] != "none found in the numbers"
    for name in NAMES:
        raw = _csv(DATA / f"{name}.csv")
        t = bias_table(name).set_index("study_id")
        c1, c2 = ("totaln_arm1", "totaln_arm2") if "totaln_arm1" in raw[0] else ("n_arm1", "n_arm2")
        for sid in t.index:
            complete = [r for r in raw if r["study_id"] == sid and r["status"] == "complete"]
            missing = any(not (r[c1] and r[c2]) for r in complete)
            assert ("missing_n" in t.loc[sid, "concern_keys"]) == missing, (name, sid)
