"""The synthesis prose quotes its prediction interval through a role computed at build time (never typed),
names Murrough 2013 among the trials not on the SMD scale, and the introduction's ketamine rows name the
schedule and time point of their headline pool from the schema's declared label (audits 16 and 18)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from glumeta.book.directives import synthesis_texts
from glumeta.formatting import fmt_ci
from glumeta.stats.synthesis import R_ASSUMED, synthesis
from glumeta.views.html import SynthesisView, summary_table

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "book" / "synthesis.md").read_text(encoding="utf-8")


def test_prediction_interval_text_is_the_pool_s():
    o = synthesis(R_ASSUMED)["overall"]
    t = synthesis_texts(SynthesisView())
    assert math.isfinite(o.pi_lower)
    assert t["syn_pi"] == fmt_ci(o.pi_lower, o.pi_upper)
    assert t["syn_ci"] == fmt_ci(o.ci_lower, o.ci_upper)


def test_synthesis_prose_glues_the_prediction_interval():
    assert "{glumeta-synthesis-text}`syn_pi`" in PAGE
    prose = re.sub(r"```.*?```", "", PAGE, flags=re.S)
    assert not re.search(r"[−-]0\.\d\d to [−-]?0\.\d\d", prose), "a typed interval in the synthesis prose"


def test_murrough_is_named_with_its_reasons():
    part = PAGE[PAGE.index("**Not on this scale:**"):]
    part = part[:part.index("```")]
    assert "Murrough 2013" in part
    for reason in ("arm sizes were not found", "SMD", "midazolam", "active placebo", "alone"):
        assert reason in part, reason
    assert "Data gaps for this scale" in part and "Murrough 2013 (arm sizes not found" in part


def test_intro_ketamine_rows_name_the_schedule_and_time_point():
    pkg = json.loads((ROOT / "data" / "datapackage.json").read_text(encoding="utf-8"))
    res = next(r for r in pkg["resources"] if r["name"] == "ketamine_escitalopram")
    label = res["schema"]["glumeta:analysis"]["overall"]["label"]
    assert "one i.v. infusion" in label and "end point" in label
    t = summary_table()
    rows = t[t["data file"] == "ketamine_escitalopram"]["headline pool (endpoint)"].tolist()
    assert rows == [label.replace("{outcome:capitalize}", o.capitalize()).replace("{measure}", "RR")
                    for o in ("response", "remission")]


def test_intro_summary_leads_with_the_pool_and_its_effect():
    """The introduction's summary table is wider than the text: its first columns are the ones a
    reader must see without scrolling it (the audit at 1280 px saw only data file, pool, measure, k)."""
    t = summary_table()
    assert list(t.columns[:3]) == ["headline pool (endpoint)", "effect (95% CI)", "k"]
    assert all(cell.split()[0] in ("SMD", "MD", "RR", "OR", "RD") and "(" in cell for cell in t["effect (95% CI)"])
