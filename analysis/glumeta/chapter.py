"""Chapter helpers (presentation layer): the short calls a chapter makes.

Chapters stay thin: they call these functions, which take the effect frame of
:func:`glumeta.escalc.escalc` and the analyses of :func:`glumeta.plan.analyze`,
draw with :mod:`glumeta.forest`, and ``glue`` numbers into the prose. No
statistics are defined here, and every view of a row (forest plot, data table,
results CSV) shows the same effect and CI, from the one frame.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

from .data import is_missing
from .escalc import escalc
from .escalc import RATIO
from .formatting import fmt, fmt_ci, fmt_p
from .models import DEFAULT_TEST
from .plan import analyze, is_main, on_display_scale
from .workbook import current, resolve

__all__ = ["Chapter", "Synthesis", "fmt", "fmt_ci", "ledger_html", "summary_table", "table"]


def _safe_url(u: str) -> str | None:
    u = str(u).strip()
    return u if u.startswith(("https://", "http://")) and '"' not in u and "<" not in u else None


@dataclass
class Chapter:
    """Everything a chapter shows for one data file.

    Examples
    --------
    ``ch = Chapter("esketamine_madrs", "esketamine")``, then ``ch.forest()``,
    ``ch.data_table()``, ``ch.glue_analysis("overall", "esk")``.
    """

    name: str
    slug: str
    method: str = "REML"
    test: str = DEFAULT_TEST

    def __post_init__(self):
        #: the Dataset the chapter shows (*name* may be one, or a table name of the current workbook)
        self.dataset = resolve(self.name)
        self.name = self.dataset.name
        self.table = escalc(self.dataset)
        self.analyses = analyze(self.dataset, method=self.method, test=self.test)
        self.by_id = {a.id: a for a in self.analyses}

    # ---------------------------------------------------------------- data
    def version(self) -> dict:
        return self.dataset.workbook.version([self.name])

    def version_note(self):
        """A one-line note: data version hash and row counts of the file the page read."""
        from IPython.display import Markdown

        v = self.version()
        n = v["rows"][self.name]
        done = int((self.table["status"] == "complete").sum())
        return Markdown(f"*Built from `data/{self.name}.csv`: data version `{v['hash']}`, {n} rows "
                        f"({done} complete, {n - done} pending).*")

    def pending(self):
        return self.table[self.table["status"] == "pending"]

    def pending_for(self, aid: str):
        """The pending rows that would enter analysis *aid* once their numbers are found: its outcome
        (``overall:<level>``) and, for a main analysis, its declared eligibility rules."""
        from .eligibility import SKEW_RULE, evaluate, rules_of

        p = self.pending()
        plan = self.plan
        per = plan.get("overall", {}).get("per")
        if per and ":" in aid:
            level = aid.split(":")[-1]
            if level in set(p[per]):
                p = p[p[per] == level]
        if aid == "overall" or aid.startswith("overall:"):
            ok, _ = evaluate(p, rules_of(plan), relax={SKEW_RULE})
            p = p[ok]
        return p

    def data_table(self, columns: list[str] | None = None):
        """HTML table of every row (complete and pending) with source links; all text escaped.

        The effect columns (``yi``, 95% CI) are always shown, from the effect frame."""
        from IPython.display import HTML

        t = self.table
        cols = columns or [c for c in t.columns if c not in ("file", "line", "measure", "sei", "source", "locator",
                                                                "notes", "label", "vi_unsplit", "representation")
                           and not c.endswith("_used")]
        cols = list(dict.fromkeys(list(cols) + ["yi", "ci_lower", "ci_upper"]))
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols + ["source"])
        body = []
        for _, r in t.iterrows():
            cells = []
            for c in cols:
                v = r[c]
                if isinstance(v, float):
                    s = "" if math.isnan(v) else (f"{v:.4g}" if c not in ("yi", "vi", "ci_lower", "ci_upper")
                                                  else f"{v:.4f}")
                else:
                    s = "" if is_missing(v) else str(v)
                cells.append(f"<td{_wrap(s)}>{html.escape(s)}</td>")
            url = _safe_url(r["source"])
            src = html.escape(str(r["source"]))
            loc = html.escape(str(r["locator"]))
            link = f'<a href="{html.escape(url)}" title="{loc}">{src[:60]}</a>' if url else f'<span title="{loc}">{src[:60]}</span>'
            cls = ' class="glumeta-pending"' if r["status"] == "pending" else ""
            body.append(f"<tr{cls}>{''.join(cells)}<td>{link}</td></tr>")
        return HTML('<div class="glumeta-table"><table class="table">'
                    f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")

    def gaps(self):
        """List of pending rows (data gaps) with their sources, as escaped HTML
        (a label is shown as text, never interpreted as Markdown or HTML)."""
        from IPython.display import HTML

        p = self.pending()
        if p.empty:
            return HTML("<p>No data gaps: every row is complete.</p>")
        items = []
        for _, r in p.iterrows():
            url = _safe_url(r["source"])
            src = (f'<a href="{html.escape(url)}">source</a>' if url else html.escape(str(r["source"])))
            items.append(f"<li>{html.escape(str(r['label']))} — {src}</li>")
        return HTML(f'<ul class="glumeta-gaps">{"".join(items)}</ul>')

    # ---------------------------------------------------------------- figures
    def forest(self, aid: str = "overall", *, group_by: str | None = None, fig_name: str | None = None,
               favours=("Favours arm 1", "Favours arm 2"), xlabel=None, title=None, sort="entered",
               show_pending: bool = True):
        """Draw, display and save a forest plot; writes SVG/PDF/PNG under ``_build/figures``."""
        from IPython.display import Markdown

        from .forest import columns_of, forest_from_analysis

        a = self.by_id.get(aid)
        if a is None:
            self.last_figure_paths = {}
            return Markdown(f"*No complete rows for this analysis (`{aid}`) in `data/{self.name}.csv`: nothing to plot.*")
        kw = dict(columns=columns_of(self.dataset), group_by=group_by, analyses=self.analyses,
                  pending=self.pending_for(aid) if show_pending else None, favours=favours,
                  xlabel=xlabel, title=title, sort=sort)
        name = fig_name or f"forest-{aid.replace(':', '-').replace(' ', '_')}"
        alt = _alt_text(a) + (f" Grouped by {group_by}." if group_by else "")
        out = _paged_forest(a, kw, self.slug, name, alt)
        self.last_figure_paths, self.last_figure = out.paths, out.fig
        return out

    def downloads(self):
        """Links to the last figure's SVG, PDF and PNG and to the data file."""
        from IPython.display import HTML

        # glumeta.sphinxext copies _build/figures and data/ into the HTML output,
        # so from a page in book/ these paths resolve on any static server.
        paths = getattr(self, "last_figure_paths", {})
        links = [f'<a href="../figures/{self.slug}/{p.name}" download>{ext.upper()}</a>' for ext, p in paths.items()]
        links.append(f'<a href="../data/{self.name}.csv" download>data (CSV)</a>')
        res = self.export_results()
        links.append(f'<a href="../figures/{self.slug}/{res.name}" download>study results (CSV)</a>')
        pooled = self.export_pooled()
        links.append(f'<a href="../figures/{self.slug}/{pooled.name}" download>pooled results (CSV)</a>')
        return HTML('<p class="glumeta-downloads">Download: ' + " · ".join(links) + "</p>")

    def export_results(self):
        """Write the study-level effect sizes to ``_build/figures/<slug>/<name>-results.csv``
        (formula-injection safe, see :func:`glumeta.export.to_safe_csv`)."""
        from .escalc import escalc_all
        from .export import results_frame, to_safe_csv
        from .forest import save_dir

        path = save_dir(self.slug) / f"{self.name}-results.csv"
        to_safe_csv(results_frame(escalc_all(self.dataset), self.analyses), path)
        return path

    def export_pooled(self):
        """Write every pooled analysis of the page (:func:`glumeta.export.pooled_frame`) to
        ``_build/figures/<slug>/<name>-pooled.csv``."""
        from .export import pooled_frame, to_safe_csv
        from .forest import save_dir

        path = save_dir(self.slug) / f"{self.name}-pooled.csv"
        to_safe_csv(pooled_frame(self.analyses), path)
        return path

    # ---------------------------------------------------------------- numbers
    def glue_analysis(self, aid: str, prefix: str, nd: int = 2):
        """Glue the pooled numbers of analysis *aid* as ``<prefix>_est``, ``_ci``, ``_p``, ``_k``, ``_i2``, ``_tau2``.

        Ratio measures are glued on the ratio scale.
        """
        from myst_nb import glue

        a = self.by_id.get(aid)
        if a is None:  # e.g. every row of that outcome removed from the data
            vals = {k: "n/a" for k in ("est", "ci", "k", "p", "i2", "tau2", "pi", "pending", "model", "label")}
            for k, v in vals.items():
                glue(f"{prefix}_{k}", _Text(v), display=False)
            return vals
        d = a.display()
        vals = {
            "est": fmt(d["estimate"], nd), "ci": fmt_ci(d["ci_lower"], d["ci_upper"], nd), "k": str(a.k),
            "p": fmt_p(a.p, label=""), "i2": _i2(a.i2),
            "tau2": fmt(a.tau2, 3), "pending": str(a.pending), "model": a.model, "label": a.label,
            # words without double negatives: "4.31 points lower", not "lowered by −4.31"
            "abs": fmt(abs(d["estimate"]), nd), "dir": "lower" if d["estimate"] < 0 else "higher",
            "excl": "excludes" if (d["ci_lower"] > (1 if a.measure in RATIO else 0)
                                   or d["ci_upper"] < (1 if a.measure in RATIO else 0)) else "includes",
            "pi": (fmt_ci(d["pi_lower"], d["pi_upper"], nd) if d["pi_lower"] is not None
                   else f"not computed (k = {a.k}; a prediction interval needs k ≥ 3)"),
        }
        for k, v in vals.items():
            glue(f"{prefix}_{k}", _Text(v), display=False)
        return PooledSummary(vals, a.measure)

    def eligibility(self):
        """The review question (PICO) and the headline pool's rules, from the schema (HTML)."""
        from IPython.display import HTML

        from .rules import declared

        req = declared(self.dataset.schema).get("fits_review_question", {}).get("require", [])
        return HTML(eligibility_html(self.plan, req))

    @property
    def plan(self) -> dict:

        return self.dataset.analysis_plan()

    def sensitivity_table(self, level: str | None = None):
        """The headline pool next to its sensitivity analyses (z-test, relaxed rules), one row each (HTML)."""
        from IPython.display import HTML

        head = "overall" if level is None else f"overall:{level}"
        ids = [head] + [a.id for a in self.analyses if a.id.startswith("sensitivity:")
                        and (a.id.count(":") == 1 if level is None else a.id.endswith(f":{level}"))]
        rows = []
        for aid in ids:
            a = self.by_id.get(aid)
            if a is None:
                continue
            d = a.display()
            rows.append({"analysis": a.label, "k": a.k, "estimate": fmt(d["estimate"]),
                         "95% CI": fmt_ci(d["ci_lower"], d["ci_upper"]),
                         "prediction interval": fmt_ci(d["pi_lower"], d["pi_upper"]) if d["pi_lower"] is not None else "– (k < 3)",
                         "p": fmt_p(a.p, label=""), "I² %": _i2(a.i2) if a.k > 1 else "–",
                         "test": a.test})
        import pandas as pd

        return HTML(_html_frame(pd.DataFrame(rows)))

    def skew_checks(self):
        """Every median/IQR → mean/SD conversion with its skewness test (Shi et al. 2023), per arm,
        and a computed sentence when the conversion reverses the direction the medians show (HTML)."""
        import pandas as pd
        from IPython.display import HTML

        t = self.table
        if "skew_t1" not in t:
            return HTML("<p>No median/IQR conversions in this file.</p>")
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
        out = _html_frame(pd.DataFrame(rows))
        if words:
            out += "".join(f'<p class="glumeta-robust">{html.escape(w)}</p>' for w in words)
        return HTML(out)

    def glue_subgroup_test(self, column: str, prefix: str):
        """Glue ``<prefix>_q``, ``_df``, ``_p`` of the between-subgroup test (``n/a`` with one subgroup)."""
        from myst_nb import glue

        t = self.by_id.get(f"subgroups:{column}")
        vals = ({"q": fmt(t.q_between), "df": str(t.df), "p": fmt(t.p, 2)} if t else
                {"q": "n/a", "df": "n/a", "p": "n/a"})
        for k, v in vals.items():
            glue(f"{prefix}_{k}", _Text(v), display=False)
        return vals

    # ---------------------------------------------------------------- reported numbers
    def checks(self, ids=()) -> dict:
        """Ledger rows (:func:`glumeta.ledger.ledger`) by ``check_id``, each computed once per chapter
        with this chapter's effect frame (a check may read only the tables the page declares)."""
        from .ledger import ledger, ledger_table

        cache = self.__dict__.setdefault("_checks", {})
        missing = [c for c in ids if c not in cache]
        if missing:
            cache.update({r.check_id: r for r in ledger(self.dataset.workbook, tables={self.name: self.table}, ids=missing)})
            unknown = [c for c in missing if c not in cache]
            if unknown:
                raise KeyError(f"no such check in data/{ledger_table()}.csv: {', '.join(unknown)}")
        return cache

    def glue_check(self, check_id: str, prefix: str) -> dict:
        """Glue the worked numbers of one ledger check as ``<prefix>_<detail>`` (detail names in
        snake case: ``"SE from the CI"`` → ``se_from_the_ci``), plus ``<prefix>_verdict``.
        Every number comes from ``data/reported.csv`` and ``data/`` through the ledger."""
        from myst_nb import glue

        row = self.checks([check_id])[check_id]
        vals = {_slug(k): v for k, v in row.details.items()}
        vals["verdict"] = row.verdict
        for k, v in vals.items():
            glue(f"{prefix}_{k}", _Text(v), display=False)
        return vals

    def checks_table(self, check_ids):
        """The worked numbers of several ledger checks as one HTML table (a row per check)."""
        import pandas as pd
        from IPython.display import HTML

        checks = self.checks(check_ids)
        rows = [dict(checks[c].details, verdict=checks[c].verdict) for c in check_ids]
        return HTML(_html_frame(pd.DataFrame(rows)))

    def ledger(self):
        """This chapter's rows of the reproducibility ledger."""
        from IPython.display import HTML

        return HTML(ledger_html(self.name, tables={self.name: self.table}))

    def robustness(self, aid: str = "overall"):
        """Estimator grid, leave-one-out, cumulative and funnel for analysis *aid*, each with a computed
        sentence saying what it shows (HTML). Egger's test is run only with k ≥ 10 (Sterne et al. 2011)."""
        from IPython.display import HTML

        from .forest import save_figure
        from .sensitivity import (EGGER_MIN_K, cumulative, describe_cumulative, describe_grid,
                                  describe_leave_one_out, egger, estimator_grid, leave_one_out)

        if aid not in self.by_id:
            return HTML(f"<p><i>No complete rows for {html.escape(aid)}.</i></p>")
        a = self.by_id[aid]
        rows = a.rows
        vi = rows["vi"]
        if a.k < 2:
            return HTML(f"<p>One comparison (k = {a.k}): no estimator grid, leave-one-out or cumulative analysis.</p>")
        grid = estimator_grid(rows["yi"], vi)
        out = ["<p><b>Estimator grid</b> (τ² estimator × test)</p>", _html_frame(grid),
               f'<p class="glumeta-robust">{html.escape(describe_grid(grid))}</p>']
        if len(rows) > 2:
            from .figures import estimate_path_plot, funnel_plot

            loo = leave_one_out(rows["yi"], vi, labels=rows["label"], method=self.method, test=self.test)
            cum = cumulative(rows["yi"], vi, rows["year"], labels=rows["label"], method=self.method, test=self.test)
            out += ["<p><b>Leave-one-out</b></p>", _long_table(loo, a.estimate, self.slug, f"leave-one-out-{aid}")]
            eg = egger(rows["yi"], vi) if a.k >= EGGER_MIN_K else None
            if eg is None:
                funnel_note = (f"No funnel-asymmetry test: Egger's test needs at least {EGGER_MIN_K} studies "
                               f"(Sterne et al. 2011); here k = {a.k}, so the plot is shown for inspection only.")
            else:
                funnel_note = (f"Egger's test (k = {a.k}): slope {fmt(eg['slope'])} (SE {fmt(eg['se'])}), "
                               f"t({eg['df']}) = {fmt(eg['t'])}, {fmt_p(eg['p'])}.")
            figs = [("funnel", funnel_plot(rows["yi"], vi, a.estimate, a.measure, "Funnel plot", egger_line=eg is not None),
                     f"Funnel plot of {a.label}: each comparison's effect against its standard error, with the pseudo 95% region.",
                     funnel_note),
                    ("leave-one-out", estimate_path_plot(loo, "omitted", a.measure, a, "Leave one out (omitted)"),
                     f"Leave-one-out estimates of {a.label}: the pooled estimate with each comparison left out in turn.",
                     describe_leave_one_out(loo, a)),
                    ("cumulative", estimate_path_plot(cum, "added", a.measure, a, "Cumulative by year (added)"),
                     f"Cumulative meta-analysis of {a.label}: the pooled estimate as comparisons are added by year.",
                     describe_cumulative(cum))]
            for name, fig, alt, sentence in figs:
                paths = save_figure(fig, self.slug, f"{name}-{aid.replace(':', '-').replace(' ', '_')}", formats=("svg", "pdf", "png"))
                out.append(_FigureHTML(fig, alt, paths["png"])._repr_html_())
                out.append(f'<p class="glumeta-robust">{html.escape(sentence)}</p>')
        return HTML("".join(out))


