"""The flow of studies of one analysis (PRISMA 2020 style), computed from the data.

Every row of a data file is in exactly one *state*, computed from its ``status``
and from the pools of :func:`glumeta.stats.plan.analyze`, never typed:

``primary``
    a complete row in the headline pool (a main analysis, :func:`glumeta.stats.plan.is_main`;
    for a file with one main analysis per outcome, in any of them);
``other``
    a complete row with numbers that no main analysis pools but a sensitivity, time-point or
    subgroup analysis does (its reason: the eligibility rule it fails for the headline);
``shown``
    a complete row with numbers that *no* analysis pools (e.g. a repeated-session trial or
    one without arm sizes): drawn beside the headline (``Analysis.outside``) with the reason of
    the eligibility rule it fails, but not part of any synthesis;
``pending``
    a row whose numbers have not been found (``status`` pending);
``excluded``
    a row excluded with its ``exclusion_reason`` (or a complete row whose effect is
    undefined, with the reason :func:`glumeta.stats.escalc.escalc` gives).

A *study* (a ``study_id``, i.e. a trial or cohort) may have rows in several states
(e.g. TRANSFORM-3's whole-trial row is analysed while its sex strata are excluded).
Its state is that of its best row, in the order primary > other > shown > pending >
excluded, so every study is counted once; the rows are counted by their own state,
so a box can say "3 rows of 1 study (2 more rows belong to studies counted above)".

The PRISMA 2020 statement (Page et al. 2021) asks for the number of records at each
stage and the reasons for exclusion; here the "records" are the rows of
``data/<file>.csv`` and the stages are those of the data, not of a literature search
(which this workbook does not report).

References
----------
Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated guideline
for reporting systematic reviews. BMJ 2021;372:n71. doi:10.1136/bmj.n71

Haddaway NR, Page MJ, Pritchard CC, McGuinness LA. PRISMA2020: An R package and Shiny app
for producing PRISMA 2020-compliant flow diagrams. Campbell Syst Rev 2022;18:e1230.
"""

from __future__ import annotations

import html
import textwrap

from ..stats.eligibility import evaluate, rules_of
from ..stats.escalc import escalc
from ..stats.plan import Analysis, analyze, is_main
from ..style import DEFAULT_STYLE, ForestStyle
from ..data.workbook import resolve

__all__ = ["STATES", "STATE_LABELS", "best_state", "flow_rows", "flow_studies", "flow_summary", "flow_figure",
           "flow_html", "FlowView"]

#: The states of a row or study, best first.
STATES = ("primary", "other", "shown", "pending", "excluded")

#: How the states are named in tables and figures.
STATE_LABELS = {
    "primary": "included in the headline pool",
    "other": "in sensitivity or other analyses only",
    "shown": "shown, not pooled in any analysis",
    "pending": "pending (numbers not yet found)",
    "excluded": "excluded",
}

PENDING_REASON = "numbers not yet found"


def best_state(states) -> str:
    """The best of several row states (primary > other > shown > pending > excluded).

    Examples
    --------
    >>> best_state(["excluded", "primary", "excluded"])
    'primary'
    >>> best_state(["pending", "excluded"])
    'pending'
    """
    states = list(states)
    for s in STATES:
        if s in states:
            return s
    raise ValueError(f"no known state among {states!r}")


def _analyses(ds):
    return [a for a in analyze(ds) if isinstance(a, Analysis)]


