"""Forest plots (presentation layer), after metafor ``forest()`` and meta ``forest.meta``.

A study row shows a square whose *area* is proportional to the study's weight in
the pooled model, its 95% CI as a whisker (an arrow where the CI runs off the
axis), data columns on the left and ``estimate [95% CI]`` and weight on the
right. Pooled results are diamonds spanning their CI, with a prediction-interval
bar, a heterogeneity line and the test of the overall effect. Subgroups get a
header, their own diamond and the between-subgroup test. Pending rows are listed
without a marker, so data gaps stay visible.

Drawn with matplotlib, styled with seaborn's ``ticks`` theme and its colour-blind-safe
palette. The forest plot takes them from the copies of seaborn's style sheets that
matplotlib ships (``seaborn-v0_8-ticks``, ``seaborn-v0_8-colorblind``): ``import seaborn``
costs about a second per notebook (it loads scipy.stats), a large share of an
add-a-row rebuild, for two style settings. seaborn itself draws the synthesis
chapter's by-drug figure. Output is deterministic: fixed
``svg.hashsalt`` and no timestamps in SVG/PDF metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


from .data import is_missing
from .formatting import fmt, fmt_p

__all__ = ["ForestRow", "ForestGroup", "forest", "forest_from_analysis", "save_figure", "fmt_p"]

RATIO = {"RR", "OR", "HR"}
#: seaborn's "ticks" theme and "colorblind" palette, as shipped with matplotlib.
SEABORN_STYLE = ["seaborn-v0_8-ticks", "seaborn-v0_8-colorblind"]
MAX_LABEL = 34


def _truncate(s: str, n: int = MAX_LABEL) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


@dataclass
class ForestRow:
    """One study row: label, estimate and CI on the analysis scale (log for ratios), weight %."""

    label: str
    yi: float
    ci_lower: float
    ci_upper: float
    weight: float
    left: Sequence[str] = ()
    year: int | None = None


@dataclass
class ForestGroup:
    """Rows pooled together, with their pooled analysis (a dict as returned by ``glumeta.analyses``)."""

    title: str | None
    rows: list[ForestRow]
    pooled: dict | None
    pending: list[str] = field(default_factory=list)


def _sorted(rows: list[ForestRow], sort: str) -> list[ForestRow]:
    if sort == "entered":
        return list(rows)
    key = {"year": lambda r: (r.year or 0, r.label), "effect": lambda r: r.yi,
           "weight": lambda r: -r.weight}.get(sort)
    if key is None:
        raise ValueError("sort must be 'entered', 'year', 'effect' or 'weight'")
    return sorted(rows, key=key)


def _diamond(ax, est, lo, hi, y, h, color, tr):
    from matplotlib.patches import Polygon

    poly = Polygon([(tr(lo), y), (tr(est), y + h), (tr(hi), y), (tr(est), y - h)], closed=True,
                   facecolor=color, edgecolor=color, linewidth=0.8, zorder=3)
    poly.set_gid("diamond")
    ax.add_patch(poly)
    return poly


def forest(groups: list[ForestGroup], *, measure: str, left_headers: Sequence[str] = (),
           favours: tuple[str, str] = ("Favours arm 1", "Favours arm 2"), xlabel: str | None = None,
           overall: dict | None = None, subgroup_test: dict | None = None, sort: str = "entered",
           xlim: tuple[float, float] | None = None, title: str | None = None):
    """Draw a forest plot; returns the matplotlib Figure.

    Parameters
    ----------
    groups : list of ForestGroup
        One group without a title for a plain plot, several titled groups for subgroups.
    measure : str
        ``SMD``, ``MD``, ``RR``, ``OR``, ``RD`` … Ratio measures are drawn on a log axis
        labelled on the ratio scale (estimates passed on the log scale).
    left_headers : column headers for each row's ``left`` texts.
    favours : labels under the axis, left and right of the null line.
    overall : pooled analysis over all groups (drawn after the groups).
    subgroup_test : ``{"q_between", "df", "p"}`` for the test of subgroup differences.
    sort : "entered", "year", "effect" or "weight" (within each group).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    ratio = measure in RATIO
    tr = (lambda v: math.exp(v)) if ratio else (lambda v: v)
    with plt.style.context(SEABORN_STYLE):
        pal = plt.rcParams["axes.prop_cycle"].by_key()["color"]  # seaborn "colorblind"
    c_study, c_pool, c_pi = "#222222", pal[0], pal[2]

    # ---- layout: list of (kind, payload) from top to bottom
    lines: list[tuple[str, object]] = []
    for g in groups:
        if g.title:
            lines.append(("header", g.title))
        for r in _sorted(g.rows, sort):
            lines.append(("study", r))
        if g.pooled and g.title and len(groups) > 1:
            lines.append(("pool", (f"Subtotal (k = {g.pooled['k']})", g.pooled, False)))
            lines.append(("het", g.pooled))
        if g.title and len(groups) > 1 and g.rows:
            lines.append(("gap", None))
    main = overall if overall is not None else (groups[0].pooled if len(groups) == 1 else None)
    if main is not None:
        label = "Random-effects model" if main.get("method") != "FE" else "Common-effect model"
        lines.append(("pool", (f"{label} (k = {main['k']})", main, True)))
        if main.get("method") != "FE" and main.get("k", 0) > 1:
            lines.append(("pi", main))
        lines.append(("het", main))
        lines.append(("test", main))
    if subgroup_test:
        lines.append(("sgtest", subgroup_test))
    pending = [p for g in groups for p in g.pending]
    if pending:
        lines.append(("gap", None))
        lines.append(("header", "Data pending (not pooled)"))
        lines.extend(("pending", p) for p in pending)

    n = len(lines)
    # column grid in inches: label | data columns | plot | estimate [CI] | weight
    # a header is "text" (right-aligned, 0.62 in) or a tuple (text, width in inches, "left"|"right")
    specs = [(h, 0.62, "right") if isinstance(h, str) else tuple(h) for h in left_headers]
    w_label, w_plot, w_est, w_wt, gap = 2.35, 3.0, 1.75, 0.62, 0.15
    w_cols = sum(w for _, w, _ in specs)
    width = 0.1 + w_label + w_cols + gap + w_plot + gap + w_est + w_wt + 0.1
    height = 1.25 + 0.26 * (n + 2)
    with plt.style.context(SEABORN_STYLE), plt.rc_context({"svg.hashsalt": "glumeta", "font.size": 9,
                                                           "font.family": "DejaVu Sans", "axes.linewidth": 0.8}):
        fig = plt.figure(figsize=(width, height))
        x_plot = 0.1 + w_label + w_cols + gap
        bottom_in, top_in = 0.85, 0.35 + (0.3 if title else 0.0)
        ax = fig.add_axes([x_plot / width, bottom_in / height, w_plot / width, 1 - (bottom_in + top_in) / height])
        ax.set_ylim(n - 0.4, -1.6)
        for sname in ("left", "right", "top"):
            ax.spines[sname].set_visible(False)
        ax.tick_params(axis="y", left=False, labelleft=False)

        # x range: CIs of studies and pools, always including the null
        vals = []
        for kind, pl in lines:
            if kind == "study":
                vals += [pl.ci_lower, pl.ci_upper]
            elif kind == "pool":
                vals += [pl[1]["ci_lower"], pl[1]["ci_upper"]]
        vals = [v for v in vals if v is not None and math.isfinite(v)] or [-1.0, 1.0]
        if xlim is None:
            lo_, hi_ = min(min(vals), 0.0), max(max(vals), 0.0)
            pad = 0.05 * (hi_ - lo_ or 1.0)
            xlim = (lo_ - pad, hi_ + pad)
        xmin, xmax = xlim
        if ratio:
            from matplotlib.ticker import FuncFormatter, LogLocator

            ax.set_xscale("log")
            ax.set_xlim(math.exp(xmin), math.exp(xmax))
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        else:
            from matplotlib.ticker import MaxNLocator

            ax.set_xlim(xmin, xmax)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        null = 1.0 if ratio else 0.0
        ax.axvline(null, color="#555555", linewidth=0.8, zorder=1)

        tx = blended_transform_factory(fig.transFigure, ax.transData)
        x_label = 0.1 / width
        x_cols, aligns, edge = [], [], 0.1 + w_label
        for _, w, al in specs:
            x_cols.append(((edge + w - 0.05) if al == "right" else (edge + 0.05)) / width)
            aligns.append(al)
            edge += w
        x_est = (x_plot + w_plot + gap) / width
        x_wt = (x_plot + w_plot + gap + w_est + w_wt - 0.05) / width
        head_y = -1.0
        kw = dict(transform=tx, va="center", fontsize=8.5)
        small = dict(transform=tx, va="center", fontsize=8, color="#333333")
        ax.text(x_label, head_y, "Study", fontweight="bold", **kw)
        for x, (h, _, al) in zip(x_cols, specs):
            ax.text(x, head_y, h, fontweight="bold", ha=al, **kw)
        ax.text(x_est, head_y, f"{measure} [95% CI]", fontweight="bold", **kw)
        ax.text(x_wt, head_y, "Weight", fontweight="bold", ha="right", **kw)
        indent = 0.12 / width

        squares = []
        max_w = max([pl.weight for kind, pl in lines if kind == "study" and pl.weight] or [1.0])
        size_scale = 150.0 / max_w  # points² per weight-percent: marker area ∝ weight
        for y, (kind, pl) in enumerate(lines):
            if kind == "header":
                ax.text(x_label, y, _truncate(pl, 60), fontweight="bold", **kw)
            elif kind == "study":
                ax.text(x_label + indent, y, _truncate(pl.label, MAX_LABEL), **kw)
                for x, al, (_, w, _), txt in zip(x_cols, aligns, specs, pl.left):
                    ax.text(x, y, _truncate(txt, max(4, int(w * 13.5))), ha=al, **kw)
                lo, hi = pl.ci_lower, pl.ci_upper
                clo, chi = max(lo, xmin), min(hi, xmax)
                if clo < chi:
                    ax.plot([tr(clo), tr(chi)], [y, y], color=c_study, linewidth=0.9, zorder=2,
                            solid_capstyle="butt")
                for off, edge in ((lo < xmin, xmin), (hi > xmax, xmax)):
                    if off:
                        back = edge + (0.04 if edge == xmin else -0.04) * (xmax - xmin)
                        ax.annotate("", xy=(tr(edge), y), xytext=(tr(back), y),
                                    arrowprops=dict(arrowstyle="-|>", color=c_study, lw=0.9, mutation_scale=7))
                if xmin <= pl.yi <= xmax:
                    sc = ax.scatter([tr(pl.yi)], [y], s=[pl.weight * size_scale], marker="s",
                                    color=c_study, zorder=3, linewidths=0)
                    sc.set_gid("study-square")
                    squares.append((sc, pl.weight))
                ax.text(x_est, y, f"{fmt(tr(pl.yi))} [{fmt(tr(lo))}, {fmt(tr(hi))}]", **kw)
                ax.text(x_wt, y, f"{pl.weight:.1f}%", ha="right", **kw)
            elif kind == "pool":
                lab, a, is_main = pl
                ax.text(x_label + (0.0 if is_main else indent), y, lab,
                        fontweight="bold" if is_main else None, **kw)
                _diamond(ax, a["estimate"], a["ci_lower"], a["ci_upper"], y, 0.32,
                         c_pool if is_main else pal[1], tr)
                ax.text(x_est, y, f"{fmt(tr(a['estimate']))} [{fmt(tr(a['ci_lower']))}, "
                        f"{fmt(tr(a['ci_upper']))}]", fontweight="bold" if is_main else None, **kw)
                if is_main:
                    ax.text(x_wt, y, "100.0%", ha="right", fontweight="bold", **kw)
            elif kind == "pi":
                a = pl
                ax.plot([tr(max(a["pi_lower"], xmin)), tr(min(a["pi_upper"], xmax))], [y, y], color=c_pi,
                        linewidth=2.2, solid_capstyle="butt", zorder=2, gid="prediction-interval")
                ax.text(x_label + indent, y, "Prediction interval", **kw)
                ax.text(x_est, y, f"[{fmt(tr(a['pi_lower']))}, {fmt(tr(a['pi_upper']))}]", **kw)
            elif kind == "het":
                a = pl
                i2ci = a.get("i2_ci") or [None, None]
                ci_txt = f" [{fmt(i2ci[0], 0)}, {fmt(i2ci[1], 0)}]" if i2ci[0] is not None else ""
                txt = (f"Heterogeneity: τ² = {fmt(a['tau2'], 3)}; I² = {fmt(a['i2'], 0)}%{ci_txt}; "
                       f"Q = {fmt(a['q'], 2)}, df = {a['q_df']}, {fmt_p(a['q_p'])}") if a["k"] > 1 else \
                      "Heterogeneity: not applicable (k = 1)"
                ax.text(x_label + indent, y, txt, **small)
            elif kind == "test":
                a = pl
                stat = "t" if a.get("test") == "knha" and a.get("df") else "z"
                df_txt = f"({int(a['df'])})" if stat == "t" else ""
                ax.text(x_label + indent, y,
                        f"Test for overall effect: {stat}{df_txt} = {fmt(a['z_or_t'], 2)}, {fmt_p(a['p'])}", **small)
            elif kind == "sgtest":
                a = pl
                ax.text(x_label + indent, y, f"Test for subgroup differences: Q = {fmt(a['q_between'], 2)}, "
                        f"df = {a['df']}, {fmt_p(a['p'])}", **small)
            elif kind == "pending":
                ax.text(x_label + indent, y, _truncate(pl, 80), color="#666666", style="italic", **kw)
        ax.set_xlabel(measure if xlabel is None else xlabel, fontsize=9, labelpad=2)
        ax.tick_params(axis="x", labelsize=8)
        for side, txt in ((0, "← " + favours[0]), (1, favours[1] + " →")):
            ax.annotate(txt, xy=(null, 0), xycoords=("data", "axes fraction"), xytext=(-6 if side == 0 else 6, -34),
                        textcoords="offset points", ha="right" if side == 0 else "left", va="top", fontsize=8)
        if title:
            fig.text(x_label, 1 - 0.12 / height, title, ha="left", va="top", fontsize=10, fontweight="bold")
        fig._glumeta = {"squares": squares, "ax": ax, "lines": lines, "ratio": ratio}
    return fig