class Synthesis:
    """The synthesis chapter's views of :func:`glumeta.synthesis.synthesis` at the assumed r."""

    def __init__(self, r: float | None = None, slug: str = "synthesis"):
        from .synthesis import R_ASSUMED, synthesis

        self.r = R_ASSUMED if r is None else r
        self.slug = slug
        self.result = synthesis(self.r)

    def rows_table(self):
        """Every 24 h contrast on the SMD scale, with its derivation."""
        rows = self.result["overall"].rows
        return table(rows[["drug", "study", "comparison", "time", "design", "n_arm1", "n_arm2", "yi", "vi",
                           "ci_lower", "ci_upper", "derivation"]])

    def glue(self) -> None:
        """Glue ``syn_est/_ci/_k`` (all drugs), ``syn0_*``, ``syn1_*``… (each drug), ``syn_sg_p`` and ``syn_r``."""
        from myst_nb import glue

        s = self.result
        drugs = [a for k, a in s.items() if k.startswith("drug:")]
        for key, a in [("syn", s["overall"])] + [(f"syn{i}", a) for i, a in enumerate(drugs)]:
            glue(f"{key}_est", _Text(fmt(a.estimate)), display=False)
            glue(f"{key}_ci", _Text(fmt_ci(a.ci_lower, a.ci_upper)), display=False)
            glue(f"{key}_k", _Text(str(a.k)), display=False)
        glue("syn_sg_p", _Text(fmt(s["subgroups:drug"].p)), display=False)
        glue("syn_r", _Text(f"{self.r:g}"), display=False)

    def numbers_html(self) -> str:
        """The pooled results in a sentence: all drugs, each drug, and the between-drug test."""
        s = self.result
        o = s["overall"]
        drugs = "; ".join(f"{html.escape(a.label)} {fmt(a.estimate)} ({fmt_ci(a.ci_lower, a.ci_upper)}; k = {a.k})"
                          for k, a in s.items() if k.startswith("drug:"))
        het = (f"Heterogeneity: τ² = {fmt(o.tau2, 3)}, I² = {_i2(o.i2)}%, Q = {fmt(o.q)} on {o.q_df} df "
               f"({fmt_p(o.q_p)}).")
        if o.tau2 == 0 and o.q > o.q_df:
            het += (" REML puts τ² at its boundary, 0, although Q exceeds its degrees of freedom: with this few "
                    "comparisons the restricted likelihood is flat near 0, so τ² = 0 means 'not estimable "
                    "from these data', not 'no heterogeneity' (the Q-profile CI for τ² is "
                    f"{fmt_ci(o.tau2_ci[0], o.tau2_ci[1], 3)}).")
        return (f"<p>With r = {self.r:g}, the pooled SMD at 24 h is <b>{fmt(o.estimate)}</b> (95% CI "
                f"{fmt_ci(o.ci_lower, o.ci_upper)}; k = {o.k}; {html.escape(o.model)}). By drug: {drugs}. Test for a "
                f"difference between drugs: p = {fmt(s['subgroups:drug'].p)}. {html.escape(het)}</p>")

    def forest(self):
        """Forest plot of the synthesis, grouped by drug; saved and shown like a chapter's."""
        from .forest import columns_of
        from .synthesis import DRUGS

        s = self.result
        # paged like a chapter's forest plot when it has more rows than a readable figure holds
        kw = dict(columns=columns_of(next(iter(DRUGS))), group_by="drug", analyses=list(s.values()),
                  favours=("Favours drug", "Favours control"),
                  xlabel=f"Standardised mean difference at 24 h (Hedges' g; crossover r = {self.r:g})")
        return _paged_forest(s["overall"], kw, self.slug, f"forest-synthesis-r{self.r:g}", _alt_text(s["overall"]))

    def r_sensitivity(self):
        """Pooled SMD against the assumed r (seaborn figure, saved) and the table at a few values of r."""
        from IPython.display import HTML

        from .figures import r_sensitivity_plot
        from .forest import save_figure
        from .synthesis import R_SHOWN, r_sensitivity

        sens = r_sensitivity()
        fig = r_sensitivity_plot(sens)
        paths = save_figure(fig, self.slug, "r-sensitivity", formats=("svg", "pdf", "png"))
        img = _FigureHTML(fig, "Pooled SMD at 24 h against the assumed within-patient correlation r, "
                               "overall and by drug.", paths["png"])
        from .sensitivity import describe_r_sensitivity

        shown = sens[sens["r"].round(6).isin([round(x, 6) for x in R_SHOWN])]
        words = "".join(f'<li>{html.escape(describe_r_sensitivity(sens, lab))}</li>'
                        for lab in dict.fromkeys(sens["analysis"]))
        return HTML(img._repr_html_() + f'<ul class="glumeta-robust">{words}</ul>' + _html_frame(shown))


