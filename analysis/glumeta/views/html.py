"""What a page shows, as strings (views layer): HTML fragments and the texts glued into prose.

Every function here returns a ``str`` (or, for a figure, a :class:`FigureHTML`, whose
``_repr_html_()`` is the string); nothing imports IPython or myst-nb. Two callers share them:

* :mod:`glumeta.views.chapter`, the notebook layer, wraps them in IPython display objects and glues
  their texts (a chapter's code cells call ``Chapter`` methods);
* :mod:`glumeta.book.directives`, the pages the build renders in-process (summary, ledger, synthesis,
  environment), puts the strings into the page as raw HTML.

Every text is escaped (:func:`html.escape`): a label or a source is shown as text, never
interpreted as Markdown or HTML. Study-level and pooled CSV files are written by
:mod:`glumeta.views.export`; figures by :mod:`glumeta.views.forest` and :mod:`glumeta.views.figures`.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

from ..data.tables import is_missing
from ..stats.escalc import RATIO
from ..formatting import fmt, fmt_ci, fmt_i2, fmt_p
from ..stats.plan import analyze, is_main, on_display_scale
from ..data.workbook import current

__all__ = ["FigureHTML", "SynthesisView", "alt_text", "checks_html", "data_table_html", "display_numbers", "downloads_html",
           "eligibility_html", "frame_html", "full_label", "gaps_html", "ledger_html", "no_pi_reason", "no_rows_md",
           "pi_cell", "sensitivity_labels",
           "paged_forest", "pooled_texts", "robustness_html", "sensitivity_html", "skew_checks_html",
           "summary_table", "version_note_md", "LEDGER_FILTER_JS"]

#: The ledger's document and verdict filters (``ledger_html(filters=True)``): shows only the table
#: rows whose ``data-document`` and ``data-verdict`` match the two selects. Inline, so that the
#: ledger page needs no extra static file (every other page's ``<head>`` stays as it is).
LEDGER_FILTER_JS = (
    "(function(){function f(){var d=document.getElementById('ledger-doc').value,"
    "v=document.getElementById('ledger-verdict').value;document.querySelectorAll('#ledger-table tbody tr')"
    ".forEach(function(tr){tr.style.display=((!d||tr.dataset.document===d)&&(!v||tr.dataset.verdict===v))?'':'none';});}"
    "document.getElementById('ledger-doc').addEventListener('change',f);"
    "document.getElementById('ledger-verdict').addEventListener('change',f);})();")

#: Columns of an effect frame that :func:`data_table_html` leaves out by default (provenance and
#: working columns; the source is its own, linked, column).
HIDDEN_COLUMNS = ("file", "line", "measure", "sei", "source", "locator", "notes", "label", "vi_unsplit",
                  "representation")


# ---------------------------------------------------------------- small pieces
def safe_url(u) -> str | None:
    """*u* when it is an ``http(s)`` address that cannot break out of an attribute, else ``None``."""
    u = str(u).strip()
    return u if u.startswith(("https://", "http://")) and '"' not in u and "<" not in u else None


def wrap_attr(text: str, limit: int = 40) -> str:
    """The cell attribute that lets a long text cell wrap (CSS ``td.glumeta-wrap``); numbers never wrap."""
    return ' class="glumeta-wrap"' if len(text) > limit and " " in text else ""


def slug(name: str) -> str:
    """``"SE from the CI"`` → ``"se_from_the_ci"`` (a glue-safe key)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _cell(v, digits: int) -> str:
    """A table cell's text: a float to *digits* decimals (3 significant digits when smaller than
    ``10**-digits``) with a true minus sign; anything else as ``str``."""
    if not isinstance(v, float):
        return str(v)
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.3g}".replace("-", "−")
    return fmt(v, digits) if math.isfinite(v) else f"{v:.{digits}f}".replace("-", "−")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_E_NOTATION = re.compile(r"(?<![\w.])([-−]?\d+(?:\.\d+)?)[eE]([-+−]?)0*(\d+)\b")
_HYPHEN_MINUS = re.compile(r"(?<![\w.)\]])-(?=\.?\d)")


def display_numbers(text: str) -> str:
    """A computed text (a ledger check's worked numbers or explanation) in the book's number style
    (:mod:`glumeta.formatting`): a true minus sign (U+2212) for a hyphen-minus before a number, and
    powers of ten for e-notation (``1.5e-20`` → ``1.5×10⁻²⁰``). Words (``t-test``, ``k-2``) and
    ranges between numbers (``1-2``) are left alone.

    Examples
    --------
    >>> display_numbers("-0.28 to -0.01; p = 1.5e-20; 3.5e-02; t-test on k-2 df")
    '−0.28 to −0.01; p = 1.5×10⁻²⁰; 3.5×10⁻²; t-test on k-2 df'
    """
    def power(m):
        sign = "-" if m.group(2) in ("-", "−") else ""
        return f"{m.group(1)}×10{(sign + m.group(3)).translate(_SUPERSCRIPT)}"

    return _HYPHEN_MINUS.sub("−", _E_NOTATION.sub(power, str(text)))