def flow_rows(data):
    """One row per data row of a data table (a :class:`~glumeta.data.workbook.Dataset` or a table name): ``study_id``, ``study``, ``line``, ``label``, ``status``,
    ``state`` (see :data:`STATES`), ``reason`` (why it is not in the headline pool; empty when it is)
    and ``pools`` (the labels of the non-headline analyses that pool it, ``; ``-separated).

    Examples
    --------
    >>> r = flow_rows("esketamine_madrs")
    >>> sorted(set(r.loc[r["study_id"] == "transform3", "state"]))
    ['excluded', 'other']
    """
    import pandas as pd

    ds = resolve(data)
    tab = escalc(ds)
    plan = ds.analysis_plan()
    _, why = evaluate(tab, rules_of(plan))
    analyses = _analyses(ds)
    main_lines: set = set()
    pooled_lines: set = set()  # rows pooled by any analysis that is not a main one
    outside: dict = {}
    pools: dict = {}
    for a in analyses:
        lines = list(a.rows["line"])
        if not is_main(a.id):
            pooled_lines.update(lines)
        if is_main(a.id):
            main_lines.update(lines)
            if a.outside is not None and len(a.outside):
                for ln, rs in zip(a.outside["line"], a.outside["reason"]):
                    outside.setdefault(ln, rs)
        elif not a.id.startswith("sensitivity:z") and a.measure == plan["measure"]:
            # (the z-test twin and the further measures, e.g. OR beside RR, pool the headline rows again)
            for ln in lines:
                pools.setdefault(ln, [])
                if a.label not in pools[ln]:
                    pools[ln].append(a.label)
    out = []
    for i, r in enumerate(tab.to_dict("records")):
        status, ln = r.get("status"), r["line"]
        has_effect = r.get("yi") == r.get("yi") and r.get("yi") is not None
        if status == "excluded":
            state, reason = "excluded", str(r.get("exclusion_reason") or "reason not stated")
        elif status == "pending":
            state, reason = "pending", PENDING_REASON
        elif not has_effect:
            state, reason = "excluded", str(r.get("derivation", "")).removeprefix("excluded: ")
        elif ln in main_lines:
            state, reason = "primary", ""
        else:
            state = "other" if ln in pooled_lines else "shown"
            reason = outside.get(ln) or why[i] or "not among the rows the main analysis selects"
        out.append({"study_id": r["study_id"], "study": r.get("study", r["study_id"]), "line": ln,
                    "label": r.get("label", ""), "status": status, "state": state, "reason": reason,
                    "pools": "; ".join(pools.get(ln, [])) if state in ("primary", "other") else ""})
    return pd.DataFrame(out, columns=["study_id", "study", "line", "label", "status", "state", "reason", "pools"])


def flow_studies(data):
    """One row per study (``study_id``) of a data table (a Dataset or a table name): its ``state`` (that of its best row), the
    ``reason`` (the distinct reasons of its rows in that state), ``rows`` (its row count), one
    count column per state (``rows_primary`` …), and ``pools`` (non-headline analyses pooling it).

    Examples
    --------
    >>> s = flow_studies("esketamine_madrs").set_index("study_id")
    >>> str(s.loc["transform3", "state"]), int(s.loc["transform3", "rows_excluded"])
    ('other', 2)
    """
    import pandas as pd

    rows = flow_rows(data)
    out = []
    for sid, g in rows.groupby("study_id", sort=False):
        state = best_state(g["state"])
        mine = g[g["state"] == state]
        rec = {"study_id": sid, "study": g["study"].iloc[0], "state": state,
               "reason": "; ".join(dict.fromkeys(r for r in mine["reason"] if r)),
               "rows": len(g)}
        for s in STATES:
            rec[f"rows_{s}"] = int((g["state"] == s).sum())
        rec["pools"] = "; ".join(dict.fromkeys(p for ps in g["pools"] if ps for p in ps.split("; ")))
        out.append(rec)
    cols = ["study_id", "study", "state", "reason", "rows", *[f"rows_{s}" for s in STATES], "pools"]
    return pd.DataFrame(out, columns=cols)


def flow_summary(data) -> dict:
    """Counts of the flow of a data table (a Dataset or a table name).

    Returns a dict: ``file``; ``rows`` and ``studies`` listed; for each state in :data:`STATES`
    ``{"rows": …, "studies": …}`` (rows by their own state, studies by their best row);
    ``with_numbers`` (primary + other + shown); ``rows_of_counted_studies`` per state (rows in that state
    whose study is counted in a better state); ``reasons`` per state (a list of
    ``(reason, [study names], rows)`` of the studies counted in that state) and ``reasons_elsewhere``
    (the same for the rows of studies counted in a better state); and ``main`` (``(id, label, k, trials)`` of each main analysis).

    Examples
    --------
    >>> f = flow_summary("nitrous_oxide_hamd")
    >>> sum(f[s]["studies"] for s in STATES) == f["studies"]
    True
    """
    ds = resolve(data)
    rows = flow_rows(ds)
    studies = flow_studies(ds)
    best = dict(zip(studies["study_id"], studies["state"]))
    out: dict = {"file": ds.name, "rows": len(rows), "studies": len(studies), "reasons": {},
                 "rows_of_counted_studies": {}}
    out["reasons_elsewhere"] = {}
    for s in STATES:
        r = rows[rows["state"] == s]
        out[s] = {"rows": len(r), "studies": int((studies["state"] == s).sum())}
        here = r["study_id"].map(best) == s
        out["rows_of_counted_studies"][s] = int((~here).sum())
        out["reasons"][s] = _group_reasons(r[here])
        out["reasons_elsewhere"][s] = _group_reasons(r[~here])
    out["with_numbers"] = {"rows": sum(out[s]["rows"] for s in ("primary", "other", "shown")),
                           "studies": sum(out[s]["studies"] for s in ("primary", "other", "shown"))}
    out["main"] = [(a.id, a.label, a.k, int(a.rows["study_id"].nunique()))
                   for a in _analyses(ds) if is_main(a.id)]
    return out


