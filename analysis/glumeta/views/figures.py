"""Sensitivity figures: funnel plot with Egger's line, leave-one-out and cumulative plots,
and the synthesis' pooled SMD against the assumed crossover correlation.

Matplotlib with seaborn's ``ticks``/``colorblind`` style sheets (see
:mod:`glumeta.style` on why the style sheets rather than ``import seaborn``); the
r-sensitivity figure is drawn by seaborn itself (``lineplot``). Sizes, colours, the SVG hash
salt and number formats come from the :class:`~glumeta.style.ForestStyle` passed as
``style=`` (default :data:`~glumeta.style.DEFAULT_STYLE`).
"""

from __future__ import annotations

import numpy as np

from ..style import DEFAULT_STYLE, ForestStyle
from ..stats.sensitivity import EGGER_MIN_K, egger, funnel_data

__all__ = ["funnel_plot", "estimate_path_plot", "r_sensitivity_plot"]


def funnel_plot(yi, vi, estimate: float, measure: str, title: str | None = None, egger_line=None,
                *, trials: int | None = None, style: ForestStyle = DEFAULT_STYLE):
    """Funnel plot: effect size against its SE (SE axis inverted), the pseudo 95% confidence
    region ``estimate ± 1.96·SE`` (Sterne & Egger 2001) and, with k ≥ 10 (Sterne et al. 2011;
    :data:`glumeta.stats.sensitivity.EGGER_MIN_K`), Egger's regression line (Egger et al. 1997) drawn
    on the same axes. Below that, the plot says in its corner why no test is drawn.

    *egger_line*: ``None`` decides by k; ``False`` draws no line; ``True`` fits Egger's test here;
    the dict :func:`~glumeta.stats.sensitivity.egger` returned draws that fit (so that a page that
    reports the test and draws it fits it once).

    *trials*: the independent trials behind the points (:func:`~glumeta.stats.sensitivity.n_trials`;
    default: one per point). The k ≥ 10 rule counts trials, not rows: ten dose-arm rows of seven
    trials get no test."""
    import matplotlib.pyplot as plt

    f = funnel_data(yi, vi, estimate)
    st, pal = style, style.palette
    with plt.style.context(st.sheets), plt.rc_context(st.rc({"font.size": st.font_size})):
        fig, ax = plt.subplots(figsize=st.funnel_size)
        ax.fill_betweenx(f["se_grid"], f["lower"], f["upper"], color=pal.region, zorder=0,
                         label="pseudo 95% confidence region")
        ax.axvline(estimate, color=pal.null, lw=st.line_width)
        ax.scatter(f["yi"], f["sei"], color=pal.ink, s=22, zorder=3, label="studies")
        n = len(f["yi"]) if trials is None else int(trials)
        if egger_line is None:
            egger_line = n >= EGGER_MIN_K
        if not egger_line:
            few = (f"k = {n} < {EGGER_MIN_K}" if trials is None or n == len(f["yi"])
                   else f"{n} trials < {EGGER_MIN_K}")
            ax.text(0.98, 0.02, f"No asymmetry test: {few}" if n < EGGER_MIN_K else "No asymmetry test",
                    transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=st.small_size, color=pal.note)
        else:
            e = egger_line if isinstance(egger_line, dict) else egger(yi, vi)
            # Egger: y/se = b0 + b1/se  <=>  y = b1 + b0·se (the regression of y on se with weights 1/v)
            se = f["se_grid"]
            ax.plot(e["intercept"] + e["slope"] * se, se, color=pal.accent, lw=1.2,
                    label=f"Egger's test {st.formats.p(e['p'])}")
        ax.set_ylim(f["se_grid"].max(), 0)
        ax.set_xlabel(measure)
        ax.set_ylabel("Standard error")
        if title:
            ax.set_title(title, fontsize=st.figure_title_size, loc="left")
        fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=st.small_size, loc="lower center", ncol=3)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def estimate_path_plot(frame, label_col: str, measure: str, pooled: dict, title: str, *,
                       style: ForestStyle = DEFAULT_STYLE):
    """Leave-one-out or cumulative estimates with 95% CIs, one row each, and the full pooled
    estimate as a reference line (metafor ``forest(leave1out(...))`` / ``forest(cumul(...))``).

    With more rows than a readable figure holds (the style's ``page_rows``), the estimates
    are drawn against their step (cumulative: studies added; leave-one-out: the study omitted, in
    data order) with the 95% CI as a band, and the three rows that move the estimate most are named.

    Row labels are never cut: a label longer than the style's ``path_label`` characters wraps onto
    two lines (:func:`glumeta.views.forest.wrap_label`, as the forest plot's), so that two arms of
    one trial (``TRANSFORM-1 …: esketamine 84 mg, day 28`` and ``… 56 mg, day 28``) stay distinct,
    and the rows are spaced for the lines they hold."""
    import matplotlib.pyplot as plt

    from .forest import wrap_label

    k = len(frame)
    st, pal = style, style.palette
    if k > st.page_rows:
        return _path_band(frame, label_col, measure, pooled, title, st)
    labels = [wrap_label(str(v), st.path_label) for v in frame[label_col]]
    lines = max((lab.count("\n") + 1 for lab in labels), default=1)
    with plt.style.context(st.sheets), plt.rc_context(st.rc({"font.size": st.text_size})):
        fig, ax = plt.subplots(figsize=(st.path_width, st.path_base + st.path_row * k * (1 + 0.6 * (lines - 1))))
        y = np.arange(k)
        ax.errorbar(frame["estimate"], y, xerr=[frame["estimate"] - frame["ci_lower"], frame["ci_upper"] - frame["estimate"]],
                    fmt="s", color=pal.ink, ms=4, lw=st.whisker_width, capsize=0)
        ax.axvline(pooled.estimate, color=pal.pool, lw=1, ls="--", label="all studies")
        ax.axvline(0, color=pal.null, lw=st.line_width)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlabel(measure)
        ax.set_title(title, fontsize=st.figure_title_size, loc="left")
        fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=st.small_size, loc="lower right")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _path_band(frame, label_col: str, measure: str, pooled, title: str, style: ForestStyle = DEFAULT_STYLE):
    import matplotlib.pyplot as plt

    k = len(frame)
    x = np.arange(1, k + 1)
    est = frame["estimate"].to_numpy(float)
    st, pal = style, style.palette
    with plt.style.context(st.sheets), plt.rc_context(st.rc({"font.size": st.text_size})):
        fig, ax = plt.subplots(figsize=(st.path_width, st.band_height))
        ax.fill_between(x, frame["ci_lower"], frame["ci_upper"], color=pal.band, alpha=0.6, linewidth=0,
                        label="95% CI")
        ax.plot(x, est, color=pal.ink, lw=st.whisker_width, marker="." if k <= 2000 else None, ms=2, label="estimate")
        ax.axhline(pooled.estimate, color=pal.pool, lw=1, ls="--", label="all studies")
        lo, hi = float(np.nanmin(frame["ci_lower"])), float(np.nanmax(frame["ci_upper"]))
        if lo <= 0 <= hi:  # the null line only where it is inside the range shown (else it squashes the band)
            ax.axhline(0, color=pal.null, lw=st.line_width)
        from .forest import wrap_label

        far = np.argsort(-np.abs(est - pooled.estimate), kind="stable")[:3]
        for n, i in enumerate(far):
            # the whole label (wrapped, never cut: two arms of one trial must not read alike)
            lab = wrap_label(str(frame[label_col].iloc[i]), st.path_label)
            ax.annotate(lab, (x[i], est[i]), xytext=(4, (14, -16, 26)[n]),
                        textcoords="offset points", fontsize=7, color=pal.accent,
                        arrowprops=dict(arrowstyle="-", color=pal.accent, lw=0.5))
            ax.plot([x[i]], [est[i]], "o", color=pal.accent, ms=3)
        ax.set_xlim(0.5, k + 0.5)
        if label_col == "added":  # early steps (few studies, wide CIs) spread out, and not setting the y range
            ax.set_xscale("log")
            ax.set_xlim(0.9, k * 1.05)
            tail = frame.iloc[min(2, k - 1):]
            lo, hi = float(np.nanmin(tail["ci_lower"])), float(np.nanmax(tail["ci_upper"]))
            pad = 0.1 * (hi - lo or 1.0)
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("studies added (in order; log scale; the first two steps may run off the axis)"
                      if label_col == "added" else "study omitted (in data order)")
        ax.set_ylabel(measure)
        ax.set_title(f"{title}: {st.formats.n(k)} refits", fontsize=st.figure_title_size, loc="left")
        ax.legend(frameon=False, fontsize=st.small_size, loc="best")
        fig.tight_layout()
    return fig


def r_sensitivity_plot(frame, *, style: ForestStyle = DEFAULT_STYLE):
    """Pooled SMD against the assumed correlation r, drawn with seaborn (lineplot), 95% CI bands."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    st = style
    with sns.axes_style("ticks"), plt.rc_context(st.rc({"font.size": st.font_size})):
        fig, ax = plt.subplots(figsize=st.r_sensitivity_size)
        pal = sns.color_palette(st.palette.seaborn_palette)
        levels = list(dict.fromkeys(frame["analysis"]))
        sns.lineplot(data=frame, x="r", y="estimate", hue="analysis", hue_order=levels, marker="o",
                     palette=pal[: len(levels)], ax=ax)
        for color, lv in zip(pal, levels):
            f = frame[frame["analysis"] == lv]
            ax.fill_between(f["r"], f["ci_lower"], f["ci_upper"], color=color, alpha=0.15, linewidth=0)
        ax.axhline(0, color=st.palette.null, lw=st.line_width)
        ax.set_xlabel("assumed within-patient correlation r (crossover trials)")
        ax.set_ylabel("pooled SMD (Hedges' g)")
        ax.legend(frameon=False, fontsize=st.small_size, title=None)
        sns.despine(ax=ax)
        fig.tight_layout()
    return fig