def frame_html(df, digits: int = 3) -> str:
    """Any DataFrame as an escaped HTML table (floats to *digits* decimals, see :func:`_cell`)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            s = _cell(r[c], digits)
            cells.append(f"<td{wrap_attr(s)}>{html.escape(s)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<div class="glumeta-table"><table class="table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


# ---------------------------------------------------------------- a data file
def version_note_md(name: str, version: dict, table) -> str:
    """A one-line Markdown note: data version hash and row counts of the file *name* a page read."""
    n = version["rows"][name]
    done = int((table["status"] == "complete").sum())
    return (f"*Built from `data/{name}.csv`: data version `{version['hash']}`, {n} rows "
            f"({done} complete, {n - done} pending).*")


def data_table_html(table, columns: list[str] | None = None) -> str:
    """Every row of an effect frame (complete and pending) with its source link; all text escaped.
    The effect columns (``yi``, 95% CI) are always shown."""
    t = table
    cols = columns or [c for c in t.columns if c not in HIDDEN_COLUMNS and not c.endswith("_used")]
    cols = list(dict.fromkeys(list(cols) + ["yi", "ci_lower", "ci_upper"]))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols + ["source"])
    body = []
    for _, r in t.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                # the effect and its CI to 4 decimals, other numbers to 4 significant digits (a hyphen-minus)
                s = "" if math.isnan(v) else (f"{v:.4g}" if c not in ("yi", "vi", "ci_lower", "ci_upper")
                                              else f"{v:.4f}")
            else:
                s = "" if is_missing(v) else str(v)
            cells.append(f"<td{wrap_attr(s)}>{html.escape(s)}</td>")
        url = safe_url(r["source"])
        src = html.escape(str(r["source"]))
        loc = html.escape(str(r["locator"]))
        link = f'<a href="{html.escape(url)}" title="{loc}">{src[:60]}</a>' if url else f'<span title="{loc}">{src[:60]}</span>'
        cls = ' class="glumeta-pending"' if r["status"] == "pending" else ""
        body.append(f"<tr{cls}>{''.join(cells)}<td>{link}</td></tr>")
    return ('<div class="glumeta-table"><table class="table">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def gaps_html(pending) -> str:
    """The pending rows (data gaps) with their sources, as an escaped HTML list."""
    if pending.empty:
        return "<p>No data gaps: every row is complete.</p>"
    items = []
    for _, r in pending.iterrows():
        url = safe_url(r["source"])
        src = (f'<a href="{html.escape(url)}">source</a>' if url else html.escape(str(r["source"])))
        items.append(f"<li>{html.escape(str(r['label']))} — {src}</li>")
    return f'<ul class="glumeta-gaps">{"".join(items)}</ul>'


def downloads_html(slug_: str, name: str, figure_paths: dict, results: Path, pooled: Path) -> str:
    """Links to a figure's files (*figure_paths*, by extension), the data file *name* and the
    results and pooled CSV files, as seen from a page in ``book/`` (the build copies
    ``_build/figures`` and ``data/`` into the HTML output)."""
    links = [f'<a href="../figures/{slug_}/{p.name}" download>{ext.upper()}</a>' for ext, p in figure_paths.items()]
    links.append(f'<a href="../data/{name}.csv" download>data (CSV)</a>')
    links.append(f'<a href="../figures/{slug_}/{results.name}" download>study results (CSV)</a>')
    links.append(f'<a href="../figures/{slug_}/{pooled.name}" download>pooled results (CSV)</a>')
    return '<p class="glumeta-downloads">Download: ' + " · ".join(links) + "</p>"


def _condition(r: dict) -> str:
    return (f"one of {', '.join(map(str, r['in']))}" if "in" in r else
            f"matching “{r['matches']}”" if "matches" in r else f"equal to {r.get('equals')}")


def sensitivity_labels(plan: dict, levels=()) -> list[str]:
    """The labels of the declared sensitivity pools of *plan*, their templates filled
    (:func:`glumeta.stats.escalc.label_format`) the way :func:`glumeta.stats.plan.analyze` fills them:
    with the ``measure`` and, when the headline is per level of a column (``overall.per``), once
    for each of *levels* (duplicates dropped).

    Examples
    --------
    >>> plan = {"measure": "RR", "overall": {"per": "outcome"}, "eligibility": {"sensitivity": [
    ...     {"id": "any", "label": "{outcome:capitalize}, any schedule ({measure})"}]}}
    >>> sensitivity_labels(plan, ["response", "remission"])
    ['Response, any schedule (RR)', 'Remission, any schedule (RR)']
    """
    from ..stats.escalc import label_format

    per = plan.get("overall", {}).get("per")
    base = {"measure": plan.get("measure", "")}
    levels = [lv for lv in levels if not is_missing(lv)]
    contexts = [dict(base, **{per: lv}) for lv in levels] if per and levels else [base]
    out = []
    for x in plan.get("eligibility", {}).get("sensitivity", []):
        template = x.get("label", x["id"])
        for ctx in contexts:
            try:
                out.append(label_format(template, ctx))
            except (KeyError, IndexError, ValueError):  # a field the plan cannot fill: the pool's id
                out.append(x["id"])
    return list(dict.fromkeys(out))


def eligibility_html(plan: dict, require=(), levels=()) -> str:
    """PICO and primary-pool rules of an analysis plan (``glumeta:analysis``) as an HTML list; *require*
    are the checks every row that is not excluded must pass (``fits_review_question`` in ``glumeta:rules``);
    *levels* the values of the column the headline is pooled per (``overall.per``), which fill the
    sensitivity pools' label templates (:func:`sensitivity_labels`)."""
    el = plan.get("eligibility", {})
    items = [f"<li><b>{k.capitalize()}:</b> {html.escape(str(el[k]))}</li>"
             for k in ("population", "intervention", "comparator", "outcome", "design") if el.get(k)]
    req = "".join(f"<li><code>{html.escape(str(r['column']))}</code> {html.escape(_condition(r))} "
                  f"({html.escape(r.get('reason', ''))})</li>" for r in require)
    rules = []
    for r in el.get("primary", []):
        cond = _condition(r)
        rules.append(f"<li><code>{html.escape(str(r.get('column')))}</code> {html.escape(cond)} "
                     f"(otherwise: {html.escape(r.get('reason', ''))})</li>")
    if el.get("skewed") == "exclude":
        rules.append("<li>no median/IQR → mean/SD conversion whose summary fails the skewness test of "
                     "Shi et al. (2023); such rows are shown and pooled only in a sensitivity analysis</li>")
    rules.append("<li>at most one comparison per trial, unless the comparisons are parallel arms sharing one "
                 "control group, which is then split (Cochrane Handbook §23.3.4)</li>")
    sens = "".join(f"<li>{html.escape(lab)}</li>" for lab in sensitivity_labels(plan, levels))
    return ('<div class="glumeta-eligibility"><p><b>Review question</b></p><ul>' + "".join(items) + "</ul>"
            + (f"<p><b>Every row that is not excluded must have</b> (<code>glumeta check</code> refuses it "
               f"otherwise)</p><ul>{req}</ul>" if req else "")
            + "<p><b>The headline pool admits rows with</b></p><ul>" + "".join(rules) + "</ul>"
            + (f"<p><b>Sensitivity analyses</b> (besides the z-test)</p><ul>{sens}</ul>" if sens else "")
            + "</div>")


