"""Summary of findings: one row per headline outcome, with the reasons to be less certain the data show.

Each row is a main analysis of a data file (:func:`glumeta.stats.plan.is_main`: ``overall`` or
``overall:<outcome>``), exactly as :func:`glumeta.stats.plan.analyze` pools it, in the layout
of a GRADE summary-of-findings table (Cochrane Handbook ch. 14; Guyatt et al. 2011):

* **k and studies**: pooled comparisons and the independent studies behind them
  (:attr:`glumeta.stats.models.PoolResult.trials`: trials or, for an observational comparison,
  cohorts: the table says "studies", as Cochrane's summary-of-findings tables do);
* **participants**: over the pooled rows, arm 1 plus arm 2, with two rules so that no
  patient is counted twice: a control group shared by several comparisons of one trial
  (same ``shared_control`` key and time) is counted once; a crossover row counts its
  patients once, as the larger of its two session counts (each patient is in both arms).
  Rows whose arm sizes are not in the data are named;
* **effect**: the pooled estimate and its interval on the reader's scale
  (:meth:`glumeta.stats.plan.Analysis.display`; a ratio, a mean difference or an SMD), with the
  model that produced it (:attr:`glumeta.stats.models.PoolResult.model`, "Single study (not
  pooled)" for k = 1), one per row; the prediction interval where the plan defines one, or why
  there is none (:func:`glumeta.views.html.no_pi_reason`, the same words as every other table);
* **absolute effect** (binary outcomes): the control-group risk of the pooled rows
  (events / total in arm 2, a shared control counted once) and the implied risk with the
  intervention per 1,000, ``RR × control risk`` (``OR·CR / (1 − CR + OR·CR)`` for an odds
  ratio), with its interval from the ratio's interval (Cochrane Handbook §14.1.5.1; GRADE
  guidelines 12, Guyatt et al. 2013). A risk above 1,000 per 1,000 is shown capped, and said so;
* **reasons to be less certain, computed**: imprecision (GRADE handbook §5.2.4, Schünemann et al.
  2013: the interval includes no effect; or the information is small, the optimal-information-size
  criterion applied as GRADE guidelines 6 frames it, Guyatt et al. 2011: fewer than 300 events for
  a binary outcome, fewer than 400 participants for a continuous one — its rule of thumb. An
  outcome is binary when its rows carry event counts (the ``event*`` columns of the effect frame),
  whatever the measure — an RD is binary — and when a count is missing the events are "unknown"
  and the 400-participant rule is applied instead: :func:`information_size`),
  inconsistency (I² ≥ 50 %, or a prediction interval that includes no effect), few studies
  (k < 5 or fewer than 5 trials; a single study is not pooled), converted or derived numbers
  and skew-flagged conversions, rows from secondary sources, and pending rows that would
  fit the pool;
* the GRADE domains that need a reviewer's judgment (risk of bias overall, indirectness,
  publication bias, and the overall certainty) are shown as "not assessed": the workbook
  makes no such judgment.

References
----------
Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines 6. Rating the quality of evidence—imprecision.
J Clin Epidemiol 2011;64:1283–1293. doi:10.1016/j.jclinepi.2011.01.012

Guyatt GH, Oxman AD, Santesso N, et al. GRADE guidelines: 12. Preparing summary of findings
tables—binary outcomes. J Clin Epidemiol 2013;66:158–172. doi:10.1016/j.jclinepi.2012.01.012

Schünemann HJ, Higgins JPT, Vist GE, et al. Chapter 14: Completing 'Summary of findings' tables
and grading the certainty of the evidence. In: Cochrane Handbook for Systematic Reviews of
Interventions, version 6.4, 2023 (§14.1.5: absolute effects from a control-group risk).

Schünemann H, Brożek J, Guyatt G, Oxman A (eds). GRADE handbook for grading quality of evidence
and strength of recommendations, 2013 (§5.2.2 inconsistency, §5.2.4 imprecision).

IntHout J, Ioannidis JPA, Rovers MM, Goeman JJ. Plea for routinely presenting prediction
intervals in meta-analysis. BMJ Open 2016;6:e010247.
"""