def _group_reasons(rows) -> list:
    """``[(reason, [study names], rows)]`` of flow rows, in order of first appearance."""
    reasons: dict = {}
    for _, x in rows.iterrows():
        names, n = reasons.setdefault(x["reason"], ([], [0]))
        if x["study"] not in names:
            names.append(x["study"])
        n[0] += 1
    return [(k, v[0], v[1][0]) for k, v in reasons.items()]


# --------------------------------------------------------------------------- figure

def _n(rows: int, studies: int) -> str:
    return f"{studies} stud{'y' if studies == 1 else 'ies'}, {rows} row{'' if rows == 1 else 's'}"


def _reason_lines(items, width: int, limit: int = 6) -> list[str]:
    lines = []
    for reason, names, n in items[:limit]:
        who = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        lines += textwrap.wrap(f"• {reason}: {who} ({n} row{'' if n == 1 else 's'})", width,
                               subsequent_indent="   ")
    if len(items) > limit:
        lines.append(f"• … {len(items) - limit} more reasons (see the table)")
    return lines


def _box_texts(f: dict) -> dict:
    """The text of each box of the diagram: (title, body lines). Rows are counted by their own
    state, so the row counts add up along the boxes; a box lists the reasons of the studies it
    counts, then those of its rows that belong to studies counted in a better box."""
    W = 50
    extra, elsewhere = f["rows_of_counted_studies"], f["reasons_elsewhere"]

    def side(s, names_only=False):
        body = (textwrap.wrap(", ".join(n for _, ns, _ in f["reasons"][s] for n in ns), W) if names_only
                else _reason_lines(f["reasons"][s], W))
        if extra[s]:
            body.append(f"Also {extra[s]} row{'' if extra[s] == 1 else 's'} of studies counted in another box:")
            body += _reason_lines(elsewhere[s], W)
        return body

    def title(s, words):
        return f"{words}: {_n(f[s]['rows'], f[s]['studies'])}"

    main = [f"• {lab}: k = {k} ({t} stud{'y' if t == 1 else 'ies'})" for _, lab, k, t in f["main"]]
    return {
        "listed": (f"Listed in data/{f['file']}.csv", [_n(f["rows"], f["studies"])]),
        "excluded": (title("excluded", "Excluded"), side("excluded")),
        "eligible": ("Not excluded", [_n(f["rows"] - f["excluded"]["rows"],
                                         f["studies"] - f["excluded"]["studies"])]),
        "pending": (title("pending", "Pending (numbers not yet found)"), side("pending", names_only=True)),
        "numbers": ("With numbers (complete rows)", [_n(f["with_numbers"]["rows"], f["with_numbers"]["studies"])]),
        "other": (title("other", "In sensitivity or other analyses only"), side("other")),
        "shown": (title("shown", "Shown, not pooled in any analysis"), side("shown")),
        "primary": (title("primary", "In the headline pool"),
                    [ln for m in main for ln in textwrap.wrap(m, W - 8, subsequent_indent="   ")]),
    }