def _short_comparison(comp: str) -> str:
    head = str(comp).split(" vs ")[0]
    for drug in ("esketamine ", "N2O "):
        head = head.replace(drug, "")
    return head.replace("(flexible dose)", "flexible").strip() or str(comp)


def _left_texts(row, name: str) -> list[str]:
    def n(x):
        return "" if is_missing(x) else f"{int(x)}"

    def f(x, nd=1):
        return "" if is_missing(x) else fmt(float(x), nd)

    if name == "blood_glutamate":
        return [n(row["n_arm1"]), f(row["mean1_used"], 1), f(row["sd1_used"], 1),
                n(row["n_arm2"]), f(row["mean2_used"], 1), f(row["sd2_used"], 1)]
    if name == "ketamine_escitalopram":
        return [str(row["outcome"]), f"{n(row['event1_used'])}/{n(row['totaln_arm1'])}",
                f"{n(row['event2_used'])}/{n(row['totaln_arm2'])}"]
    return [f"{_short_comparison(row['comparison'])}, {row['time']}", n(row["n_arm1"]), n(row["n_arm2"]),
            str(row["design"])]


#: Left-hand data columns per data file: header, or (header, width in inches, alignment).
LEFT_HEADERS = {
    "blood_glutamate": ("N MDD", "Mean", "SD", "N ctrl", "Mean", "SD"),
    "ketamine_escitalopram": (("Outcome", 0.9, "left"), ("Ketamine", 0.75, "right"), ("Placebo", 0.7, "right")),
    "esketamine_madrs": (("Arm, time", 1.95, "left"), "N act.", "N ctrl", ("Design", 0.8, "left")),
    "nitrous_oxide_hamd": (("Arm, time", 1.95, "left"), "N act.", "N ctrl", ("Design", 0.8, "left")),
    "synthesis": (("Arm, time", 1.95, "left"), "N act.", "N ctrl", ("Design", 0.8, "left")),
}


