"""Forest plots (presentation layer), after metafor ``forest()`` and meta ``forest.meta``.

A study row shows a square whose *area* is proportional to the study's weight in
the pooled model, its 95% CI as a whisker (an arrow where the CI runs off the
axis), data columns on the left and ``estimate [95% CI]`` and weight on the
right. Pooled results are diamonds spanning their CI, with a prediction-interval
bar, a heterogeneity line and the test of the overall effect. Subgroups get a
header, their own diamond and the between-subgroup test. Pending rows are listed
without a marker, so data gaps stay visible.

Drawn with matplotlib, styled with seaborn's ``ticks`` theme and its colour-blind-safe
palette (see :mod:`glumeta.style` on why the style sheets rather than ``import seaborn``).
Geometry, colours, the SVG hash salt and the number formats come from a
:class:`~glumeta.style.ForestStyle` passed as ``style=`` (default
:data:`~glumeta.style.DEFAULT_STYLE`). Output is deterministic: a fixed SVG hash salt and no
timestamps in SVG/PDF metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


from ..data.tables import is_missing
from ..stats.escalc import RATIO, label_format
from ..style import DEFAULT_STYLE, ForestStyle

__all__ = ["DERIVED_MARKS", "PAGE_ROWS", "ForestRow", "ForestGroup", "columns_of", "derived_marks", "forest",
           "forest_from_analysis", "forest_pages", "ForestPages", "layout", "log_ticks", "paginate", "save_figure", "summary_lines"]

#: The default style's label limits (:class:`~glumeta.style.ForestStyle`: ``max_label``,
#: ``char_in``, ``label_wrap``): characters of a shortened label; average width of a character at
#: the plot's 8.5 pt text, in inches; characters above which a study label wraps onto two lines.
MAX_LABEL = DEFAULT_STYLE.max_label
CHAR_IN = DEFAULT_STYLE.char_in
LABEL_WRAP = DEFAULT_STYLE.label_wrap


def wrap_label(label: str, limit: int = LABEL_WRAP) -> str:
    """*label* on one line, or on two (split at the space nearest its middle) when longer than *limit*;
    a word longer than *limit* is cut with a hyphen so that no line exceeds it by much.

    Examples
    --------
    >>> wrap_label("Daly 2018 (SYNAPSE)")
    'Daly 2018 (SYNAPSE)'
    >>> print(wrap_label("A study label that is much longer than forty characters"))
    A study label that is much
    longer than forty characters
    """
    s = " ".join(str(label).split())
    if len(s) <= limit:
        return s
    spaces = [i for i, ch in enumerate(s) if ch == " "]
    if spaces:
        cut = min(spaces, key=lambda i: abs(i - len(s) / 2))
        first, second = s[:cut], s[cut + 1:]
    else:
        first, second = s[:limit - 1] + "-", s[limit - 1:]
    return first + "\n" + second


def _label_width(label: str, limit: int = LABEL_WRAP) -> int:
    """Characters of the longest line of the wrapped *label*."""
    return max(len(line) for line in wrap_label(label, limit).split("\n"))

#: How a row's effect was obtained → its footnote mark and the footnote (methods appendix).
#: A row's ``derivation`` (glumeta.stats.escalc) is searched for each key.
DERIVED_MARKS = (
    ("SEM·√n", "a", "SD from the SEM (SD = SEM·√n)"),
    ("median and quartiles", "b", "mean and SD converted from median and quartiles (Luo 2018; Wan 2014)"),
    ("skewed", "s", "a skewed arm (Shi et al. 2023 test): the conversion is unreliable"),
    ("derived from", "c", "event counts derived from printed percentages"),
    ("exact p", "p", "SE from the exact p-value (normal approximation)"),
    ("SE from the 95% CI", "i", "SE from the 95% CI"),
    ("split over", "n", "shared control group split between the comparisons (Cochrane Handbook §23.3.4)"),
)


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
    #: False for a row shown beside the pool but not in it (drawn hollow, no weight)
    pooled: bool = True
    #: footnote marks after the estimate: derived or converted values (see :data:`DERIVED_MARKS`)
    marks: str = ""


@dataclass
class ForestGroup:
    """Rows pooled together, with their pooled :class:`~glumeta.stats.plan.Analysis`."""

    title: str | None
    rows: list[ForestRow]
    pooled: object | None
    pending: list[str] = field(default_factory=list)


def _sorted(rows: list[ForestRow], sort: str) -> list[ForestRow]:
    if sort == "entered":
        return list(rows)
    key = {"year": lambda r: (r.year or 0, r.label), "effect": lambda r: r.yi,
           "weight": lambda r: -r.weight}.get(sort)
    if key is None:
        raise ValueError("sort must be 'entered', 'year', 'effect' or 'weight'")
    return sorted(rows, key=key)


def _diamond(ax, est, lo, hi, y, h, color, tr, linewidth):
    from matplotlib.patches import Polygon

    poly = Polygon([(tr(lo), y), (tr(est), y + h), (tr(hi), y), (tr(est), y - h)], closed=True,
                   facecolor=color, edgecolor=color, linewidth=linewidth, zorder=3)
    poly.set_gid("diamond")
    ax.add_patch(poly)
    return poly


def layout(groups: list[ForestGroup], *, overall=None, subgroup_test=None, sort: str = "entered",
           outside: Sequence[ForestGroup] = ()) -> list[tuple]:
    """The plot's lines from top to bottom, as ``(kind, payload)``: ``header``, ``study``,
    ``pool``, ``pi``, ``note``, ``het``, ``test``, ``model``, ``sgtest``, ``pending`` and ``gap``
    (no drawing).

    A single study (k = 1) gets no diamond, heterogeneity or test line, only a note. The
    prediction interval is drawn for k ≥ 3 (t on k − 2 df, Higgins et al. 2009); otherwise, or
    when τ² = 0, a note says why it is missing or what it means. *outside* groups (rows shown
    but not pooled, each group titled with its reason) follow the pooled result."""
    lines: list[tuple[str, object]] = []
    for g in list(groups) + list(outside):
        for r in g.rows:
            r.marks = r.marks or ""
    for g in groups:
        if g.title:
            lines.append(("header", g.title))
        for r in _sorted(g.rows, sort):
            lines.append(("study", r))
        if g.pooled and g.title and len(groups) > 1:
            lines.append(("pool", (f"Subtotal ({g.pooled.k_text})", g.pooled, False)))
            lines.append(("het", g.pooled))
        if g.title and len(groups) > 1 and g.rows:
            lines.append(("gap", None))
    main = overall if overall is not None else (groups[0].pooled if len(groups) == 1 else None)
    if main is not None and main.k == 1:
        lines.append(("note", "One study (k = 1): nothing to pool; the study is shown as reported."))
    elif main is not None:
        label = "Random-effects model" if main.method != "FE" else "Common-effect model"
        lines.append(("pool", (f"{label} ({main.k_text})", main, True)))
        if main.method != "FE":
            pi_ok = main.pi_lower is not None and math.isfinite(main.pi_lower)
            if pi_ok:
                lines.append(("pi", main))
                if main.tau2 == 0:
                    lines.append(("note", "τ² is estimated as 0: the prediction interval reflects only the "
                                          "uncertainty of the mean."))
            else:
                lines.append(("note", f"No prediction interval: it needs k ≥ 3 (t on k − 2 df); here k = {main.k}."
                              if main.k < 3 else
                              f"No prediction interval: it needs at least 3 trials; here {main.k_text}."))
        lines.append(("het", main))
        lines.append(("test", main))
        # The model in words, one clause per line (estimator; test; prediction-interval rule), so
        # that the text stays left of the plot column instead of running across the null line.
        first, *rest = main.model.split("; ")
        lines.append(("model", "Model: " + first))
        lines.extend(("model", "    " + part) for part in rest)
    if subgroup_test:
        lines.append(("sgtest", subgroup_test))
    for g in outside:
        lines.append(("gap", None))
        lines.append(("header", g.title))
        lines.extend(("study", r) for r in _sorted(g.rows, sort))
    used = {m for g in list(groups) + list(outside) for r in g.rows for m in r.marks}
    foot = [f"{mark}  {text}" for _, mark, text in DERIVED_MARKS if mark in used]
    if foot:
        lines.append(("gap", None))
        lines.extend(("foot", f) for f in foot)
    pending = [p for g in groups for p in g.pending]
    if pending:
        lines.append(("gap", None))
        lines.append(("header", "Data pending (not pooled)"))
        lines.extend(("pending", p) for p in pending)
    return lines


#: Study rows per page of a paginated forest plot in the default style (``ForestStyle.page_rows``):
#: a page is then about 15 inches tall, readable on a screen and printable on one A4/Letter page.
#: Forest plots with more rows are split (:func:`paginate`) and summarised on the book page
#: (:func:`summary_lines`).
PAGE_ROWS = DEFAULT_STYLE.page_rows


def paginate(lines: list[tuple], rows_per_page: int = PAGE_ROWS) -> list[list[tuple]]:
    """Split the lines of :func:`layout` into pages of at most *rows_per_page* study rows.

    Every line is on exactly one page, in order; a page that starts inside a titled group repeats
    the group's title, marked "(continued)"; the pooled results, notes and footnotes follow the
    last study row of their group, as in one long figure.

    Examples
    --------
    >>> rows = [("study", i) for i in range(5)]
    >>> [len(p) for p in paginate([("header", "A")] + rows + [("pool", None)], 2)]
    [3, 3, 3]
    """
    pages: list[list[tuple]] = [[]]
    n = 0
    group = None
    for kind, pl in lines:
        if kind == "header":
            group = pl
        elif kind == "gap":
            group = None
        if kind == "study":
            if n == rows_per_page:
                pages.append([("header", f"{group} (continued)")] if group else [])
                n = 0
            n += 1
        pages[-1].append((kind, pl))
    return pages


def summary_lines(lines: list[tuple], pages: list[list[tuple]]) -> list[tuple]:
    """The lines of a forest plot with each run of study rows replaced by one note naming how many
    rows it holds and the pages of the full plot (:func:`paginate`) where they are drawn."""
    page_of = {id(pl): i + 1 for i, p in enumerate(pages) for kind, pl in p if kind == "study"}
    out: list[tuple] = []
    run: list = []

    def flush():
        if run:
            a, b = page_of[id(run[0])], page_of[id(run[-1])]
            where = f"page {a}" if a == b else f"pages {a}–{b}"
            pooled = sum(1 for r in run if r.pooled)
            what = (f"{len(run):,} comparisons" if pooled == len(run) else
                    f"{len(run):,} comparisons ({pooled:,} pooled)" if pooled else f"{len(run):,} comparisons, not pooled")
            out.append(("note", f"{what}: each drawn on {where} of the full forest plot"))
            run.clear()

    for kind, pl in lines:
        if kind == "study":
            run.append(pl)
            continue
        flush()
        out.append((kind, pl))
    flush()
    return out


class ForestPages:
    """The pages of a paginated forest plot, drawn one at a time (a thousand-row plot is 20 figures;
    drawing them on demand lets the caller save and close each before the next)."""

    def __init__(self, groups, pages: list[list[tuple]], all_lines: list[tuple], xlim, title, kw):
        #: *kw*: the other arguments of :func:`forest`, the style among them
        self.groups, self.pages, self.all_lines, self.xlim, self.title, self.kw = groups, pages, all_lines, xlim, title, kw

    def __len__(self) -> int:
        return len(self.pages)

    def draw(self, i: int):
        """Page *i* (from 0) as a Figure."""
        return forest(self.groups, lines=self.pages[i], scale_lines=self.all_lines, xlim=self.xlim,
                      title=self.title(f"page {i + 1} of {len(self.pages)}"), **self.kw)

    def __iter__(self):
        return (self.draw(i) for i in range(len(self.pages)))


def forest_pages(groups: list[ForestGroup], *, rows_per_page: int | None = None, title: str | None = None,
                 style: ForestStyle = DEFAULT_STYLE, **kw):
    """A forest plot too long for one readable figure: ``(summary, pages)``.

    *pages* (:class:`ForestPages`) draws figures of at most *rows_per_page* study rows each
    (default: the style's ``page_rows``; :func:`paginate`), every row on exactly one page, all with
    the same columns, x axis and square scale; *summary* is a Figure with the pooled results, tests
    and notes, and a note per group saying on which pages its rows are. Arguments as :func:`forest`."""
    rows_per_page = style.page_rows if rows_per_page is None else rows_per_page
    kw["style"] = style
    lines = layout(groups, overall=kw.get("overall"), subgroup_test=kw.get("subgroup_test"),
                   sort=kw.get("sort", "entered"), outside=kw.get("outside", ()))
    pages = paginate(lines, rows_per_page)
    xlim = kw.pop("xlim", None) or _x_range(lines)
    head = (lambda t: f"{title}: {t}") if title else (lambda t: t[:1].upper() + t[1:])
    summ = summary_lines(lines, pages)
    summary = forest(groups, lines=summ, scale_lines=[ln for ln in summ if ln[0] != "study"] or summ, xlim=xlim,
                     title=head(f"summary ({len(pages)} pages of at most {rows_per_page} rows in the full plot)"),
                     **kw)
    return summary, ForestPages(groups, pages, lines, xlim, head, kw)


def _x_range(lines) -> tuple[float, float]:
    """Axis limits on the analysis scale: every study and pooled CI, always with the null."""
    vals = []
    for kind, pl in lines:
        if kind == "study":
            vals += [pl.ci_lower, pl.ci_upper]
        elif kind == "pool":
            vals += [pl[1].ci_lower, pl[1].ci_upper]
    vals = [v for v in vals if v is not None and math.isfinite(v)] or [-1.0, 1.0]
    lo_, hi_ = min(min(vals), 0.0), max(max(vals), 0.0)
    pad = 0.05 * (hi_ - lo_ or 1.0)
    return lo_ - pad, hi_ + pad


@dataclass
class _Grid:
    """Column positions (figure fractions) and sizes (inches) of a forest plot."""

    specs: list
    width: float
    height: float
    x_plot: float
    w_plot: float
    x_label: float
    x_cols: list
    x_est: float
    x_wt: float
    indent: float


def _grid(left_headers, n_lines: int, label_chars: int = 0, col_chars: Sequence[int] = (),
          style: ForestStyle = DEFAULT_STYLE, text_in: float = 0.0) -> _Grid:
    # label | data columns | plot | estimate [CI] | weight, in inches; a header is "text"
    # (right-aligned, the style's col_width) or a tuple (text, width in inches, "left"|"right").
    # Columns widen to their longest text (label_chars, col_chars), so that nothing is cut.
    st = style
    specs = [(h, st.col_width, "right") if isinstance(h, str) else tuple(h) for h in left_headers]
    col_chars = list(col_chars) + [0] * (len(specs) - len(col_chars))
    specs = [(h, max(w, st.char_in * max(n, len(str(h))) + st.col_pad), al) for (h, w, al), n in zip(specs, col_chars)]
    w_label = max(st.label_width, st.char_in * label_chars + st.label_pad)
    # the texts that run across the label and data columns (headers, heterogeneity, test, model,
    # notes, footnotes) end left of the plot column: widen the label column when one would not
    w_label = max(w_label, text_in + st.label_pad - sum(w for _, w, _ in specs))
    w_plot, w_est, w_wt, gap, m, inset = st.plot_width, st.est_width, st.weight_width, st.gap, st.margin, st.col_inset
    w_cols = sum(w for _, w, _ in specs)
    width = m + w_label + w_cols + gap + w_plot + gap + w_est + w_wt + m
    x_plot = m + w_label + w_cols + gap
    x_cols, edge = [], m + w_label
    for _, w, al in specs:
        x_cols.append(((edge + w - inset) if al == "right" else (edge + inset)) / width)
        edge += w
    return _Grid(specs, width, st.height_base + st.row_height * (n_lines + 2), x_plot, w_plot, m / width, x_cols,
                 (x_plot + w_plot + gap) / width, (x_plot + w_plot + gap + w_est + w_wt - inset) / width,
                 st.indent / width)


#: line kinds whose text spans the label and data columns, and the size of their font relative to
#: the row text (bold headers are wider, the small kinds narrower)
_SPANNING = {"header": 1.12, "het": None, "test": None, "model": None, "sgtest": None, "foot": None, "note": None}


def _text_width(lines, style: ForestStyle = DEFAULT_STYLE) -> float:
    """Inches needed by the widest spanning text of *lines* (see ``_SPANNING``), indent included."""
    st, widest = style, 0.0
    for kind, pl in lines:
        if kind not in _SPANNING:
            continue
        if kind == "header":
            txt = _truncate(pl, st.header_chars)
        elif isinstance(pl, str):
            txt = pl
        else:  # het/test/sgtest: measured after drawing would be exact; these stay short
            continue
        factor = _SPANNING[kind] or st.small_size / st.font_size
        widest = max(widest, st.char_in * len(txt) * factor + (0.0 if kind in ("header", "foot") else st.indent))
    return widest


def forest(groups: list[ForestGroup], *, measure: str, left_headers: Sequence = (),
           favours: tuple[str, str] = ("Favours arm 1", "Favours arm 2"), xlabel: str | None = None,
           overall=None, subgroup_test=None, sort: str = "entered",
           xlim: tuple[float, float] | None = None, title: str | None = None, outside: Sequence[ForestGroup] = (),
           lines: list | None = None, scale_lines: list | None = None, style: ForestStyle = DEFAULT_STYLE):
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
    overall : pooled :class:`~glumeta.stats.plan.Analysis` over all groups (drawn after the groups).
    subgroup_test : :class:`~glumeta.stats.plan.SubgroupTest` of subgroup differences.
    sort : "entered", "year", "effect" or "weight" (within each group).
    outside : groups of rows shown below the pooled result but not pooled (titled with their reason).
    lines : the lines to draw (a page of :func:`paginate`); default: :func:`layout` of the groups.
    scale_lines : the lines that set column widths, the x range and the square sizes (default:
        *lines*), so that every page of one forest plot has the same columns, axis and scale.
    style : :class:`~glumeta.style.ForestStyle`
        Geometry, colours, hash salt and number formats (default :data:`~glumeta.style.DEFAULT_STYLE`).

    Drawn with one collection for all CI whiskers and one per kind of square, and the texts as
    figure texts (no per-row clip path): a row costs its texts, not a dozen artists.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    ratio = measure in RATIO
    tr = math.exp if ratio else (lambda v: v)
    if lines is None:
        lines = layout(groups, overall=overall, subgroup_test=subgroup_test, sort=sort, outside=outside)
    scale_lines = lines if scale_lines is None else scale_lines
    studies = [pl for kind, pl in scale_lines if kind == "study"]
    st = style
    g = _grid(left_headers, len(lines), max((_label_width(pl.label, st.label_wrap) + 2 for pl in studies), default=0),
              [max((len(str(pl.left[i])) for pl in studies if len(pl.left) > i), default=0)
               for i in range(len(left_headers))], st, _text_width(list(scale_lines) + list(lines), st))
    with plt.style.context(st.sheets), plt.rc_context(st.rc({"font.size": st.font_size, "font.family": st.font_family,
                                                             "axes.linewidth": st.axes_linewidth})):
        fig = plt.figure(figsize=(g.width, g.height))
        bottom_in, top_in = st.bottom, st.top + (st.title_space if title else 0.0)
        ax = fig.add_axes([g.x_plot / g.width, bottom_in / g.height, g.w_plot / g.width,
                           1 - (bottom_in + top_in) / g.height])
        ax.set_ylim(len(lines) - 0.4, -1.6)
        for sname in ("left", "right", "top"):
            ax.spines[sname].set_visible(False)
        ax.tick_params(axis="y", left=False, labelleft=False)
        xmin, xmax = xlim or _x_range(scale_lines)
        null = _x_axis(ax, ratio, xmin, xmax, st)
        d = _Drawer(ax, g, tr, (xmin, xmax), st, blended_transform_factory(fig.transFigure, ax.transData), measure,
                    scale_lines)
        d.headers()
        for y, (kind, pl) in enumerate(lines):
            getattr(d, kind)(y, pl)
        d.finish()
        ax.set_xlabel(measure if xlabel is None else xlabel, fontsize=st.font_size, labelpad=2)
        ax.tick_params(axis="x", labelsize=st.tick_size)
        dx, dy = st.favours_offset
        for side, txt in ((0, "← " + favours[0]), (1, favours[1] + " →")):
            ax.annotate(txt, xy=(null, 0), xycoords=("data", "axes fraction"), xytext=(-dx if side == 0 else dx, dy),
                        textcoords="offset points", ha="right" if side == 0 else "left", va="top",
                        fontsize=st.small_size)
        if title:
            fig.text(g.x_label, 1 - st.title_inset / g.height, title, ha="left", va="top", fontsize=st.title_size,
                     fontweight="bold")
        fig._glumeta = {"squares": d.squares, "ax": ax, "lines": lines, "ratio": ratio}
    return fig


def log_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Ticks for a ratio axis from *lo* to *hi*: the coarsest of the 1-2-5, 1-2-3-5 and finer
    sequences that gives at least four ticks, always with 1 when it is in range.

    Examples
    --------
    >>> log_ticks(0.8, 3.0)
    [1.0, 1.5, 2.0, 3.0]
    >>> log_ticks(0.01, 100)
    [0.01, 0.1, 1.0, 10.0, 100.0]
    """
    sequences = ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8),
                 tuple(1 + i / 10 for i in range(90)))
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    best: list[float] = []
    for seq in sequences:
        ticks = sorted({round(m * 10.0**d, 10) for d in decades for m in seq if lo <= m * 10.0**d <= hi})
        best = ticks
        if len(ticks) >= min(4, target):
            break
    if len(best) > 9:  # too many: thin, keeping 1
        step = math.ceil(len(best) / 7)
        one = min(range(len(best)), key=lambda i: abs(best[i] - 1.0))
        best = [t for i, t in enumerate(best) if (i - one) % step == 0]
    return best