def flow_figure(data, summary: dict | None = None, *, style: ForestStyle = DEFAULT_STYLE):
    """Draw the flow diagram of a data table (a Dataset or a table name; matplotlib Figure): main boxes on the left
    (listed → not excluded → with numbers → headline pool), and on the right the excluded,
    pending and "other analyses only" boxes with their reasons, as in PRISMA 2020 (Page et al. 2021).

    Text is 8.5 pt or larger; the figure has no date and, saved with
    :func:`glumeta.views.forest.save_figure`, gives byte-identical SVGs for the same data. Box
    colours, width, font size and hash salt come from *style* (:class:`~glumeta.style.ForestStyle`).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    f = summary or flow_summary(data)
    texts = _box_texts(f)
    pal = style.palette
    fs, line_h = style.flow_font_size, 0.158  # points; inches per line (9 pt × line spacing 1.25)
    colours = {"listed": pal.flow_main, "eligible": pal.flow_main, "numbers": pal.flow_main,
               "primary": pal.flow_primary, "excluded": pal.flow_excluded, "pending": pal.flow_pending,
               "other": pal.flow_other, "shown": pal.flow_other}

    def wrap_title(key):
        return textwrap.wrap(texts[key][0], 44 if key in ("listed", "eligible", "numbers", "primary") else 56)

    def height(key):
        return (len(wrap_title(key)) + len(texts[key][1])) * line_h + 0.24

    # (left key, right keys) per level; the right boxes hang off the arrow between levels. The
    # "shown, not pooled" box is drawn only when a row is in that state, below "other analyses".
    right3 = ("other", "shown") if f.get("shown", {}).get("rows") else ("other",)
    levels = [("listed", ("excluded",)), ("eligible", ("pending",)), ("numbers", right3), ("primary", ())]
    gap, stack_gap = 0.3, 0.12

    def right_h(rks):
        return sum(height(k) for k in rks) + stack_gap * max(len(rks) - 1, 0)

    level_h = [max(height(lk), right_h(rks)) for lk, rks in levels]
    total_h = sum(level_h) + gap * (len(levels) - 1) + 0.5
    width = style.flow_width
    lx, lw, rx, rw = 0.25, 3.9, 4.85, 4.5
    with plt.rc_context(style.rc({"font.size": fs})):
        fig = plt.figure(figsize=(width, total_h))
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, width)
        ax.set_ylim(0, total_h)
        ax.axis("off")
        y = total_h - 0.25
        spans = []

        def box(key, x, w, top):
            bh = height(key)
            ax.add_patch(FancyBboxPatch((x, top - bh), w, bh, boxstyle="round,pad=0,rounding_size=0.06",
                                        fc=colours[key], ec=pal.note, lw=style.line_width))
            body = [ln.replace("$", r"\$") for ln in texts[key][1]]  # a "$" in a label is no mathtext
            tl = [ln.replace("$", r"\$") for ln in wrap_title(key)]
            ax.text(x + 0.12, top - 0.11, "\n".join(tl), va="top", ha="left", fontsize=fs, fontweight="bold",
                    linespacing=1.25)
            if body:
                ax.text(x + 0.12, top - 0.11 - len(tl) * line_h - 0.03, "\n".join(body), va="top", ha="left",
                        fontsize=fs - 0.5, linespacing=1.25)
            return bh

        for (lk, rks), h in zip(levels, level_h):
            mid = y - h / 2  # the left box and the stack of right boxes are centred on it
            bh = box(lk, lx, lw, mid + height(lk) / 2)
            spans.append((mid + bh / 2, mid - bh / 2))
            top = mid + right_h(rks) / 2
            for rk in rks:
                rh = box(rk, rx, rw, top)
                ry = top - rh / 2 if len(rks) > 1 else mid
                ax.add_patch(FancyArrowPatch((lx + lw, mid), (rx, ry), arrowstyle="-|>", mutation_scale=10,
                                             lw=style.arrow_width, color=pal.note))
                top -= rh + stack_gap
            y -= h + gap
        for (_, bottom), (top, _) in zip(spans, spans[1:]):
            ax.add_patch(FancyArrowPatch((lx + lw / 2, bottom), (lx + lw / 2, top), arrowstyle="-|>",
                                         mutation_scale=10, lw=style.arrow_width, color=pal.note))
    return fig


def _alt(f: dict) -> str:
    return (f"Flow of studies of data/{f['file']}.csv: {f['studies']} studies ({f['rows']} rows) listed; "
            f"{f['excluded']['studies']} excluded; {f['pending']['studies']} pending; "
            f"{f['with_numbers']['studies']} with numbers, of which {f['primary']['studies']} in the headline "
            f"pool, {f['other']['studies']} in sensitivity or other analyses only and {f['shown']['studies']} "
            "shown but not pooled in any analysis.")


class FlowView:
    """The flow of studies of one file as a chapter shows it: the diagram (saved as
    SVG/PDF/PNG under ``_build/figures/<slug>/flow-<name>.*``, shown as an embedded PNG
    with the counts as alt text), download links, and the table of studies."""

    def __init__(self, data, slug: str, links: bool = True, *, style: ForestStyle = DEFAULT_STYLE):
        import base64

        import matplotlib.pyplot as plt

        from .forest import save_figure

        ds = resolve(data)
        name = ds.name
        self.name, self.slug = name, slug
        self.summary = flow_summary(ds)
        self.studies = flow_studies(ds)
        fig = flow_figure(ds, self.summary, style=style)
        self.paths = save_figure(fig, slug, f"flow-{name}", style=style)
        plt.close(fig)
        self._b64 = base64.b64encode(self.paths["png"].read_bytes()).decode()
        self.alt = _alt(self.summary)
        self.links = links

    def table(self):
        """The studies as shown: study, state, rows by state, reason, other analyses."""
        import pandas as pd

        s = self.studies
        order = {k: i for i, k in enumerate(STATES)}
        s = s.assign(_o=s["state"].map(order)).sort_values("_o", kind="stable")

        def rows_text(r):
            return ", ".join(f"{r[f'rows_{k}']} {k}" for k in STATES if r[f"rows_{k}"])

        return pd.DataFrame({"study": s["study"], "state": s["state"].map(STATE_LABELS),
                             "rows (by state)": [rows_text(r) for _, r in s.iterrows()],
                             "reason": s["reason"].replace("", "–"),
                             "other analyses pooling it": s["pools"].replace("", "–")})

    def counts_text(self) -> str:
        f = self.summary
        return (f"{f['studies']} studies ({f['rows']} rows) are listed in data/{self.name}.csv: "
                f"{f['primary']['studies']} in the headline pool, {f['other']['studies']} in sensitivity or other "
                f"analyses only, {f['shown']['studies']} shown but not pooled in any analysis, "
                f"{f['pending']['studies']} pending (numbers not yet found) and "
                f"{f['excluded']['studies']} excluded. A study with rows in several states is counted once, "
                "in its best state (headline pool > other analyses > shown, not pooled > pending > excluded).")

    def table_html(self) -> str:
        """:meth:`table` as an escaped HTML table whose reason and analyses columns wrap."""
        t = self.table()
        wide = {"reason", "other analyses pooling it"}
        cls = {c: ' style="white-space:normal;min-width:10em"' if c in wide else
               ' style="white-space:normal"' if c in ("study", "state") else "" for c in t.columns}
        head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
        body = "".join("<tr>" + "".join(f"<td{cls[c]}>{html.escape(str(r[c]))}</td>" for c in t.columns) + "</tr>"
                       for _, r in t.iterrows())
        return (f'<div class="glumeta-table"><table class="table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")

    def _repr_html_(self) -> str:
        links = ""
        if self.links:
            links = ('<p class="glumeta-downloads">Download the flow diagram: ' + " · ".join(
                f'<a href="../figures/{html.escape(self.slug)}/{html.escape(p.name)}" download>{ext.upper()}</a>'
                for ext, p in self.paths.items()) + "</p>")
        img = (f'<img src="data:image/png;base64,{self._b64}" alt="{html.escape(self.alt)}" '
               f'title="Click to open the full-resolution diagram" style="max-width:100%">')
        if self.links and "svg" in self.paths:  # click to enlarge: the vector diagram
            img = (f'<a href="../figures/{html.escape(self.slug)}/{html.escape(self.paths["svg"].name)}" '
                   f'target="_blank" rel="noopener">{img}</a>')
        return (f'<figure class="glumeta-flow">{img}</figure>{links}'
                f'<p class="glumeta-flow-counts">{html.escape(self.counts_text())}</p>' + self.table_html())

    def __repr__(self) -> str:
        return f"<flow of studies: {self.alt}>"


def flow_html(data, slug: str, *, style: ForestStyle = DEFAULT_STYLE) -> FlowView:
    """The flow of studies of a data table (a Dataset or a table name) for a chapter whose figures go to ``_build/figures/<slug>``:
    an object Jupyter and the in-process pages show as HTML (figure, counts, table).

    In a chapter: ``from glumeta.views.flow import flow_html`` then ``flow_html("esketamine_madrs", "esketamine")``.
    """
    return FlowView(data, slug, style=style)
