"""Chapter helpers (notebook layer): the short calls a chapter's code cells make.

Chapters stay thin: they call :class:`Chapter` (one data file) and :class:`Synthesis` (the
cross-drug synthesis). This module is only the notebook's side of them:

* it computes what a page is about once (the effect frame of :func:`glumeta.stats.escalc.escalc`, the
  analyses of :func:`glumeta.stats.plan.analyze`, the chapter's ledger rows);
* it wraps the HTML of :mod:`glumeta.views.html` (plain functions returning strings, shared with the
  directives of :mod:`glumeta.book.directives`) in IPython display objects;
* it glues numbers into the prose (``myst_nb.glue``) under stable names (:data:`DETAIL_IDS` for the worked
  numbers of a ledger check), never under a display label;
* the downloads (results and pooled CSV) are written by :mod:`glumeta.views.export`.

No statistics are defined here, and every view of a row (forest plot, data table, results CSV)
shows the same effect and CI, from the one frame.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from . import html as views
from ..stats.escalc import escalc
from ..formatting import fmt, fmt_ci
from ..stats.models import DEFAULT_TEST
from ..stats.plan import analyze
from .html import (FigureHTML, SynthesisView, eligibility_html, frame_html, ledger_html,  # noqa: F401 (re-exported)
                    summary_table)
from ..data.workbook import resolve

__all__ = ["DETAIL_IDS", "Chapter", "FigureHTML", "PooledSummaries", "PooledSummary", "Synthesis", "detail_id", "eligibility_html", "fmt", "fmt_ci",
           "ledger_html", "summary_table", "synthesis_forest", "table"]


#: The stable glue ids of the worked numbers of a ledger check (the ``details`` of a
#: :class:`glumeta.stats.ledger.LedgerRow`, keyed by display label), by id: the label each is shown
#: under, ``{}`` standing for a part that varies with the data (``"p (t, {} df)"``). A chapter
#: quotes ``{glue:text}`<prefix>_<id>``` (:meth:`Chapter.glue_check`), so a display label can be
#: renamed in the ledger by renaming it here, without touching the prose. Earlier templates win
#: (``"d ({} split evenly, {})"`` before ``"d ({})"``); a label matching none is glued under its
#: snake-case form (:func:`glumeta.views.html.slug`) and is not a stable name to quote
#: (``tests/test_chapter_glue.py`` checks that every label the ledger gives has an id here).
DETAIL_IDS: dict[str, str] = {
    # a p-value from a printed estimate and CI (or mean difference and SE)
    "se_from_the_ci": "SE from the CI",
    "se_from_the_ci_scale": "SE from the CI ({} scale)",
    "se_from_the_ci_width": "SE from the CI width",
    "se": "SE",
    "se_log_hr": "SE(log HR)",
    "z": "z",
    "z_estimate": "z (estimate)",
    "z_ci_centre": "z (CI centre)",
    "p": "p",
    "p_z": "p (z)",
    "p_z_test": "p (z-test)",
    "p_t": "p (t, {} df)",
    "p_estimate": "p (estimate)",
    "p_ci_centre": "p (CI centre)",
    "p_range_rounding": "p range (rounding)",
    "difference": "difference",
    "95_ci": "95% CI",
    "95_ci_sorted": "95% CI (sorted)",
    "estimate": "estimate",
    "ci_centre": "CI centre",
    "ci_centre_scale": "CI centre ({} scale)",
    "contains_the_estimate": "contains the estimate",
    "hr": "HR",
    "quantity": "quantity",
    "reported": "reported",
    # an effect size from a least-squares difference
    "time": "time",
    "ls_diff": "LS diff",
    "reported_es": "reported ES",
    "split": "split",
    "d_even_split": "d ({} split evenly, {})",
    "d": "d ({})",
    "g": "g ({})",
    # a crossover's paired odds ratio
    "discordant_pairs_reproducing_it": "discordant pairs reproducing it",
    "or_with_0_5_added": "OR with 0.5 added",
    "mcnemar_exact_p": "McNemar exact p",
    "unpaired_rr": "unpaired RR",
    # I² without Q
    "q_implied": "Q implied",
    "df": "df",
    # a time phrase
    "phrase": "phrase",
    "rates_quoted_under_it": "rates quoted under it",
    "time_of_those_rates": "time of those rates",
    "window_of_the_improvement_report": "window of the improvement (report)",
    # the tests of a 2 × 2 table
    "outcome": "outcome",
    "pearson": "Pearson χ²",
    "fisher_exact": "Fisher exact",
    "yates_corrected": "Yates-corrected χ²",
    "smallest_expected_count": "smallest expected count",
    # a published pool against the book's
    "rows": "rows",
    "k_book": "k (book)",
    "k_published": "k (published)",
    "trials_pooled": "trials pooled",
    "left_out": "left out",
    "the_book_s_pool_reml_modified_hksj": "the book's pool (REML τ², modified HKSJ)",
    "reml_z_test": "REML τ², z-test",
    "dersimonian_laird_z_test": "DerSimonian–Laird τ², z-test",
    "data_file": "data file",
    "measure": "measure",
    "event_columns": "event columns",
    # the trials a publication could have pooled
    "candidate_trials": "candidate trials",
    "with_numbers": "with numbers",
    "published_after_the_search": "published after the search",
    "analysed_n": "analysed n",
    "candidate_rows": "candidate rows",
    "papers_by_citation": "papers (by citation)",
    "source_addresses": "source addresses",
}

_TEMPLATES = [(re.compile(".+".join(map(re.escape, label.split("{}"))), re.S), gid) for gid, label in DETAIL_IDS.items()]


def detail_id(label: str) -> str | None:
    """The stable glue id (:data:`DETAIL_IDS`) of a ledger detail shown under *label*, or ``None``.

    >>> detail_id("Pearson χ²"), detail_id("p (t, 19 df)"), detail_id("d (40 split evenly, 20/20)")
    ('pearson', 'p_t', 'd_even_split')
    >>> detail_id("a label the ledger never gives") is None
    True
    """
    return next((gid for rx, gid in _TEMPLATES if rx.fullmatch(label)), None)


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

        return Markdown(views.version_note_md(self.name, self.version(), self.table))

    def pending(self):
        return self.table[self.table["status"] == "pending"]

    def pending_for(self, aid: str):
        """The pending rows that would enter analysis *aid* once their numbers are found: its outcome
        (``overall:<level>``) and, for a main analysis, its declared eligibility rules."""
        from ..stats.eligibility import SKEW_RULE, evaluate, rules_of

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
        elif aid.count(":") == 1 and aid.split(":")[0] in p.columns:
            # a pool of one level of a column (time:day 28, population:…): its level's pending rows
            col, level = aid.split(":")
            p = p[p[col].astype(str) == level]
        return p

    def data_table(self, columns: list[str] | None = None):
        """HTML table of every row (complete and pending) with source links; all text escaped
        (:func:`glumeta.views.html.data_table_html`). The effect columns (``yi``, 95% CI) are always shown,
        from the effect frame."""
        from IPython.display import HTML

        return HTML(views.data_table_html(self.table, columns))

    def gaps(self):
        """List of pending rows (data gaps) with their sources, as escaped HTML
        (a label is shown as text, never interpreted as Markdown or HTML)."""
        from IPython.display import HTML

        return HTML(views.gaps_html(self.pending()))

    # ---------------------------------------------------------------- figures
    def forest(self, aid: str = "overall", *, group_by: str | None = None, fig_name: str | None = None,
               favours=("Favours arm 1", "Favours arm 2"), xlabel=None, title=None, sort="entered",
               show_pending: bool = True):
        """Draw, display and save a forest plot; writes SVG/PDF/PNG under ``_build/figures``."""
        from IPython.display import Markdown

        from .forest import columns_of

        a = self.by_id.get(aid)
        if a is None:
            self.last_figure_paths = {}
            return Markdown(views.no_rows_md(aid, self.name))
        kw = dict(columns=columns_of(self.dataset), group_by=group_by, analyses=self.analyses,
                  pending=self.pending_for(aid) if show_pending else None, favours=favours,
                  xlabel=xlabel, title=title, sort=sort)
        name = fig_name or views.figure_name("forest", aid)
        alt = views.alt_text(a, views.full_label(a, self.plan, self.analyses)) + (f" Grouped by {group_by}." if group_by else "")
        out = views.paged_forest(a, kw, self.slug, name, alt)
        self.last_figure_paths, self.last_figure = out.paths, out.fig
        return out

    def downloads(self):
        """Links to the last figure's SVG, PDF and PNG, to the data file and to the study and pooled
        results (written now, :meth:`export_results`, :meth:`export_pooled`)."""
        from IPython.display import HTML

        # glumeta.book.sphinxext copies _build/figures and data/ into the HTML output,
        # so from a page in book/ these paths resolve on any static server.
        paths = getattr(self, "last_figure_paths", {})
        return HTML(views.downloads_html(self.slug, self.name, paths, self.export_results(), self.export_pooled()))

    def export_results(self):
        """Write the study-level effect sizes to ``_build/figures/<slug>/<name>-results.csv``
        (:func:`glumeta.views.export.write_results`; formula-injection safe)."""
        from .export import write_results

        return write_results(self.dataset, self.analyses, self.slug)

    def export_pooled(self):
        """Write every pooled analysis of the page (:func:`glumeta.views.export.pooled_frame`) to
        ``_build/figures/<slug>/<name>-pooled.csv``."""
        from .export import write_pooled

        return write_pooled(self.name, self.analyses, self.slug)

    # ---------------------------------------------------------------- numbers
    def glue_analysis(self, aid: str, prefix: str, nd: int = 2):
        """Glue the pooled numbers of analysis *aid* as ``<prefix>_est``, ``_ci``, ``_p``, ``_k``, ``_ktext``,
        ``_i2``, ``_tau2`` (and the other keys of :func:`glumeta.views.html.pooled_texts`). ``_k`` is the
        number of comparisons; prose that says what k counts quotes ``_ktext`` ("k = 6 comparisons from
        4 trials", or "k = 2" when every comparison is its own trial).

        Ratio measures are glued on the ratio scale.
        """
        a = self.by_id.get(aid)
        vals = views.pooled_texts(a, nd)
        _glue_all(prefix, vals)
        return vals if a is None else PooledSummary(vals, a.measure)

    @staticmethod
    def summaries(*pooled):
        """Several :class:`PooledSummary` objects (from :meth:`glue_analysis`) as one cell output, a
        line each, so that every pooled number a chapter's prose quotes is visible when the chapter
        is re-run in Jupyter (a glued value alone is not shown there)."""
        return PooledSummaries(pooled)

    def eligibility(self):
        """The review question (PICO) and the headline pool's rules, from the schema (HTML)."""
        from IPython.display import HTML

        from ..data.rules import declared

        req = declared(self.dataset.schema).get("fits_review_question", {}).get("require", [])
        per = self.plan.get("overall", {}).get("per")
        levels = list(dict.fromkeys(self.table[per])) if per and per in self.table else []
        return HTML(eligibility_html(self.plan, req, levels))

    @property
    def plan(self) -> dict:
        return self.dataset.analysis_plan()

    def sensitivity_table(self, level: str | None = None):
        """The headline pool next to its sensitivity analyses (z-test, relaxed rules), one row each (HTML)."""
        from IPython.display import HTML

        return HTML(views.sensitivity_html(self.analyses, level))

    def skew_checks(self):
        """Every median/IQR → mean/SD conversion with its skewness test (Shi et al. 2023), per arm,
        and a computed sentence when the conversion reverses the direction the medians show (HTML)."""
        from IPython.display import HTML

        return HTML(views.skew_checks_html(self.table))

    def glue_subgroup_test(self, column: str, prefix: str):
        """Glue ``<prefix>_q``, ``_df``, ``_p`` of the between-subgroup test (``n/a`` with one subgroup)."""
        vals = views.subgroup_texts(self.by_id.get(f"subgroups:{column}"))
        _glue_all(prefix, vals)
        return vals

    # ---------------------------------------------------------------- reported numbers
    def checks(self, ids=()) -> dict:
        """Ledger rows (:func:`glumeta.stats.ledger.ledger`) by ``check_id``, each computed once per chapter
        with this chapter's effect frame (a check may read only the tables the page declares)."""
        from ..stats.ledger import ledger, ledger_table

        cache = self.__dict__.setdefault("_checks", {})
        missing = [c for c in ids if c not in cache]
        if missing:
            cache.update({r.check_id: r for r in ledger(self.dataset.workbook, tables={self.name: self.table}, ids=missing)})
            unknown = [c for c in missing if c not in cache]
            if unknown:
                raise KeyError(f"no such check in data/{ledger_table()}.csv: {', '.join(unknown)}")
        return cache

    def glue_check(self, check_id: str, prefix: str) -> dict:
        """Glue the worked numbers of one ledger check as ``<prefix>_<id>``, *id* the detail's stable
        glue id (:data:`DETAIL_IDS`: ``"SE from the CI"`` → ``se_from_the_ci``, ``"p (t, 19 df)"`` →
        ``p_t``), plus ``<prefix>_verdict``. Every number comes from ``data/reported.csv`` and
        ``data/`` through the ledger."""
        row = self.checks([check_id])[check_id]
        # in the book's number style (true minus, no e-notation), as the checks table shows them
        vals = {detail_id(k) or views.slug(k): views.display_numbers(v) if isinstance(v, str) else v
                for k, v in row.details.items()}
        vals["verdict"] = row.verdict
        _glue_all(prefix, vals)
        return vals

    def checks_table(self, check_ids):
        """The worked numbers of several ledger checks as one HTML table (a row per check)."""
        from IPython.display import HTML

        return HTML(views.checks_html(self.checks(check_ids), check_ids))

    def ledger(self):
        """This chapter's rows of the reproducibility ledger."""
        from IPython.display import HTML

        return HTML(ledger_html(self.name, tables={self.name: self.table}))

    def robustness(self, aid: str = "overall"):
        """Estimator grid, leave-one-out, cumulative and funnel for analysis *aid*, each with a computed
        sentence saying what it shows (HTML). Egger's test is run only with k ≥ 10 (Sterne et al. 2011)."""
        from IPython.display import HTML

        a = self.by_id.get(aid)
        label = None if a is None else views.full_label(a, self.plan, self.analyses)
        return HTML(views.robustness_html(a, aid, self.slug, self.method, self.test, label))


class Synthesis(SynthesisView):
    """The synthesis chapter's views of :func:`glumeta.stats.synthesis.synthesis` at the assumed r, for a
    notebook (IPython display objects; the HTML strings are :class:`glumeta.views.html.SynthesisView`'s)."""

    def rows_table(self):
        """Every 24 h contrast on the SMD scale, with its derivation."""
        from IPython.display import HTML

        return HTML(self.rows_html())

    def glue(self) -> None:
        """Glue ``syn_est/_ci/_k/_ktext`` (all drugs), ``syn0_*``, ``syn1_*``… (each drug), ``syn_sg_p`` and ``syn_r``."""
        for name, v in self.glue_texts().items():
            _glue(name, v)

    def r_sensitivity(self):
        """Pooled SMD against the assumed r (seaborn figure, saved) and the table at a few values of r."""
        from IPython.display import HTML

        return HTML(self.r_sensitivity_html())


def synthesis_forest(r: float | None = None, slug: str = "synthesis"):
    """Forest plot of the cross-drug synthesis at *r* (default: the assumed r)."""
    return Synthesis(r, slug).forest()


def table(df, digits: int = 3):
    """Any DataFrame as an escaped HTML table (floats to *digits* decimals; :func:`glumeta.views.html.frame_html`)."""
    from IPython.display import HTML

    return HTML(frame_html(df, digits))


# ---------------------------------------------------------------- glue
class PooledSummary(dict):
    """The glued numbers of one pooled analysis (a dict), shown in Jupyter as one line of text, so
    that a reader re-running a chapter sees the numbers the prose quotes as the cell's output."""

    def __init__(self, vals: dict, measure: str):
        super().__init__(vals)
        self.measure = measure

    def text(self) -> str:
        """One line: estimate, CI, prediction interval, k (as ``ktext``: "k = 6 comparisons from 4 trials"
        when dose arms share a control), p, I² and the model (the result's ``model``).
        A single study (k = 1) is not pooled: no prediction interval, I² or τ² is printed, and it is
        never called a random-effects model (the ``model`` of :func:`glumeta.views.html.pooled_texts`)."""
        v = self
        k_text = v.get("ktext") or f"k = {v['k']}"
        if v["k"] == "1":
            return (f"{v['label']}: {self.measure} {v['est']} (95% CI {v['ci']}); {k_text}; p {v['p']}. "
                    f"Model: {v['model']}.")
        pi = f"prediction interval {v['pi']}"
        return (f"{v['label']}: {self.measure} {v['est']} (95% CI {v['ci']}); {pi}; {k_text}; "
                f"p {v['p']}; I² = {v['i2']}%. Model: {v['model']}.")

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return f'<p class="glumeta-pooled">{html.escape(self.text())}</p>'


class PooledSummaries(tuple):
    """Several :class:`PooledSummary` lines as one cell output (:meth:`Chapter.summaries`): one line
    each in text, one paragraph each in HTML (never a Python tuple)."""

    def __repr__(self) -> str:
        return "\n".join(s.text() if isinstance(s, PooledSummary) else str(s) for s in self)

    def _repr_html_(self) -> str:
        return "".join(s._repr_html_() if isinstance(s, PooledSummary) else f"<p>{html.escape(str(s))}</p>"
                       for s in self)


class _Text:
    """A glued value shown as plain text (no quotes), e.g. ``{glue:text}`esk_est```."""

    def __init__(self, s: str):
        self.s = s

    def __repr__(self) -> str:
        return self.s

    def _repr_html_(self) -> str:
        return html.escape(self.s)


def _glue(name: str, text: str) -> None:
    """Glue *text* as ``name`` for ``{glue:text}`name``` (shown as plain text, not displayed here)."""
    from myst_nb import glue

    glue(name, _Text(text), display=False)


def _glue_all(prefix: str, vals: dict) -> None:
    for k, v in vals.items():
        _glue(f"{prefix}_{k}", v)
