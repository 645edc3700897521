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