from __future__ import annotations

import html
import math

from .bias import row_concerns
from .html import no_pi_reason
from ..stats.escalc import RATIO
from ..formatting import fmt, fmt_ci, fmt_i2, fmt_n, fmt_per1000
from ..stats.plan import Analysis, analyze, is_main
from ..data.workbook import Dataset, current

__all__ = ["NOT_ASSESSED", "JUDGED_DOMAINS", "OIS_EVENTS", "OIS_PARTICIPANTS", "events", "participants", "control_risk",
           "absolute_risk", "is_binary", "information_size", "reasons", "findings", "findings_table", "findings_html",
           "FindingsView"]

NOT_ASSESSED = "not assessed"

#: GRADE domains that need a reviewer's judgment; the table shows them as "not assessed".
JUDGED_DOMAINS = ("risk of bias (overall)", "indirectness", "publication bias", "certainty (GRADE)")

#: Rule-of-thumb optimal information sizes (GRADE guidelines 6, Guyatt et al. 2011): fewer total events
#: (binary outcome) or participants (continuous outcome) than these is a reason to be less certain.
OIS_EVENTS = 300
OIS_PARTICIPANTS = 400

#: Event-count columns of an effect frame (used counts, then as reported): a pool whose rows carry
#: them is binary, whatever its measure (RR, OR or RD).
EVENT_COLUMNS = ("event1_used", "event2_used", "event_arm1", "event_arm2")

#: Measures of a binary outcome (a pool of these whose rows lost every count is still binary).
BINARY_MEASURES = frozenset({"RR", "OR", "RD"})

#: Conversions and derivations that make a number less certain (keys of :data:`glumeta.views.bias.CONCERNS`).
CONVERTED = {"median_iqr": "mean/SD from median/IQR", "skewed": "skew-flagged median/IQR",
             "se_from_p": "SE from an exact p", "derived_counts": "counts derived from percentages",
             "sd_from_sem": "SD from SEM"}


def _arm_cols(rows) -> tuple[str, str]:
    return ("totaln_arm1", "totaln_arm2") if "totaln_arm1" in rows else ("n_arm1", "n_arm2")