def _x_axis(ax, ratio: bool, xmin: float, xmax: float, style: ForestStyle = DEFAULT_STYLE) -> float:
    """Scale, limits and ticks of the x axis; returns the null value (1 for ratios, else 0)."""
    if ratio:
        from matplotlib.ticker import FuncFormatter

        from matplotlib.ticker import FixedLocator, NullLocator

        ax.set_xscale("log")
        ax.set_xlim(math.exp(xmin), math.exp(xmax))
        ax.xaxis.set_major_locator(FixedLocator(log_ticks(math.exp(xmin), math.exp(xmax))))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: style.formats.tick(v)))
    else:
        from matplotlib.ticker import MaxNLocator

        ax.set_xlim(xmin, xmax)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    null = 1.0 if ratio else 0.0
    ax.axvline(null, color=style.palette.null, linewidth=style.line_width, zorder=1)
    return null


class _FigText:
    """The axes, except that ``text`` makes a figure text (same transform, no clip path: about half
    the cost of an axes text, which matters at a thousand rows)."""

    def __init__(self, ax, fig):
        self.ax, self.fig = ax, fig

    def text(self, x, y, s, **kw):
        return self.fig.text(x, y, s, **kw)

    def __getattr__(self, name):
        return getattr(self.ax, name)


class _Drawer:
    """Draws each kind of line of :func:`layout` at its y position."""

    def __init__(self, ax, grid: _Grid, tr, xlim, style: ForestStyle, transform, measure, lines):
        self.ax, self.g, self.tr, (self.xmin, self.xmax), self.measure = ax, grid, tr, xlim, measure
        self.st, pal, self.f = style, style.palette, style.formats
        self.c_study, self.c_pool, self.c_pool2, self.c_pi = pal.ink, pal.pool, pal.subtotal, pal.accent
        self.kw = dict(transform=transform, va="center", fontsize=style.text_size)
        self.small = dict(transform=transform, va="center", fontsize=style.small_size, color=pal.small_text)
        #: (marker size in points², weight %) of each pooled study's square, top to bottom
        self.squares: list = []
        self._segs, self._sq, self._hollow = [], [], []
        fig = ax.figure
        self.ax = _FigText(ax, fig)  # texts are figure texts; lines and patches go to the axes
        # points² per weight-percent: marker area ∝ weight, the heaviest study square_area pt² (150)
        self.size_scale = style.square_area / max([pl.weight for kind, pl in lines if kind == "study" and pl.weight] or [1.0])

    def headers(self):
        g, ax, kw = self.g, self.ax, self.kw
        ax.text(g.x_label, -1.0, "Study", fontweight="bold", **kw)
        for x, (h, _, al) in zip(g.x_cols, g.specs):
            ax.text(x, -1.0, h, fontweight="bold", ha=al, **kw)
        ax.text(g.x_est, -1.0, f"{self.measure} [95% CI]", fontweight="bold", **kw)
        ax.text(g.x_wt, -1.0, "Weight", fontweight="bold", ha="right", **kw)

    def _ci_text(self, est, lo, hi) -> str:
        tr, f = self.tr, self.f
        return f"{f.estimate(tr(est))} {f.ci(tr(lo), tr(hi), brackets=True)}"

    def gap(self, y, pl):
        pass

    def header(self, y, pl):
        self.ax.text(self.g.x_label, y, _truncate(pl, self.st.header_chars), fontweight="bold", **self.kw)

    def study(self, y, pl):
        ax, g, tr, kw = self.ax, self.g, self.tr, self.kw
        label = wrap_label(pl.label, self.st.label_wrap)
        if "\n" in label:  # two lines in one row: slightly smaller and tighter, still >= 8 pt
            ax.text(g.x_label + g.indent, y, label, **dict(kw, fontsize=self.st.small_size,
                                                          linespacing=self.st.wrapped_spacing))
        else:
            ax.text(g.x_label + g.indent, y, label, **kw)
        for x, (_, w, al), txt in zip(g.x_cols, g.specs, pl.left):
            ax.text(x, y, str(txt), ha=al, **kw)
        lo, hi = pl.ci_lower, pl.ci_upper
        clo, chi = max(lo, self.xmin), min(hi, self.xmax)
        if clo < chi:
            self._segs.append([(tr(clo), y), (tr(chi), y)])
        for off, edge in ((lo < self.xmin, self.xmin), (hi > self.xmax, self.xmax)):
            if off:
                back = edge + (0.04 if edge == self.xmin else -0.04) * (self.xmax - self.xmin)
                ax.annotate("", xy=(tr(edge), y), xytext=(tr(back), y),
                            arrowprops=dict(arrowstyle="-|>", color=self.c_study, lw=self.st.whisker_width,
                                            mutation_scale=7))
        if self.xmin <= pl.yi <= self.xmax and not pl.pooled:  # shown, not pooled: hollow, no weight
            self._hollow.append((tr(pl.yi), y))
        elif self.xmin <= pl.yi <= self.xmax:
            self._sq.append((tr(pl.yi), y, pl.weight * self.size_scale))
            self.squares.append((pl.weight * self.size_scale, pl.weight))
        marks = f" {','.join(pl.marks)}" if pl.marks else ""
        ax.text(g.x_est, y, self._ci_text(pl.yi, lo, hi) + marks, **kw)
        ax.text(g.x_wt, y, self.f.weight(pl.weight) if pl.pooled else "–", ha="right", **kw)

    def finish(self):
        """Draw the collected whiskers and squares, one collection each."""
        from matplotlib.collections import LineCollection

        ax = self.ax.ax
        if self._segs:
            ax.add_collection(LineCollection(self._segs, colors=self.c_study, linewidths=self.st.whisker_width, zorder=2,
                                             capstyle="butt"), autolim=False)
        if self._sq:
            x, y, s = zip(*self._sq)
            sc = ax.scatter(x, y, s=s, marker="s", color=self.c_study, zorder=3, linewidths=0)
            sc.set_gid("study-square")
        if self._hollow:
            x, y = zip(*self._hollow)
            sc = ax.scatter(x, y, s=self.st.hollow_area, marker="s", facecolors=self.st.palette.hollow,
                            edgecolors=self.c_study, zorder=3, linewidths=self.st.whisker_width)
            sc.set_gid("study-not-pooled")

    def pool(self, y, pl):
        lab, a, is_main = pl
        g, kw = self.g, self.kw
        self.ax.text(g.x_label + (0.0 if is_main else g.indent), y, lab, fontweight="bold" if is_main else None, **kw)
        _diamond(self.ax, a.estimate, a.ci_lower, a.ci_upper, y, self.st.diamond_half,
                 self.c_pool if is_main else self.c_pool2, self.tr, self.st.line_width)
        self.ax.text(g.x_est, y, self._ci_text(a.estimate, a.ci_lower, a.ci_upper),
                     fontweight="bold" if is_main else None, **kw)
        if is_main:
            self.ax.text(g.x_wt, y, self.f.weight(100.0), ha="right", fontweight="bold", **kw)

    def pi(self, y, a):
        tr, g = self.tr, self.g
        self.ax.plot([tr(max(a.pi_lower, self.xmin)), tr(min(a.pi_upper, self.xmax))], [y, y], color=self.c_pi,
                     linewidth=self.st.pi_width, solid_capstyle="butt", zorder=2, gid="prediction-interval")
        self.ax.text(g.x_label + g.indent, y, "Prediction interval", **self.kw)
        self.ax.text(g.x_est, y, self.f.ci(tr(a.pi_lower), tr(a.pi_upper), brackets=True), **self.kw)

    def het(self, y, a):
        f = self.f
        i2ci = a.i2_ci or (None, None)
        ci_txt = f" {f.ci(i2ci[0], i2ci[1], 0, brackets=True)}" if i2ci[0] is not None and math.isfinite(i2ci[0]) else ""
        txt = (f"Heterogeneity: τ² = {f.estimate(a.tau2, 3)}; I² = {f.i2(a.i2)}%{ci_txt}; "
               f"Q = {f.estimate(a.q, 2)}, df = {a.q_df}, {f.p(a.q_p)}") if a.k > 1 else \
            "Heterogeneity: not applicable (k = 1)"
        self.ax.text(self.g.x_label + self.g.indent, y, txt, **self.small)

    def foot(self, y, txt):
        self.ax.text(self.g.x_label, y, txt, **self.small)

    def note(self, y, txt):
        self.ax.text(self.g.x_label + self.g.indent, y, txt, style="italic", **self.small)

    def model(self, y, txt):
        self.ax.text(self.g.x_label + self.g.indent, y, txt, **self.small)

    def test(self, y, a):
        stat = "t" if a.test in ("knha", "adhoc") and a.df else "z"
        df_txt = f"({int(a.df)})" if stat == "t" else ""
        self.ax.text(self.g.x_label + self.g.indent, y,
                     f"Test for overall effect: {stat}{df_txt} = {self.f.estimate(a.z_or_t, 2)}, {self.f.p(a.p)}",
                     **self.small)

    def sgtest(self, y, a):
        self.ax.text(self.g.x_label + self.g.indent, y, "Test for subgroup differences: Q = "
                     f"{self.f.estimate(a.q_between, 2)}, df = {a.df}, {self.f.p(a.p)}", **self.small)

    def pending(self, y, pl):
        # cut to the room left of the plot column (never across the null line)
        room = int((self.g.x_plot - self.st.gap - self.st.margin - self.st.indent) / self.st.char_in)
        self.ax.text(self.g.x_label + self.g.indent, y, _truncate(pl, min(self.st.pending_chars, room)),
                     color=self.st.palette.pending,
                     style="italic", **self.kw)


