"""In-process Sphinx directives for the pages that only *show* results: the introduction's
summary, the ledger, the cross-drug synthesis, the data dictionary and the environment.

Why directives and not notebooks: each notebook page pays a kernel start and the
imports of pandas, matplotlib and glumeta (about 1.5 s) before its first line of
analysis. These pages run no code a reader would edit; they call the same
``glumeta`` functions from the Sphinx process that is already running, where the
effect frames are cached per data file (:func:`glumeta.stats.escalc.escalc`). A CSV edit
therefore re-executes the one chapter that reads it and re-renders these pages
in-process. Their HTML is that of :mod:`glumeta.views.html` (plain functions returning
strings), which a notebook chapter shows through :mod:`glumeta.views.chapter`. They are still declared dependents of their data
(``glumeta: data:`` in the front matter, :mod:`glumeta.book.sphinxext`), and a page
that reads an undeclared table still fails.

Usage in MyST::

    ```{glumeta-summary}
    ```
    ```{glumeta-ledger}
    :filters:
    ```
    ```{glumeta-synthesis}
    :part: rows | numbers | forest | sensitivity
    ```
    The prediction interval is {glumeta-synthesis-text}`syn_pi`.
    ```{glumeta-dictionary}
    ```
    ```{glumeta-environment}
    ```
    ```{glumeta-findings}
    ```
    ```{glumeta-flow}
    :data: esketamine_madrs
    ```
    ```{glumeta-bias}
    :data: esketamine_madrs
    ```

``glumeta-findings`` is the summary-of-findings table (:mod:`glumeta.views.findings`) of every
data file the page declares; ``glumeta-flow`` the flow of studies of one file
(:mod:`glumeta.views.flow`: diagram, saved as SVG/PDF/PNG under ``_build/figures/<page>/``,
counts and table); ``glumeta-bias`` its risk-of-bias table (:mod:`glumeta.views.bias`; the
page declares ``risk_of_bias`` too).
"""

from __future__ import annotations

import html

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

__all__ = ["setup", "findings_names", "left_out_message", "synthesis_texts", "synthesis_role"]


class _HTML(SphinxDirective):
    """A directive whose output is one block of (escaped, generated) HTML; ``:full-width:`` spans
    the main column and the right margin (sphinx-book-theme's ``full-width`` class)."""

    has_content = False
    option_spec: dict = {"full-width": directives.flag}

    def html(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self):
        out = self.html()
        if "full-width" in self.options:
            out = f'<div class="full-width">{out}</div>'
        return [nodes.raw("", out, format="html")]


class Summary(_HTML):
    """The main pooled result of every data file the page declares (:func:`glumeta.views.html.summary_table`)."""

    def html(self):
        from ..views.html import frame_html, summary_table

        return frame_html(summary_table())


class Ledger(_HTML):
    """Every ledger row with verdict badges (:func:`glumeta.views.html.ledger_html`)."""

    option_spec = {**_HTML.option_spec, "filters": directives.flag}

    def html(self):
        from ..views.html import ledger_html

        return ledger_html(filters="filters" in self.options)


class Dictionary(_HTML):
    """The data dictionary, from ``datapackage.json`` (:func:`glumeta.views.dictionary.dictionary_html`)."""

    def html(self):
        from ..views.dictionary import dictionary_html

        return dictionary_html()


class Environment(_HTML):
    """Versions of Python, the packages the book is built with, and the metafor of the references."""

    PACKAGES = ("glumeta", "jupyter-book", "myst-nb", "sphinx", "numpy", "scipy", "pandas", "statsmodels",
                "pymare", "matplotlib", "seaborn", "jupytext", "nbclient")

    def html(self):
        import importlib.metadata as md
        import json
        import platform

        import pandas as pd

        from ..paths import REPO
        from ..views.html import frame_html

        frame = pd.DataFrame([{"package": "python", "version": platform.python_version()}] +
                             [{"package": p, "version": md.version(p)} for p in self.PACKAGES])
        ref = json.loads((REPO / "tests" / "reference" / "metafor_reference.json").read_text(encoding="utf-8"))
        return (frame_html(frame) + "<p>R metafor, used to produce the reference values in "
                f"<code>tests/reference/</code>: metafor {html.escape(ref['metafor_version'])} on R "
                f"{html.escape(ref['r_version'])} (script: <code>{html.escape(ref['generated_by'])}</code>).</p>")


def _synthesis_view(env):
    """The page's :class:`glumeta.views.html.SynthesisView`, computed once per page read."""
    from ..views.html import SynthesisView as View

    view = env.temp_data.get("glumeta_synthesis")  # temp_data lives for one page's read
    if view is None:
        view = env.temp_data["glumeta_synthesis"] = View()
    return view