def _num(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def participants(rows) -> tuple[int, list[str]]:
    """Participants in pooled effect-frame *rows*, and the labels of rows without arm sizes.

    Arm 1 plus arm 2 per row, a shared control group (same ``study_id``, ``shared_control``
    and ``time``) counted once, and a crossover row's patients counted once (the larger of
    its two session counts).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"study_id": ["d", "d", "x"], "label": ["d 28", "d 56", "x"],
    ...                      "design": ["parallel", "parallel", "crossover"],
    ...                      "shared_control": ["d-pbo", "d-pbo", None], "time": ["24 h"] * 3,
    ...                      "n_arm1": [11, 12, 23], "n_arm2": [33, 33, 22]})
    >>> participants(rows)
    (79, [])
    """
    c1, c2 = _arm_cols(rows)
    total, missing, controls = 0, [], set()
    for r in rows.to_dict("records"):
        n1, n2 = _num(r.get(c1)), _num(r.get(c2))
        if n1 is None or n2 is None:
            missing.append(str(r.get("label", r.get("study_id"))))
            continue
        if r.get("design") == "crossover":
            total += int(max(n1, n2))
            continue
        total += int(n1)
        if _first_use_of_control(r, controls):
            total += int(n2)
    return total, missing


def _first_use_of_control(r: dict, seen: set) -> bool:
    """Does row *r* bring its control arm in for the first time? A control group shared by several
    comparisons of one trial at one time point (``shared_control``) counts once; *seen* records it."""
    key = r.get("shared_control")
    if not (isinstance(key, str) and key):
        return True
    ck = (r.get("study_id"), key, r.get("time"))
    if ck in seen:
        return False
    seen.add(ck)
    return True


def control_risk(rows) -> float | None:
    """Control-group risk of pooled binary rows: events / total in arm 2 (a shared control once);
    ``None`` when the rows have no counts (continuous outcomes).

    Examples
    --------
    >>> import pandas as pd
    >>> control_risk(pd.DataFrame({"study_id": ["a", "b"], "event2_used": [2, 6], "totaln_arm2": [14, 26]}))
    0.2
    """
    if "event2_used" not in rows:
        return None
    events = total = 0.0
    seen = set()
    for r in rows.to_dict("records"):
        e, n = _num(r.get("event2_used")), _num(r.get("totaln_arm2"))
        if e is None or n is None:
            return None
        if _first_use_of_control(r, seen):
            events += e
            total += n
    return events / total if total else None


def events(rows) -> int | None:
    """Total events of pooled binary rows (arm 1 plus arm 2, a shared control counted once);
    ``None`` for continuous outcomes or when a count is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> events(pd.DataFrame({"study_id": ["a"], "event1_used": [10], "event2_used": [2]}))
    12
    """
    if "event1_used" not in rows or "event2_used" not in rows:
        return None
    total, seen = 0, set()
    for r in rows.to_dict("records"):
        e1, e2 = _num(r.get("event1_used")), _num(r.get("event2_used"))
        if e1 is None or e2 is None:
            return None
        total += int(e1)
        if _first_use_of_control(r, seen):
            total += int(e2)
    return total


def absolute_risk(ratio: float, cr: float, measure: str = "RR") -> float:
    """Risk with the intervention implied by a *ratio* (RR or OR) and a control risk *cr*
    (Cochrane Handbook §14.1.5.1): ``RR·CR`` or ``OR·CR / (1 − CR + OR·CR)``.

    Examples
    --------
    >>> round(absolute_risk(2.0, 0.1), 3), round(absolute_risk(2.0, 0.1, "OR"), 3)
    (0.2, 0.182)
    """
    if measure == "RR":
        return ratio * cr
    if measure == "OR":
        return ratio * cr / (1 - cr + ratio * cr)
    raise ValueError(f"no absolute effect from a {measure}")


def _null(measure: str) -> float:
    return 1.0 if measure in RATIO else 0.0


def _includes(lo, hi, null) -> bool:
    return lo is not None and hi is not None and lo <= null <= hi


def is_binary(rows, measure: str | None = None) -> bool:
    """Is the outcome of pooled effect-frame *rows* binary: do the rows carry event counts
    (:data:`EVENT_COLUMNS`, with at least one count)? Rows with the columns but no count are binary
    when *measure* is (:data:`BINARY_MEASURES`), continuous otherwise (a file holding both kinds).

    Examples
    --------
    >>> import pandas as pd
    >>> is_binary(pd.DataFrame({"event1_used": [3], "event2_used": [1]}), "RD")
    True
    >>> is_binary(pd.DataFrame({"n_arm1": [20], "n_arm2": [20]}), "MD")
    False
    """
    cols = [c for c in EVENT_COLUMNS if c in rows]
    if not cols:
        return False
    return any(rows[c].notna().any() for c in cols) or measure in BINARY_MEASURES


def information_size(rows, measure: str | None = None) -> str | None:
    """The small-information reason of pooled effect-frame *rows*, or ``None`` when the information
    reaches the rule of thumb of GRADE guidelines 6 (Guyatt et al. 2011): at least
    :data:`OIS_EVENTS` events for a binary outcome (:func:`is_binary`), at least
    :data:`OIS_PARTICIPANTS` participants for a continuous one. A binary pool with a count missing
    has its events "unknown" and is held to the participants' rule instead.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"study_id": ["a"], "n_arm1": [150], "n_arm2": [150],
    ...                      "event1_used": [200], "event2_used": [99]})
    >>> information_size(rows, "RD")
    'small information size: 299 events in 300 participants (fewer than 300 events, the rule of thumb of GRADE guidelines 6)'
    >>> information_size(rows.assign(event2_used=[100]), "RD") is None
    True
    """
    n, missing = participants(rows)
    known = " with known arm sizes" if missing else ""
    rule = f"(fewer than {OIS_PARTICIPANTS}, the rule of thumb of GRADE guidelines 6)"
    if not is_binary(rows, measure):
        return (f"small information size: {fmt_n(n)} participants{known} {rule}"
                if n < OIS_PARTICIPANTS else None)
    ev = events(rows)
    if ev is None:
        return (f"small information size: events unknown (a count is missing); {fmt_n(n)} participants{known} {rule}"
                if n < OIS_PARTICIPANTS else None)
    if ev < OIS_EVENTS:
        return (f"small information size: {ev} events in {fmt_n(n)} participants{known} (fewer than {OIS_EVENTS} "
                "events, the rule of thumb of GRADE guidelines 6)")
    return None


def reasons(a: Analysis) -> list[str]:
    """Reasons to be less certain of analysis *a* that its numbers show (see the module docstring)."""
    d = a.display()
    null = _null(a.measure)
    trials = a.trials if a.trials is not None else a.k
    out = []
    imp = []
    if _includes(d["ci_lower"], d["ci_upper"], null):
        imp.append(f"the 95% CI ({fmt_ci(d['ci_lower'], d['ci_upper'])}) includes no effect ({fmt(null, 0)})")
    small = information_size(a.rows, a.measure)
    if small:
        imp.append(small)
    if imp:
        out.append("imprecision: " + "; ".join(imp))
    inc = []
    if a.i2 is not None and math.isfinite(a.i2) and a.i2 >= 50:
        inc.append(f"I² = {fmt_i2(a.i2)}% (≥ 50%)")
    if _includes(d["pi_lower"], d["pi_upper"], null):
        inc.append(f"the prediction interval ({fmt_ci(d['pi_lower'], d['pi_upper'])}) includes no effect")
    if inc:
        out.append("inconsistency: " + "; ".join(inc))
    if a.k == 1:
        out.append("a single study (k = 1): nothing is pooled, and no heterogeneity can be estimated")
    elif a.k < 5 or trials < 5:
        out.append(f"few studies: k = {a.k} comparison{'s' if a.k != 1 else ''} from {trials} "
                   f"stud{'ies' if trials != 1 else 'y'} (fewer than 5)")
    rows = a.rows.to_dict("records")
    keys = [row_concerns(r) for r in rows]
    conv = [f"{CONVERTED[k]} ({sum(k in c for c in keys)} of {len(rows)} rows)" for k in CONVERTED
            if any(k in c for c in keys)]
    if conv:
        out.append("converted or derived numbers: " + "; ".join(conv))
    sec = sum("secondary" in c for c in keys)
    if sec:
        out.append(f"numbers from secondary sources ({sec} of {len(rows)} rows)")
    if a.pending:
        out.append(f"{a.pending} pending row{'s' if a.pending != 1 else ''} would fit this pool "
                   "(numbers not yet found)")
    return out


def _title(ds) -> str:
    t = ds.resource.get("title", ds.name)
    return t.replace(" (arm 1)", "").replace(" (arm 2)", "")


def findings(names=None, workbook=None):
    """The summary of findings as a tidy DataFrame, one row per main analysis of each data table
    (*names*: Datasets or table names; default every analysis of *workbook*, itself by default the
    current one).

    Numeric columns: ``k`` (comparisons), ``trials`` (the independent studies behind them,
    :attr:`~glumeta.stats.models.PoolResult.trials`), ``participants``, ``estimate``, ``ci_lower``, ``ci_upper``,
    ``pi_lower``, ``pi_upper`` (display scale), ``i2``, ``control_risk``, ``risk_intervention``,
    ``risk_lower``, ``risk_upper`` (per 1, uncapped; NaN for continuous outcomes). Text columns:
    ``file``, ``id``, ``comparison``, ``outcome``, ``measure``, ``model``, ``k_text``, ``pi_reason`` (why there
    is no prediction interval, :func:`glumeta.views.html.no_pi_reason`; empty when there is one),
    ``missing_n`` (rows without arm sizes), ``reasons`` (a list), and one column per :data:`JUDGED_DOMAINS` ("not assessed").

    Examples
    --------
    >>> f = findings(["ketamine_escitalopram"])
    >>> f["id"].tolist()
    ['overall:response', 'overall:remission']
    """
    import pandas as pd

    wb = workbook or current()
    names = names or list(wb.analyses())
    nan = float("nan")
    out = []
    for ds in names:
        ds = ds if isinstance(ds, Dataset) else wb.dataset(ds)
        name = ds.name
        for a in analyze(ds):
            if not isinstance(a, Analysis) or not is_main(a.id):
                continue
            d = a.display()
            n, missing = participants(a.rows)
            cr = control_risk(a.rows) if a.measure in ("RR", "OR") else None
            risk = [absolute_risk(d[k], cr, a.measure) if cr is not None else nan
                    for k in ("estimate", "ci_lower", "ci_upper")]
            rec = {"file": name, "id": a.id, "comparison": _title(ds), "outcome": a.label,
                   "measure": a.measure, "k": a.k, "trials": a.trials if a.trials is not None else a.k,
                   "k_text": a.k_text, "pi_reason": "" if d["pi_lower"] is not None else no_pi_reason(a),
                   "participants": n, "missing_n": missing,
                   **{k: (d[k] if d[k] is not None else nan) for k in
                      ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")},
                   "i2": a.i2 if a.k > 1 else nan, "model": a.model,
                   "control_risk": cr if cr is not None else nan, "risk_intervention": risk[0],
                   "risk_lower": risk[1], "risk_upper": risk[2], "reasons": reasons(a)}
            rec.update({dom: NOT_ASSESSED for dom in JUDGED_DOMAINS})
            out.append(rec)
    return pd.DataFrame(out)


def _effect_text(r) -> str:
    ci = fmt_ci(r["ci_lower"], r["ci_upper"])
    return f"{r['measure']} {fmt(r['estimate'])} (95% CI {ci}); {r['model']}"


def findings_table(names=None, workbook=None, frame=None):
    """The summary of findings as a reader sees it (text cells), one row per outcome
    (from *frame*, a :func:`findings` result, when given)."""
    import pandas as pd

    f = findings(names, workbook) if frame is None else frame
    rows = []
    for _, r in f.iterrows():
        if math.isfinite(r["control_risk"]):
            absolute = (f"control: {fmt_per1000(r['control_risk'])} per 1,000; with the intervention: "
                        f"{fmt_per1000(r['risk_intervention'])} per 1,000 (95% CI {fmt_per1000(r['risk_lower'])} to "
                        f"{fmt_per1000(r['risk_upper'])})")
        else:
            absolute = "– (continuous outcome: no control-group risk)"
        part = fmt_n(r['participants']) + (f" (+ rows without arm sizes: {', '.join(r['missing_n'])})"
                                           if r["missing_n"] else "")
        pi = (fmt_ci(r["pi_lower"], r["pi_upper"]) if math.isfinite(r["pi_lower"])
              else f"– ({r['pi_reason'] or 'not computed'})")
        rows.append({
            "comparison": r["comparison"], "outcome (headline pool)": r["outcome"],
            "k (studies)": f"{r['k']} ({r['trials']})", "participants": part,
            "effect (95% CI)": _effect_text(r), "prediction interval": pi,
            "absolute effect (per 1,000)": absolute,
            "I²": f"{fmt_i2(r['i2'])}%" if math.isfinite(r["i2"]) else "–",
            "reasons to be less certain (computed from the data)": "; ".join(r["reasons"]) or "none found",
            **{dom: r[dom] for dom in JUDGED_DOMAINS},
        })
    return pd.DataFrame(rows)


class FindingsView:
    """The summary-of-findings table as HTML (escaped), with a note on what is and is not judged."""

    def __init__(self, names=None, workbook=None):
        self.frame = findings(names, workbook)
        self.table = findings_table(frame=self.frame)

    def _repr_html_(self) -> str:
        """Two table rows per outcome, so that the table fits the text column: the numbers
        (outcome; studies and participants; effect with its model, PI and I²; absolute effect),
        then, across the row, the computed reasons to be less certain and the GRADE domains
        left to a reviewer ("not assessed")."""
        t = self.table
        esc = html.escape
        wrap = ' style="white-space:normal"'
        head = ("<th>Outcome</th><th>Studies<br>(participants)</th><th>Effect<br>(95% CI)</th>"
                "<th>Absolute effect<br>(per 1,000)</th>")
        body = []
        for (i, r), why in zip(t.iterrows(), self.frame["reasons"]):
            f = self.frame.loc[i]
            outcome = (f'<td style="white-space:normal;min-width:11em"><b>{esc(r["outcome (headline pool)"])}</b>'
                       f"<br><small>{esc(r['comparison'])}</small></td>")
            studies = (f"<td>k = {f['k']} ({f['trials']} stud{'ies' if f['trials'] != 1 else 'y'})<br>"
                       f"{esc(r['participants'])} participants</td>")
            ci = fmt_ci(f["ci_lower"], f["ci_upper"])
            model = f'<small>Model: <span class="glumeta-sof-model">{esc(f["model"])}</span></small>'
            effect = ('<td style="white-space:normal;min-width:12em">'
                      f"<b>{esc(f['measure'])} {esc(fmt(f['estimate']))}</b><br>({esc(ci)})"
                      f"<br><small>prediction interval: {esc(r['prediction interval'])}<br>"
                      f"I² {esc(r['I²'])}</small><hr style=\"margin:0.3em 0\">{model}</td>")
            if math.isfinite(f["control_risk"]):
                absolute = (f"<td>control: {fmt_per1000(f['control_risk'])}<br>with the intervention: "
                            f"{fmt_per1000(f['risk_intervention'])}<br><small>(95% CI {fmt_per1000(f['risk_lower'])} to "
                            f"{fmt_per1000(f['risk_upper'])})</small></td>")
            else:
                absolute = "<td>–<br><small>continuous outcome</small></td>"
            body.append(f'<tr class="glumeta-sof-outcome" data-analysis="{esc(f["file"])}:{esc(f["id"])}">'
                        f"{outcome}{studies}{effect}{absolute}</tr>")
            reasons_html = ("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in why) + "</ul>") if why else " none found."
            judged = "; ".join(f"{esc(dom)}: <i>{esc(r[dom])}</i>" for dom in JUDGED_DOMAINS)
            body.append(f'<tr class="glumeta-sof-why"><td colspan="4"{wrap}><b>Reasons to be less certain</b> '
                        f"(computed from the data):{reasons_html}<b>GRADE judgments</b> (they need a reviewer): "
                        f"{judged}.</td></tr>")
        return ('<div class="glumeta-table glumeta-sof"><table class="table"><thead><tr>' + head +
                "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")

    def __repr__(self) -> str:
        return f"<summary of findings: {len(self.table)} outcomes>"


def findings_html(names=None, workbook=None) -> FindingsView:
    """The summary-of-findings table (HTML in Jupyter and the in-process page): ``findings_html()``."""
    return FindingsView(names, workbook)