def columns_of(data) -> list[dict]:
    """The left-hand data columns a data table (a :class:`~glumeta.data.workbook.Dataset` or a table
    name) declares for its forest plots (``forest_columns`` under ``glumeta:analysis``: header,
    row template, width, alignment)."""
    from ..data.workbook import resolve

    return resolve(data).analysis_plan().get("forest_columns", [])


def _headers(columns) -> list:
    return [c["header"] if "width" not in c else (c["header"], c["width"], c.get("align", "right")) for c in columns]


def derived_marks(derivation: str) -> str:
    """The footnote marks of a row's derivation text (:data:`DERIVED_MARKS`).

    Examples
    --------
    >>> derived_marks("Hedges' g from arm means and SDs; SD1 = SEM·√n; SD2 = SEM·√n")
    'a'
    """
    d = str(derivation or "")
    return "".join(mark for key, mark, _ in DERIVED_MARKS if key in d)


def _row(r, weight, columns, pooled: bool = True) -> ForestRow:
    rec = r.to_dict()
    # a split shared control shows its full n and, in parentheses, this comparison's share
    share = rec.get("control_share")
    if share and not is_missing(share) and share > 1 and not is_missing(rec.get("n_arm2")):
        rec["n_arm2"] = f"{rec['n_arm2']:g} ({rec['n_arm2'] / share:.3g})"
    return ForestRow(label=str(r["study"]), yi=float(r["yi"]), ci_lower=float(r["ci_lower"]),
                     ci_upper=float(r["ci_upper"]), weight=float(weight),
                     left=[label_format(c["template"], rec, c.get("replace", ())) for c in columns],
                     year=None if is_missing(r.get("year")) else int(r["year"]), pooled=pooled,
                     marks=derived_marks(r.get("derivation")))