def forest_from_analysis(table, analysis: dict, name: str, *, group_by: str | None = None,
                         analyses: list[dict] | None = None, pending=None, sort: str = "entered",
                         favours=("Favours arm 1", "Favours arm 2"), xlabel=None, title=None):
    """Forest plot of one analysis from ``glumeta.analyses``.

    *table* is the effect table (``effect_table``) rows that entered the analysis
    (in the analysis' study order); *pending* the rows listed as data gaps.
    With *group_by*, rows are split into subgroups using the ``<group_by>:<level>``
    analyses in *analyses*.
    """
    measure = analysis["measure"]
    studies = analysis["studies"]
    rows = []
    z = 1.959963984540054
    for s, (_, r) in zip(studies, table.iterrows()):
        se = math.sqrt(s["vi"])
        rows.append((r, ForestRow(label=str(r["study"]), yi=s["yi"], ci_lower=s["yi"] - z * se,
                                  ci_upper=s["yi"] + z * se, weight=s["weight"],
                                  left=_left_texts(r, name), year=s["year"])))
    pend_labels = []
    if pending is not None:
        for _, r in pending.iterrows():
            src = str(r.get("source", "")).replace("https://", "").replace("http://", "")
            pend_labels.append(f"{r['label']} — {src}")
    if group_by:
        by_id = {a["id"]: a for a in (analyses or [])}
        groups = []
        for lv in dict.fromkeys(r[group_by] for r, _ in rows):
            sub = by_id.get(f"{group_by}:{lv}")
            # weights shown are those of the overall model, so the column sums to 100%
            grp_rows = [fr for r, fr in rows if r[group_by] == lv]
            groups.append(ForestGroup(str(lv)[:1].upper() + str(lv)[1:], grp_rows, sub))
        if pend_labels:
            groups.append(ForestGroup(None, [], None, pend_labels))
        sg = (analyses and {a["id"]: a for a in analyses}.get(f"subgroups:{group_by}")) or None
        return forest(groups, measure=measure, left_headers=LEFT_HEADERS.get(name, ()), favours=favours,
                      xlabel=xlabel, overall=analysis, subgroup_test=sg, sort=sort, title=title)
    return forest([ForestGroup(None, [fr for _, fr in rows], analysis, pend_labels)], measure=measure,
                  left_headers=LEFT_HEADERS.get(name, ()), favours=favours, xlabel=xlabel, sort=sort, title=title)