def skew_checks_html(table) -> str:
    """Every median/IQR → mean/SD conversion of an effect frame with its skewness test (Shi et al.
    2023), per arm, and a computed sentence when the conversion reverses the direction the medians show."""
    import pandas as pd

    t = table
    if "skew_t1" not in t:
        return "<p>No median/IQR conversions in this file.</p>"
    rows, words = [], []
    for _, r in t[t["skew_t1"].notna() | t["skew_t2"].notna()].iterrows():
        for k in (1, 2):
            if pd.isna(r.get(f"skew_t{k}")):
                continue
            rows.append({"study": r["study"], "arm": k, "n": r[f"n_arm{k}"], "q1": r[f"q1_arm{k}"],
                         "median": r[f"median_arm{k}"], "q3": r[f"q3_arm{k}"],
                         "converted mean": r[f"mean{k}_used"], "converted SD": r[f"sd{k}_used"],
                         "|q1 + q3 − 2·median| / IQR": r[f"skew_t{k}"], "critical value": r[f"skew_crit{k}"],
                         "skewed": "yes" if r[f"skew_t{k}"] >= r[f"skew_crit{k}"] else "no"})
        if all(pd.notna(r.get(c)) for c in ("median_arm1", "median_arm2", "mean1_used", "mean2_used")):
            dm = r["median_arm1"] - r["median_arm2"]
            dx = r["mean1_used"] - r["mean2_used"]
            if dm * dx < 0:
                words.append(f"{r['study']}: the medians put arm 1 {'higher' if dm > 0 else 'lower'} "
                             f"({fmt(r['median_arm1'], 1)} vs {fmt(r['median_arm2'], 1)}), the converted means "
                             f"put it {'higher' if dx > 0 else 'lower'} ({fmt(r['mean1_used'], 1)} vs "
                             f"{fmt(r['mean2_used'], 1)}): the conversion reverses the direction of the effect.")
    out = frame_html(pd.DataFrame(rows))
    if words:
        out += "".join(f'<p class="glumeta-robust">{html.escape(w)}</p>' for w in words)
    return out


# ---------------------------------------------------------------- pooled analyses
def pooled_texts(a, nd: int = 2) -> dict:
    """The pooled numbers of analysis *a* as the prose quotes them, by stable key (``est``, ``ci``,
    ``k``, ``ktext``, ``df``, ``p``, ``i2``, ``tau2``, ``pending``, ``model``, ``label``, ``abs``, ``dir``,
    ``excl``, ``pi``); ratio measures on the ratio scale. ``k`` is the number of comparisons; ``ktext``
    says what k counts (:attr:`glumeta.stats.models.PoolResult.k_text`: ``"k = 6 comparisons from 4
    trials"`` when dose arms share a control), and is what a page prints. ``None`` gives ``n/a`` for the keys a missing
    analysis can be asked for."""
    if a is None:  # e.g. every row of that outcome removed from the data
        return {k: "n/a" for k in ("est", "ci", "k", "ktext", "df", "p", "i2", "tau2", "pi", "pending", "model",
                                    "label")}
    d = a.display()
    null = 1 if a.measure in RATIO else 0
    return {
        "est": fmt(d["estimate"], nd), "ci": fmt_ci(d["ci_lower"], d["ci_upper"], nd), "k": str(a.k),
        # degrees of freedom of the test (k − 1 for HKSJ; "–" for a z-test or a single study)
        "df": str(int(a.df)) if getattr(a, "df", None) is not None and math.isfinite(a.df) and a.k > 1 else "–",
        "p": fmt_p(a.p, label=""), "i2": fmt_i2(a.i2) if a.k > 1 else "–",
        "tau2": fmt(a.tau2, 3), "pending": str(a.pending), "model": a.model, "label": a.label,
        "ktext": getattr(a, "k_text", f"k = {a.k}"),
        # words without double negatives: "4.31 points lower", not "lowered by −4.31"
        "abs": fmt(abs(d["estimate"]), nd), "dir": "lower" if d["estimate"] < 0 else "higher",
        "excl": "excludes" if (d["ci_lower"] > null or d["ci_upper"] < null) else "includes",
        "pi": (fmt_ci(d["pi_lower"], d["pi_upper"], nd) if _has_pi(d) else f"not computed ({no_pi_reason(a)})"),
    }