def _outside_groups(analysis, columns) -> list[ForestGroup]:
    """The rows shown beside *analysis* but not pooled, one titled group per reason."""
    out = getattr(analysis, "outside", None)
    if out is None or not len(out):
        return []
    groups: dict = {}
    for _, r in out.iterrows():
        groups.setdefault(r["reason"], []).append(_row(r, 0.0, columns, pooled=False))
    return [ForestGroup(f"Not pooled: {reason}", rows, None) for reason, rows in groups.items()]


def forest_from_analysis(analysis, *, columns=(), group_by: str | None = None, analyses=(), pending=None,
                         sort: str = "entered", favours=("Favours arm 1", "Favours arm 2"), xlabel=None, title=None,
                         rows_per_page: int | None = None, style: ForestStyle = DEFAULT_STYLE):
    """Forest plot of one :class:`~glumeta.stats.plan.Analysis`.

    Each study row is drawn from the analysis' effect-frame rows: the CI shown is the
    row's ``ci_lower``/``ci_upper``, the same as in the data table and the exports.
    *columns* are the left-hand columns (:func:`columns_of`); *pending* the effect-frame
    rows listed as data gaps. With *group_by*, rows are split into subgroups using the
    ``<group_by>:<level>`` analyses in *analyses*. With *rows_per_page*, returns
    :func:`forest_pages`' ``(summary, pages)`` instead of one figure. *style*: the
    :class:`~glumeta.style.ForestStyle` to draw with.
    """
    if rows_per_page is None:
        def draw(g, **kw):
            return forest(g, style=style, **kw)
    else:
        def draw(g, **kw):
            return forest_pages(g, rows_per_page=rows_per_page, style=style, **kw)
    rows = [(r, _row(r, r["weight"], columns)) for _, r in analysis.rows.iterrows()]
    pend_labels = []
    if pending is not None:
        for _, r in pending.iterrows():
            src = str(r.get("source", "")).replace("https://", "").replace("http://", "")
            pend_labels.append(f"{r['label']} — {src}")
    headers = _headers(columns)
    outside = _outside_groups(analysis, columns)
    if group_by:
        by_id = {a.id: a for a in analyses}
        groups = []
        for lv in dict.fromkeys(r[group_by] for r, _ in rows):
            # weights shown are those of the overall model, so the column sums to 100%
            grp_rows = [fr for r, fr in rows if r[group_by] == lv]
            groups.append(ForestGroup(str(lv)[:1].upper() + str(lv)[1:], grp_rows, by_id.get(f"{group_by}:{lv}")))
        if pend_labels:
            groups.append(ForestGroup(None, [], None, pend_labels))
        return draw(groups, measure=analysis.measure, left_headers=headers, favours=favours, xlabel=xlabel,
                    overall=analysis, subgroup_test=by_id.get(f"subgroups:{group_by}"), sort=sort, title=title,
                    outside=outside)
    return draw([ForestGroup(None, [fr for _, fr in rows], analysis, pend_labels)], measure=analysis.measure,
                left_headers=headers, favours=favours, xlabel=xlabel, sort=sort, title=title, overall=analysis,
                outside=outside)