def synthesis_texts(view) -> dict:
    """The texts the synthesis prose quotes, by name: :meth:`SynthesisView.glue_texts` plus ``syn_pi``
    (the prediction interval of the all-drug pool, or why there is none) and ``syn_pi_rule``.

    Examples
    --------
    >>> from glumeta.views.html import SynthesisView
    >>> t = synthesis_texts(SynthesisView())
    >>> {"syn_est", "syn_ci", "syn_pi", "syn_pi_rule"} <= set(t)
    True
    """
    import math

    from ..formatting import fmt_ci
    from ..views.html import no_pi_reason

    out = dict(view.glue_texts())
    o = view.result["overall"]
    ok = o.pi_lower is not None and math.isfinite(o.pi_lower) and math.isfinite(o.pi_upper)
    out["syn_pi"] = fmt_ci(o.pi_lower, o.pi_upper) if ok else f"not defined ({no_pi_reason(o)})"
    out["syn_pi_rule"] = str(getattr(o, "pi_rule", "t(k-2)")).replace("k-2", "k − 2")
    return out


def synthesis_role(name, rawtext, text, lineno, inliner, options=None, content=()):
    """The role ``glumeta-synthesis-text`` (e.g. with the text ``syn_pi``): a number of the synthesis, computed when the page is built
    (:func:`synthesis_texts`), so the prose quotes it without typing it."""
    env = inliner.document.settings.env
    key = text.strip()
    texts = synthesis_texts(_synthesis_view(env))
    if key not in texts:
        msg = inliner.reporter.error(f"glumeta-synthesis-text: unknown name {key!r} (known: {', '.join(sorted(texts))})",
                                     line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.Text(texts[key])], []


class Synthesis(_HTML):
    """One part of the cross-drug synthesis (:class:`glumeta.views.html.SynthesisView`), computed once per page."""

    option_spec = {**_HTML.option_spec,
                   "part": lambda s: directives.choice(s, ("rows", "numbers", "forest", "sensitivity"))}

    def html(self):
        view = _synthesis_view(self.env)
        part = self.options.get("part", "numbers")
        if part == "rows":
            return view.rows_html()
        if part == "forest":
            return view.forest()._repr_html_()
        if part == "sensitivity":
            return view.r_sensitivity_html()
        return view.numbers_html()


def findings_names(wb) -> tuple[list[str], list[str]]:
    """The analysis tables a summary-of-findings page shows (those its front matter declares) and
    those it leaves out (every other analysis table of the workbook *wb*).

    Examples
    --------
    >>> from glumeta.data.workbook import Workbook
    >>> findings_names(Workbook(declared=["esketamine_madrs", "reported"]))
    (['esketamine_madrs'], ['blood_glutamate', 'nitrous_oxide_hamd', 'ketamine_escitalopram'])
    """
    every = list(wb.analyses())
    if wb.declared is None:
        return every, []
    return [n for n in every if n in wb.declared], [n for n in every if n not in wb.declared]


def left_out_message(page: str, missing) -> str:
    """The build warning of a summary-of-findings page that leaves out analysis tables."""
    return (f"{page}: the summary of findings leaves out analysis table(s) {', '.join(missing)}: add them under "
            "'glumeta: data:' in the page's front matter so that every analysis has its row")


class Findings(_HTML):
    """The summary-of-findings table of the data files the page declares (:func:`glumeta.views.findings.findings_html`).
    An analysis table the page does not declare is never silently left out: the build warns, naming the
    page and the table (:func:`left_out_message`)."""

    def html(self):
        from sphinx.util import logging

        from ..views.findings import findings_html
        from ..data.workbook import Workbook

        wb = Workbook.from_env()  # the page's declared tables, set for it by glumeta.book.sphinxext
        names, missing = findings_names(wb)
        if missing:
            logging.getLogger(__name__).warning(left_out_message(self.env.docname, missing),
                                                location=self.get_location())
        return findings_html(names, wb)._repr_html_()


class _PerFile(_HTML):
    """A directive about one data file, named by ``:data:``."""

    option_spec = {**_HTML.option_spec, "data": directives.unchanged_required}

    @property
    def data_name(self) -> str:
        from ..data.workbook import Workbook

        name = self.options.get("data", "").strip()
        known = Workbook.from_env().analyses()
        if name not in known:
            raise self.error(f"{self.name}: ':data:' must name a data file ({', '.join(known)}), not {name!r}")
        return name


class Flow(_PerFile):
    """The flow of studies of one data file (:func:`glumeta.views.flow.flow_html`); figures go to
    ``_build/figures/<page>/flow-<file>.*``."""

    def html(self):
        from ..views.flow import flow_html

        return flow_html(self.data_name, self.env.docname.rsplit("/", 1)[-1])._repr_html_()


class Bias(_PerFile):
    """The risk-of-bias table of one data file (:func:`glumeta.views.bias.bias_html`)."""

    def html(self):
        from ..views.bias import bias_html

        return bias_html(self.data_name)._repr_html_()


def setup(app):
    for name, cls in (("glumeta-summary", Summary), ("glumeta-ledger", Ledger), ("glumeta-dictionary", Dictionary),
                      ("glumeta-environment", Environment), ("glumeta-synthesis", Synthesis),
                      ("glumeta-findings", Findings), ("glumeta-flow", Flow), ("glumeta-bias", Bias)):
        app.add_directive(name, cls)
    app.add_role("glumeta-synthesis-text", synthesis_role)