def _has_pi(d: dict) -> bool:
    """Does the display-scale dict *d* (:func:`glumeta.stats.plan.on_display_scale`) hold a prediction interval?"""
    lo = d.get("pi_lower")
    return lo is not None and math.isfinite(lo)


def no_pi_reason(a) -> str:
    """Why analysis *a* has no prediction interval, in words: the one rule every table and sentence
    of the book quotes (the summary, sensitivity and summary-of-findings tables, the pooled texts a
    chapter glues, the synthesis). The book's interval is t on k − 2 df (Higgins et al. 2009) and
    predicts a new *trial*'s effect, so it needs a random-effects pool of k ≥ 3 comparisons from at
    least 3 independent trials (:attr:`glumeta.stats.models.PoolResult.pi_defined`; the dose arms of
    one or two trials say nothing about the spread between trials).

    Reads ``a.k``, ``a.trials`` (``None``: every row taken for a trial), ``a.method`` and
    ``a.k_text``.

    Examples
    --------
    >>> from glumeta.stats.models import pool
    >>> no_pi_reason(pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], trials=1))
    'k = 3 comparisons from 1 trial; a prediction interval needs at least 3 trials'
    >>> no_pi_reason(pool([0.1, 0.3], [0.01, 0.02]))
    'k = 2; a prediction interval needs k ≥ 3'
    >>> no_pi_reason(pool([0.1], [0.01]))
    'a single study: nothing is pooled'
    """
    k = a.k
    trials = getattr(a, "trials", None)
    k_text = getattr(a, "k_text", f"k = {k}")
    if k == 1:
        return "a single study: nothing is pooled"
    if k < 3:
        return f"{k_text}; a prediction interval needs k ≥ 3"
    if trials is not None and trials < 3:
        return f"{k_text}; a prediction interval needs at least 3 trials"
    if getattr(a, "method", None) == "FE":
        return f"{k_text}; a common-effect model predicts no spread between trials"
    return k_text


def pi_cell(a, nd: int = 2) -> str:
    """A table cell for the prediction interval of analysis *a*: the interval, or ``– (<why not>)``
    (:func:`no_pi_reason`)."""
    d = on_display_scale(a)
    return fmt_ci(d["pi_lower"], d["pi_upper"], nd) if _has_pi(d) else f"– ({no_pi_reason(a)})"


def subgroup_texts(t) -> dict:
    """The between-subgroup test *t* as the prose quotes it: ``q``, ``df``, ``p`` (``n/a`` without one)."""
    return ({"q": fmt(t.q_between), "df": str(t.df), "p": fmt(t.p, 2)} if t else
            {"q": "n/a", "df": "n/a", "p": "n/a"})


def sensitivity_html(analyses, level: str | None = None) -> str:
    """The headline pool (``overall`` or ``overall:<level>``) next to its sensitivity analyses, one row each."""
    import pandas as pd

    by_id = {a.id: a for a in analyses}
    head = "overall" if level is None else f"overall:{level}"
    ids = [head] + [a.id for a in analyses if a.id.startswith("sensitivity:")
                    and (a.id.count(":") == 1 if level is None else a.id.endswith(f":{level}"))]
    rows = []
    for aid in ids:
        a = by_id.get(aid)
        if a is None:
            continue
        d = a.display()
        rows.append({"analysis": a.label, "k": a.k_text, "estimate": fmt(d["estimate"]),
                     "95% CI": fmt_ci(d["ci_lower"], d["ci_upper"]),
                     "prediction interval": pi_cell(a),
                     "p": fmt_p(a.p, label=""), "I² %": fmt_i2(a.i2) if a.k > 1 else "–",
                     "test": "– (single study)" if a.k == 1 else a.test})
    return frame_html(pd.DataFrame(rows))


def summary_table(names=None, workbook=None):
    """One row per data file's main analysis (or analyses), the pool and its effect with the 95% CI
    first: k (its ``k_text``: "k = 6 comparisons from 4 trials" when dose arms share a control),
    prediction interval (or why there is none,
    :func:`no_pi_reason`), I², pending rows (a DataFrame). *names* default to the tables of *workbook* (default: the current one) that have
    analyses and that the page declares."""
    import pandas as pd

    wb = workbook or current()  # in a book page: only the tables it declares
    names = names or [n for n in wb.analyses() if wb.declared is None or n in wb.declared]
    rows = []
    for name in names:
        for a in analyze(wb.dataset(name)):
            if not is_main(a.id):
                continue
            d = on_display_scale(a)
            one = a.k == 1  # a single study: not pooled, so no PI, I² or random-effects model
            # the pool and its effect first: a reader at 1280 px sees them without scrolling the table
            rows.append({"headline pool (endpoint)": a.label,
                         "effect (95% CI)": f"{a.measure} {fmt(d['estimate'])} ({fmt_ci(d['ci_lower'], d['ci_upper'])})",
                         "k": a.k_text, "prediction interval": pi_cell(a),
                         "p": fmt_p(a.p, label=""), "I² %": "–" if one else fmt_i2(a.i2),
                         "not pooled (other endpoint/design)": 0 if a.outside is None else len(a.outside),
                         "pending rows": a.pending, "data file": name, "model": a.model})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the ledger