def save_dir(chapter: str, root: Path | None = None) -> Path:
    """``<_build>/figures/<chapter>``, created: ``<root>/_build``, else the current workbook's build
    folder (:attr:`glumeta.data.workbook.Workbook.build`: the book being built, else the repository's)."""
    from ..data.workbook import current

    out = (Path(root) / "_build" if root is not None else current().build) / "figures" / chapter
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_figure(fig, chapter: str, name: str, root: Path | None = None, formats=("svg", "pdf", "png"),
                style: ForestStyle = DEFAULT_STYLE) -> dict:
    """Write *fig* to ``_build/figures/<chapter>/<name>.{svg,pdf,png}``; returns the paths.

    ``_build`` is ``<root>/_build``, else the current workbook's (:func:`save_dir`).

    SVG: the style's fixed hash salt, no date metadata; PDF: no creation date — the same data
    give byte-identical files. The SVG is written first; its SHA-256 keys a cache
    (``_build/figures/.cache``) of the other formats, so a figure that a rebuild draws
    again unchanged is copied, not rendered again (each PNG or PDF render costs about
    0.3 s). Files are written to a temporary name and renamed, so an interrupted build
    never leaves a half-written figure behind.
    """
    import hashlib
    import os
    import shutil

    import matplotlib.pyplot as plt

    out = save_dir(chapter, root)
    cache = out.parent / ".cache"
    paths = {}
    key = None
    with plt.rc_context(style.rc({"svg.fonttype": "path"})):
        for ext in sorted(formats, key=lambda e: e != "svg"):  # the SVG first: it keys the cache
            p = out / f"{name}.{ext}"
            tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
            hit = cache / f"{key}.{ext}" if key else None
            if hit is not None and hit.exists():
                shutil.copyfile(hit, tmp)
            else:
                meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}.get(ext)
                # no bbox_inches="tight": the layout has explicit margins, and cropping costs an extra draw
                fig.savefig(tmp, format=ext, dpi=150 if ext == "png" else None, metadata=meta)
                if hit is not None:
                    cache.mkdir(exist_ok=True)
                    shutil.copyfile(tmp, hit)
            os.replace(tmp, p)
            if ext == "svg":
                key = hashlib.sha256(p.read_bytes()).hexdigest()
            paths[ext] = p
    return {ext: paths[ext] for ext in formats}