def synthesis_forest(r: float | None = None, slug: str = "synthesis"):
    """Forest plot of the cross-drug synthesis at *r* (default: the assumed r)."""
    return Synthesis(r, slug).forest()


def _short_doc(doc: str) -> str:
    """'004_49e5….txt' → 'seeds/004'; '../shared/sources/x.md' → 'sources/x.md'."""
    if doc.endswith(".txt") and doc[:3].isdigit():
        return f"seeds/{doc[:3]}"
    return doc.replace("../shared/", "")


def ledger_html(analysis: str | None = None, filters: bool = False, tables: dict | None = None) -> str:
    """Ledger rows as an HTML table with verdict badges; with *filters*, selects for document and verdict.
    *tables* may hold effect frames already computed (the chapter's), which the ledger then reuses."""
    from .ledger import findings, ledger, summary

    rows = ledger(analysis=analysis, tables=tables)
    counts = summary(rows)
    distinct = findings(rows)
    head = ["check", "quantity", "reported", "re-computed", "verdict", "quote → how it was checked"]
    body = []
    for r in rows:
        cls = "badge-" + r.verdict.replace(" ", "-")
        body.append(
            f'<tr data-document="{html.escape(r.document)}" data-verdict="{html.escape(r.verdict)}">'
            f"<td><code>{html.escape(r.check_id)}</code><br><small>{html.escape(_short_doc(r.document))}</small></td>"
            f"<td>{html.escape(r.quantity)}</td><td>{html.escape(r.reported)}</td><td>{html.escape(r.computed_text)}</td>"
            f'<td><span class="{cls}">{html.escape(r.verdict)}</span></td>'
            f"<td class='glumeta-wrap'><i>“{html.escape(r.quote)}”</i><br>{html.escape(r.explanation)}</td></tr>")
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
            "<script>(function(){function f(){var d=document.getElementById('ledger-doc').value,"
            "v=document.getElementById('ledger-verdict').value;document.querySelectorAll('#ledger-table tbody tr')"
            ".forEach(function(tr){tr.style.display=((!d||tr.dataset.document===d)&&(!v||tr.dataset.verdict===v))?'':'none';});}"
            "document.getElementById('ledger-doc').addEventListener('change',f);"
            "document.getElementById('ledger-verdict').addEventListener('change',f);})();</script>")
    table_id = ' id="ledger-table"' if filters else ""
    return (f'<p class="glumeta-ledger-summary">{summ}</p>{controls}<div class="glumeta-table">'
            f'<table class="table"{table_id}><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) +
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def summary_table(names=None):
    """One row per data file's main analysis (or analyses): k, estimate, CI, I², pending rows."""
    import pandas as pd

    wb = current()  # in a book page: only the tables it declares
    names = names or [n for n in wb.analyses() if wb.declared is None or n in wb.declared]
    rows = []
    for name in names:
        for a in analyze(wb.dataset(name)):
            if not is_main(a.id):
                continue
            d = on_display_scale(a)
            rows.append({"data file": name, "headline pool (endpoint)": a.label, "measure": a.measure, "k": a.k,
                         "estimate": fmt(d["estimate"]), "95% CI": fmt_ci(d["ci_lower"], d["ci_upper"]),
                         "prediction interval": (fmt_ci(d["pi_lower"], d["pi_upper"]) if d["pi_lower"] is not None
                                                 else "– (k < 3)"),
                         "p": fmt_p(a.p, label=""), "I² %": _i2(a.i2),
                         "not pooled (other endpoint/design)": 0 if a.outside is None else len(a.outside),
                         "pending rows": a.pending, "model": a.model})
    return pd.DataFrame(rows)


def _condition(r: dict) -> str:
    return (f"one of {', '.join(map(str, r['in']))}" if "in" in r else
            f"matching “{r['matches']}”" if "matches" in r else f"equal to {r.get('equals')}")


def eligibility_html(plan: dict, require=()) -> str:
    """PICO and primary-pool rules of an analysis plan (``glumeta:analysis``) as an HTML list; *require*
    are the checks every row that is not excluded must pass (``fits_review_question`` in ``glumeta:rules``)."""
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
    sens = "".join(f"<li>{html.escape(x.get('label', x['id']))}</li>" for x in el.get("sensitivity", []))
    return ('<div class="glumeta-eligibility"><p><b>Review question</b></p><ul>' + "".join(items) + "</ul>"
            + (f"<p><b>Every row that is not excluded must have</b> (<code>glumeta check</code> refuses it "
               f"otherwise)</p><ul>{req}</ul>" if req else "")
            + "<p><b>The headline pool admits rows with</b></p><ul>" + "".join(rules) + "</ul>"
            + (f"<p><b>Sensitivity analyses</b> (besides the z-test)</p><ul>{sens}</ul>" if sens else "")
            + "</div>")


def _wrap(text: str, limit: int = 40) -> str:
    """The cell attribute that lets a long text cell wrap (CSS ``td.glumeta-wrap``); numbers never wrap."""
    return ' class="glumeta-wrap"' if len(text) > limit and " " in text else ""


def _slug(name: str) -> str:
    """``"SE from the CI"`` → ``"se_from_the_ci"`` (a glue-safe key)."""
    import re

    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _i2(i2) -> str:
    return fmt(i2, 0) if i2 is not None and math.isfinite(i2) else "–"


def _alt_text(a) -> str:
    d = on_display_scale(a)
    est, lo, hi = d["estimate"], d["ci_lower"], d["ci_upper"]
    labels = list(a.rows["label"])
    names = ", ".join(labels[:12]) + ("…" if len(labels) > 12 else "")
    out = getattr(a, "outside", None)
    beside = ""
    if out is not None and len(out):
        shown = list(dict.fromkeys(out["study"] if "study" in out else out["label"]))
        beside = f" Shown beside it, not pooled: {', '.join(map(str, shown[:12]))}{'…' if len(shown) > 12 else ''}."
    if a.k == 1:
        return (f"Forest plot of {a.label}: one comparison ({names}), {a.measure} {fmt(est)} (95% CI {fmt_ci(lo, hi)}); "
                f"not pooled.{beside}")
    return (f"Forest plot of {a.label}: {a.k} comparisons ({names}); pooled {a.measure} "
            f"{fmt(est)} (95% CI {fmt_ci(lo, hi)}), I² {_i2(a.i2)}%.{beside}")


def _long_table(frame, estimate: float, slug: str, name: str) -> str:
    """A refit table (leave-one-out) as HTML; with more rows than a readable table holds
    (:data:`glumeta.forest.PAGE_ROWS`), the rows that move the estimate most, and the full table as
    a linked CSV (``_build/figures/<slug>/<name>.csv``)."""
    from .export import to_safe_csv
    from .forest import PAGE_ROWS, save_dir

    if len(frame) <= PAGE_ROWS:
        return _html_frame(frame)
    fname = name.replace(":", "-").replace(" ", "_") + ".csv"
    to_safe_csv(frame, save_dir(slug) / fname)
    top = frame.assign(_d=(frame["estimate"] - estimate).abs()).sort_values("_d", ascending=False, kind="stable")
    return (f"<p>{len(frame):,} refits; the {PAGE_ROWS // 5} that move the estimate most are shown. All: "
            f'<a href="../figures/{slug}/{fname}" download>{html.escape(fname)}</a>.</p>'
            + _html_frame(top.drop(columns="_d").head(PAGE_ROWS // 5)))


def _paged_forest(a, kw, slug: str, name: str, alt: str) -> "_FigureHTML":
    """A forest plot of analysis *a* saved as ``<name>.{svg,pdf,png}`` and shown as a figure. With more
    study rows than :data:`glumeta.forest.PAGE_ROWS`, the figure shown is the summary (pooled results,
    tests, and where each group's rows are) and the full plot is split into pages of at most that many
    rows, each saved as ``<name>-pNN.svg`` and linked under the figure, every row on exactly one page."""
    from .forest import PAGE_ROWS, forest_from_analysis, save_figure

    n_rows = a.k + (0 if getattr(a, "outside", None) is None else len(a.outside))
    if n_rows <= PAGE_ROWS:
        fig = forest_from_analysis(a, **kw)
        return _FigureHTML(fig, alt, save_figure(fig, slug, name).get("png"), slug=slug)
    import matplotlib.pyplot as plt

    summary, pages = forest_from_analysis(a, rows_per_page=PAGE_ROWS, **kw)
    links = []
    for i, page in enumerate(pages, 1):
        p = save_figure(page, slug, f"{name}-p{i:02d}", formats=("svg",))["svg"]
        plt.close(page)
        links.append(f'<a href="../figures/{slug}/{p.name}" target="_blank" rel="noopener">{i}</a>')
    paths = save_figure(summary, slug, name)
    note = (f'<p class="glumeta-forest-pages">{n_rows:,} rows: too many for one readable figure. Shown: the '
            f"pooled results. The full forest plot has every row once, on {len(pages)} pages of at most "
            f"{PAGE_ROWS} rows (SVG): page {' · '.join(links)}. Every row's numbers are also in the results "
            "CSV.</p>")
    return _FigureHTML(summary, alt + f" The figure shows the pooled results; the {n_rows:,} rows are drawn on "
                                      f"{len(pages)} linked pages.", paths["png"], slug=slug, after=note)


class _FigureHTML:
    """A figure shown as a PNG with alt text (the pooled result in words), opening the vector figure
    on click. Built into the book (:attr:`glumeta.workbook.Workbook.in_book`), the PNG is a file linked from
    the page (``../figures/<slug>/<name>.png``, which the build copies into the HTML output); in plain
    Jupyter it is embedded, so the notebook shows it."""

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


class PooledSummary(dict):
    """The glued numbers of one pooled analysis (a dict), shown in Jupyter as one line of text, so
    that a reader re-running a chapter sees the numbers the prose quotes as the cell's output."""

    def __init__(self, vals: dict, measure: str):
        super().__init__(vals)
        self.measure = measure

    def text(self) -> str:
        v = self
        pi = f"prediction interval {v['pi']}"
        return (f"{v['label']}: {self.measure} {v['est']} (95% CI {v['ci']}); {pi}; k = {v['k']}; "
                f"p {v['p']}; I² = {v['i2']}%. Model: {v['model']}.")

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return f'<p class="glumeta-pooled">{html.escape(self.text())}</p>'


class _Text:
    """A glued value shown as plain text (no quotes), e.g. ``{glue:text}`esk_est```."""

    def __init__(self, s: str):
        self.s = s

    def __repr__(self) -> str:
        return self.s

    def _repr_html_(self) -> str:
        return html.escape(self.s)


def table(df, digits: int = 3):
    """Any DataFrame as an escaped HTML table (floats to *digits* decimals)."""
    from IPython.display import HTML

    return HTML(_html_frame(df, digits))


def _html_frame(df, digits: int = 3) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            if isinstance(v, float):
                s = f"{v:.3g}" if (v != 0 and abs(v) < 10 ** -digits) else f"{v:.{digits}f}"
            else:
                s = str(v)
            cells.append(f"<td{_wrap(s)}>{html.escape(s.replace('-', '−') if isinstance(v, float) else s)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<div class="glumeta-table"><table class="table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