def _short_doc(doc: str) -> str:
    """'004_49e5….txt' → 'seeds/004'; '../shared/sources/x.md' → 'sources/x.md'."""
    if doc.endswith(".txt") and doc[:3].isdigit():
        return f"seeds/{doc[:3]}"
    return doc.replace("../shared/", "")


def checks_html(checks: dict, check_ids) -> str:
    """The worked numbers of several ledger checks (*checks*: rows by ``check_id``) as one table,
    a row per check, the columns headed by the details' display labels."""
    import pandas as pd

    rows = [dict({k: display_numbers(v) if isinstance(v, str) else v for k, v in checks[c].details.items()},
                 verdict=checks[c].verdict) for c in check_ids]
    # a detail one check has and another lacks is shown as "–", never "nan"
    frame = pd.DataFrame(rows)
    return frame_html(frame.astype(object).where(frame.notna(), "–"))


def ledger_html(analysis: str | None = None, filters: bool = False, tables: dict | None = None,
                workbook=None) -> str:
    """Ledger rows as an HTML table with verdict badges; with *filters*, selects for document and verdict.
    *tables* may hold effect frames already computed (the chapter's), which the ledger then reuses."""
    from ..stats.ledger import findings, ledger, summary

    rows = ledger(workbook, analysis=analysis, tables=tables)
    counts = summary(rows)
    distinct = findings(rows)
    head = ["check", "quantity", "reported", "re-computed", "verdict", "quote → how it was checked"]
    body = []
    for r in rows:
        cls = "badge-" + r.verdict.replace(" ", "-")
        body.append(
            f'<tr data-document="{html.escape(r.document)}" data-verdict="{html.escape(r.verdict)}">'
            f"<td><code>{html.escape(r.check_id)}</code><br><small>{html.escape(_short_doc(r.document))}</small></td>"
            f"<td>{html.escape(r.quantity)}</td><td>{html.escape(r.reported)}</td><td>{html.escape(display_numbers(r.computed_text))}</td>"
            f'<td><span class="{cls}">{html.escape(r.verdict)}</span></td>'
            f"<td class='glumeta-wrap'><i>“{html.escape(r.quote)}”</i><br>{html.escape(display_numbers(r.explanation))}</td></tr>")
    summ = " · ".join(f'<span class="badge-{k.replace(" ", "-")}">{html.escape(k)}</span> {v}'
                      + (f" ({distinct[k]} finding{'s' if distinct[k] != 1 else ''})" if k == "discrepant" and distinct[k] != v else "")
                      for k, v in counts.items())
    controls = ""
    if filters:
        docs = sorted({r.document for r in rows})
        opt = lambda vals: "".join(f'<option value="{html.escape(v)}">{html.escape(_short_doc(v))}</option>' for v in vals)  # noqa: E731
        controls = (
            '<p class="glumeta-ledger-filters">Document <select id="ledger-doc"><option value="">all</option>'
            f'{opt(docs)}</select> Verdict <select id="ledger-verdict"><option value="">all</option>'
            f'{opt([k for k in counts])}</select></p>'
            f"<script>{LEDGER_FILTER_JS}</script>")
    table_id = ' id="ledger-table"' if filters else ""
    return (f'<p class="glumeta-ledger-summary">{summ}</p>{controls}<div class="glumeta-table">'
            f'<table class="table"{table_id}><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) +
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


# ---------------------------------------------------------------- figures
def no_rows_md(aid: str, name: str) -> str:
    """The Markdown shown instead of a forest plot when analysis *aid* of data file *name* has no rows."""
    return f"*No complete rows for this analysis (`{aid}`) in `data/{name}.csv`: nothing to plot.*"


def full_label(a, plan: dict | None = None, analyses=()) -> str:
    """The label of analysis *a* naming its outcome: a secondary analysis whose label leaves the
    outcome out (``"At day 28"``, ``"Including skew-flagged median/IQR conversions"``) gets the
    outcome of the plan's eligibility (its words before the first bracket, comma or semicolon) in
    front: ``"MADRS change from baseline, at day 28"``. A label that starts as a headline pool's
    label does (``"Response (OR)"`` beside ``"Response (RR)"``) is kept.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> plan = {"eligibility": {"outcome": "MADRS change from baseline (mean difference, points)"}}
    >>> main = NS(id="overall", label="MADRS change at 24 h (MD)")
    >>> full_label(NS(id="time:day 28", label="At day 28"), plan, [main])
    'MADRS change from baseline, at day 28'
    >>> full_label(main, plan, [main])
    'MADRS change at 24 h (MD)'
    """
    if plan is None or is_main(a.id):
        return a.label
    heads = {x.label.split()[0].lower() for x in analyses if is_main(x.id) and x.label.split()}
    words = a.label.split()
    if not words or words[0].lower() in heads:
        return a.label
    outcome = re.split(r"\s*[(;,]", str(plan.get("eligibility", {}).get("outcome", "")), maxsplit=1)[0].strip()
    if not outcome:
        return a.label
    return f"{outcome[:1].upper()}{outcome[1:]}, {a.label[:1].lower()}{a.label[1:]}"


def alt_text(a, label: str | None = None) -> str:
    """A forest plot's alt text: the pooled result of analysis *a* in words, under *label* (default:
    its own; a chapter passes :func:`full_label`, which names the outcome). Entries are separated by
    semicolons (a study label may hold commas)."""
    label = label or a.label
    d = on_display_scale(a)
    est, lo, hi = d["estimate"], d["ci_lower"], d["ci_upper"]
    labels = list(a.rows["label"])
    names = "; ".join(labels[:12]) + ("…" if len(labels) > 12 else "")
    out = getattr(a, "outside", None)
    beside = ""
    if out is not None and len(out):
        shown = list(dict.fromkeys(out["study"] if "study" in out else out["label"]))
        beside = f" Shown beside it, not pooled: {'; '.join(map(str, shown[:12]))}{'…' if len(shown) > 12 else ''}."
    if a.k == 1:
        return (f"Forest plot of {label}: one comparison ({names}), {a.measure} {fmt(est)} (95% CI {fmt_ci(lo, hi)}); "
                f"not pooled.{beside}")
    return (f"Forest plot of {label}: {a.k} comparisons ({names}); pooled {a.measure} "
            f"{fmt(est)} (95% CI {fmt_ci(lo, hi)}), I² {fmt_i2(a.i2)}%.{beside}")


def figure_name(stem: str, aid: str) -> str:
    """``figure_name("forest", "time:day 28")`` → ``"forest-time-day_28"`` (a file-safe figure name)."""
    return f"{stem}-{aid.replace(':', '-').replace(' ', '_')}"


def paged_forest(a, kw, slug_: str, name: str, alt: str) -> "FigureHTML":
    """A forest plot of analysis *a* saved as ``<name>.{svg,pdf,png}`` and shown as a figure. With more
    study rows than :data:`glumeta.views.forest.PAGE_ROWS`, the figure shown is the summary (pooled results,
    tests, and where each group's rows are) and the full plot is split into pages of at most that many
    rows, each saved as ``<name>-pNN.svg`` and linked under the figure, every row on exactly one page."""
    from .forest import PAGE_ROWS, forest_from_analysis, save_figure

    n_rows = a.k + (0 if getattr(a, "outside", None) is None else len(a.outside))
    if n_rows <= PAGE_ROWS:
        fig = forest_from_analysis(a, **kw)
        return FigureHTML(fig, alt, save_figure(fig, slug_, name).get("png"), slug=slug_)
    import matplotlib.pyplot as plt

    summary, pages = forest_from_analysis(a, rows_per_page=PAGE_ROWS, **kw)
    links = []
    for i, page in enumerate(pages, 1):
        p = save_figure(page, slug_, f"{name}-p{i:02d}", formats=("svg",))["svg"]
        plt.close(page)
        links.append(f'<a href="../figures/{slug_}/{p.name}" target="_blank" rel="noopener">{i}</a>')
    paths = save_figure(summary, slug_, name)
    note = (f'<p class="glumeta-forest-pages">{n_rows:,} rows: too many for one readable figure. Shown: the '
            f"pooled results. The full forest plot has every row once, on {len(pages)} pages of at most "
            f"{PAGE_ROWS} rows (SVG): page {' · '.join(links)}. Every row's numbers are also in the results "
            "CSV.</p>")
    return FigureHTML(summary, alt + f" The figure shows the pooled results; the {n_rows:,} rows are drawn on "
                                     f"{len(pages)} linked pages.", paths["png"], slug=slug_, after=note)


class FigureHTML:
    """A figure shown as a PNG with alt text (the pooled result in words), opening the vector figure
    on click. Built into the book (:attr:`glumeta.data.workbook.Workbook.in_book`), the PNG is a file linked from
    the page (``../figures/<slug>/<name>.png``, which the build copies into the HTML output); in plain
    Jupyter it is embedded, so the notebook shows it. ``_repr_html_()`` is the HTML (a string)."""

    def __init__(self, fig, alt: str, png_path=None, slug: str | None = None, after: str = ""):
        import io

        import matplotlib.pyplot as plt

        p = Path(png_path) if png_path is not None else None
        self.linked = p is not None and current().in_book
        if self.linked:
            self.png = None
            self.src = f"../figures/{slug or p.parent.name}/{p.name}"
        else:
            import base64

            if p is not None:  # reuse the PNG already written for download
                png = p.read_bytes()
            else:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
                png = buf.getvalue()
            self.png = png
            self.src = "data:image/png;base64," + base64.b64encode(png).decode()
        self.fig = fig
        self.paths = {ext: p.with_suffix(f".{ext}") for ext in ("svg", "pdf", "png")
                      if p is not None and p.with_suffix(f".{ext}").exists()}
        plt.close(fig)
        self.alt = alt
        self.after = after
        # click to enlarge: the vector figure beside the PNG (copied into the book's figures/ folder)
        self.full = (f"../figures/{slug or p.parent.name}/{p.with_suffix('.svg').name}"
                     if p is not None and p.with_suffix(".svg").exists() else None)

    def _repr_html_(self) -> str:
        img = (f'<img src="{html.escape(self.src)}" alt="{html.escape(self.alt)}" '
               f'title="Click to open the full-resolution figure" style="max-width:100%">')
        if self.full:
            img = f'<a href="{html.escape(self.full)}" target="_blank" rel="noopener">{img}</a>'
        return f'<figure class="glumeta-forest">{img}</figure>{self.after}'

    def __repr__(self) -> str:
        return f"<forest plot: {self.alt}>"


def _long_table(frame, estimate: float, slug_: str, name: str) -> str:
    """A refit table (leave-one-out) as HTML; with more rows than a readable table holds
    (:data:`glumeta.views.forest.PAGE_ROWS`), the rows that move the estimate most, and the full table as
    a linked CSV (``_build/figures/<slug>/<name>.csv``, :func:`glumeta.views.export.write_figure_csv`)."""
    from .export import write_figure_csv
    from .forest import PAGE_ROWS

    if len(frame) <= PAGE_ROWS:
        return frame_html(frame)
    fname = name.replace(":", "-").replace(" ", "_") + ".csv"
    write_figure_csv(frame, slug_, fname)
    top = frame.assign(_d=(frame["estimate"] - estimate).abs()).sort_values("_d", ascending=False, kind="stable")
    return (f"<p>{len(frame):,} refits; the {PAGE_ROWS // 5} that move the estimate most are shown. All: "
            f'<a href="../figures/{slug_}/{fname}" download>{html.escape(fname)}</a>.</p>'
            + frame_html(top.drop(columns="_d").head(PAGE_ROWS // 5)))


def robustness_html(a, aid: str, slug_: str, method: str, test: str, label: str | None = None) -> str:
    """Estimator grid, leave-one-out, cumulative and funnel for analysis *a* (id *aid*, ``None`` when
    it has no rows), each with a computed sentence saying what it shows; figures are saved under
    ``_build/figures/<slug>/``. Egger's test is run only with at least 10 independent trials (Sterne et
    al. 2011): the pool's :attr:`~glumeta.stats.models.PoolResult.trials`, else counted by ``study_id``
    (:func:`glumeta.stats.sensitivity.n_trials`): the dose arms of one trial are not independent studies."""
    from .forest import save_figure
    from ..stats.sensitivity import (EGGER_MIN_K, cumulative, describe_cumulative, describe_grid,
                                     describe_leave_one_out, egger, estimator_grid, leave_one_out, n_trials)

    if a is None:
        return f"<p><i>No complete rows for {html.escape(aid)}.</i></p>"
    label = label or a.label  # the figures' alt texts name it (a chapter passes full_label)
    rows = a.rows
    vi = rows["vi"]
    if a.k < 2:
        return f"<p>One comparison (k = {a.k}): no estimator grid, leave-one-out or cumulative analysis.</p>"
    grid = estimator_grid(rows["yi"], vi)
    shown = grid.assign(p=[fmt_p(p, label="") for p in grid["p"]])  # "< 0.001", not e-notation
    out = ["<p><b>Estimator grid</b> (τ² estimator × test)</p>", frame_html(shown),
           f'<p class="glumeta-robust">{html.escape(describe_grid(grid))}</p>']
    if len(rows) > 2:
        from .figures import estimate_path_plot, funnel_plot

        loo = leave_one_out(rows["yi"], vi, labels=rows["label"], method=method, test=test)
        cum = cumulative(rows["yi"], vi, rows["year"], labels=rows["label"], method=method, test=test)
        out += ["<p><b>Leave-one-out</b></p>", _long_table(loo, a.estimate, slug_, f"leave-one-out-{aid}")]
        trials = getattr(a, "trials", None)  # the pool's own count (PoolResult.trials) when it has one
        if trials is None:
            trials = n_trials(rows["study_id"]) if "study_id" in rows else a.k
        k_words = f"k = {a.k}" if trials == a.k else f"k = {a.k} comparisons from {trials} trials"
        eg = egger(rows["yi"], vi) if trials >= EGGER_MIN_K else None
        if eg is None:
            funnel_note = (f"No funnel-asymmetry test: Egger's test needs at least {EGGER_MIN_K} independent "
                           f"trials (Sterne et al. 2011); here {k_words}, so the plot is shown for inspection only.")
        else:
            funnel_note = (f"Egger's test ({k_words}): slope {fmt(eg['slope'])} (SE {fmt(eg['se'])}), "
                           f"t({eg['df']}) = {fmt(eg['t'])}, {fmt_p(eg['p'])}.")
        figs = [("funnel", funnel_plot(rows["yi"], vi, a.estimate, a.measure, "Funnel plot",
                                         egger_line=eg if eg is not None else False, trials=trials),
                 f"Funnel plot of {label}: each comparison's effect against its standard error, with the pseudo 95% region.",
                 funnel_note),
                ("leave-one-out", estimate_path_plot(loo, "omitted", a.measure, a, "Leave one out (omitted)"),
                 f"Leave-one-out estimates of {label}: the pooled estimate with each comparison left out in turn.",
                 describe_leave_one_out(loo, a)),
                ("cumulative", estimate_path_plot(cum, "added", a.measure, a, "Cumulative by year (added)"),
                 f"Cumulative meta-analysis of {label}: the pooled estimate as comparisons are added by year.",
                 describe_cumulative(cum))]
        for name, fig, alt, sentence in figs:
            paths = save_figure(fig, slug_, figure_name(name, aid), formats=("svg", "pdf", "png"))
            out.append(FigureHTML(fig, alt, paths["png"])._repr_html_())
            out.append(f'<p class="glumeta-robust">{html.escape(sentence)}</p>')
    return "".join(out)


# ---------------------------------------------------------------- the cross-drug synthesis
class SynthesisView:
    """The views of :func:`glumeta.stats.synthesis.synthesis` at the assumed r (or *r*), as HTML strings;
    figures are saved under ``_build/figures/<slug>/``."""

    def __init__(self, r: float | None = None, slug: str = "synthesis"):
        from ..stats.synthesis import R_ASSUMED, synthesis

        self.r = R_ASSUMED if r is None else r
        self.slug = slug
        self.result = synthesis(self.r)

    def rows_html(self) -> str:
        """Every 24 h contrast on the SMD scale, with its derivation."""
        rows = self.result["overall"].rows
        return frame_html(rows[["drug", "study", "comparison", "time", "design", "n_arm1", "n_arm2", "yi", "vi",
                                "ci_lower", "ci_upper", "derivation"]])

    def glue_texts(self) -> dict:
        """The texts the prose quotes, by glue name: ``syn_est/_ci/_k/_ktext`` (all drugs), ``syn0_*``,
        ``syn1_*``… (each drug, in the order of the result), ``syn_sg_p`` and ``syn_r``. ``_k`` is the
        number of comparisons, ``_ktext`` says what it counts (``"k = 6 comparisons from 4 trials"``)."""
        s = self.result
        drugs = [a for k, a in s.items() if k.startswith("drug:")]
        out = {}
        for key, a in [("syn", s["overall"])] + [(f"syn{i}", a) for i, a in enumerate(drugs)]:
            out[f"{key}_est"] = fmt(a.estimate)
            out[f"{key}_ci"] = fmt_ci(a.ci_lower, a.ci_upper)
            out[f"{key}_k"] = str(a.k)
            out[f"{key}_ktext"] = a.k_text
        out["syn_sg_p"] = fmt(s["subgroups:drug"].p)
        out["syn_r"] = f"{self.r:g}"
        return out

    def numbers_html(self) -> str:
        """The pooled results in a sentence: all drugs, each drug, and the between-drug test."""
        s = self.result
        o = s["overall"]
        drugs = "; ".join(f"{html.escape(a.label)} {fmt(a.estimate)} ({fmt_ci(a.ci_lower, a.ci_upper)}; {a.k_text})"
                          for k, a in s.items() if k.startswith("drug:"))
        het = (f"Heterogeneity: τ² = {fmt(o.tau2, 3)}, I² = {fmt_i2(o.i2)}%, Q = {fmt(o.q)} on {o.q_df} df "
               f"({fmt_p(o.q_p)}).")
        if o.tau2 == 0 and o.q > o.q_df:
            het += (" REML puts τ² at its boundary, 0, although Q exceeds its degrees of freedom: with this few "
                    "comparisons the restricted likelihood is flat near 0, so τ² = 0 means 'not estimable "
                    "from these data', not 'no heterogeneity' (the Q-profile CI for τ² is "
                    f"{fmt_ci(o.tau2_ci[0], o.tau2_ci[1], 3)}).")
        return (f"<p>With r = {self.r:g}, the pooled SMD at 24 h is <b>{fmt(o.estimate)}</b> (95% CI "
                f"{fmt_ci(o.ci_lower, o.ci_upper)}; {o.k_text}; {html.escape(o.model)}). By drug: {drugs}. Test for a "
                f"difference between drugs: p = {fmt(s['subgroups:drug'].p)}. {html.escape(het)}</p>")

    def forest(self) -> FigureHTML:
        """Forest plot of the synthesis, grouped by drug; saved and shown like a chapter's."""
        from .forest import columns_of
        from ..stats.synthesis import DRUGS

        s = self.result
        # paged like a chapter's forest plot when it has more rows than a readable figure holds
        kw = dict(columns=columns_of(next(iter(DRUGS))), group_by="drug", analyses=list(s.values()),
                  favours=("Favours drug", "Favours control"),
                  xlabel=f"Standardised mean difference at 24 h (Hedges' g; crossover r = {self.r:g})")
        return paged_forest(s["overall"], kw, self.slug, f"forest-synthesis-r{self.r:g}", alt_text(s["overall"]))

    def r_sensitivity_html(self) -> str:
        """Pooled SMD against the assumed r (seaborn figure, saved) and the table at a few values of r."""
        from .figures import r_sensitivity_plot
        from .forest import save_figure
        from ..stats.sensitivity import describe_r_sensitivity
        from ..stats.synthesis import R_SHOWN, r_sensitivity

        sens = r_sensitivity()
        fig = r_sensitivity_plot(sens)
        paths = save_figure(fig, self.slug, "r-sensitivity", formats=("svg", "pdf", "png"))
        img = FigureHTML(fig, "Pooled SMD at 24 h against the assumed within-patient correlation r, "
                              "overall and by drug.", paths["png"])
        shown = sens[sens["r"].round(6).isin([round(x, 6) for x in R_SHOWN])]
        words = "".join(f'<li>{html.escape(describe_r_sensitivity(sens, lab))}</li>'
                        for lab in dict.fromkeys(sens["analysis"]))
        return img._repr_html_() + f'<ul class="glumeta-robust">{words}</ul>' + frame_html(shown)