def save_dir(chapter: str, root: Path | None = None) -> Path:
    """``<_build>/figures/<chapter>``, created: ``<root>/_build``, else ``$GLUMETA_BUILD_DIR``
    (set by ``glumeta build`` to the book being built), else the repository's ``_build``."""
    import os

    if root is not None:
        build = Path(root) / "_build"
    else:
        build = Path(os.environ.get("GLUMETA_BUILD_DIR") or Path(__file__).resolve().parents[2] / "_build")
    out = build / "figures" / chapter
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_figure(fig, chapter: str, name: str, root: Path | None = None, formats=("svg", "pdf", "png")) -> dict:
    """Write *fig* to ``_build/figures/<chapter>/<name>.{svg,pdf,png}``; returns the paths.

    ``_build`` is ``<root>/_build``, else ``$GLUMETA_BUILD_DIR`` (set by ``glumeta build``
    to the book being built), else the repository's.

    SVG: fixed hash salt, no date metadata; PDF: no creation date — the same data
    give byte-identical files.
    """
    import matplotlib.pyplot as plt

    out = save_dir(chapter, root)
    paths = {}
    with plt.rc_context({"svg.hashsalt": "glumeta", "svg.fonttype": "path"}):
        for ext in formats:
            p = out / f"{name}.{ext}"
            meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}.get(ext)
            # no bbox_inches="tight": the layout has explicit margins, and cropping costs an extra draw
            fig.savefig(p, dpi=150 if ext == "png" else None, metadata=meta)
            paths[ext] = p
    return paths
