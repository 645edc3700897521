"""Figure style shared by every figure module (forest, funnel, sensitivity plots, flow diagram).

:class:`ForestStyle` holds what a figure looks like and nothing of what it shows: the geometry
(row height, column widths, font sizes, rows per page, label wrap width …), the colour palette
(every colour of the figure modules, named once), the SVG hash salt and the number formatter
of each kind (:mod:`glumeta.formatting`). The drawing functions take it as a ``style=``
keyword (default :data:`DEFAULT_STYLE`) rather than reading module globals; a variant is
``dataclasses.replace(DEFAULT_STYLE, page_rows=30)``.

Colours and style sheets are seaborn's ``ticks`` theme and colour-blind-safe palette, taken
from the copies of seaborn's style sheets that matplotlib ships (``seaborn-v0_8-ticks``,
``seaborn-v0_8-colorblind``): ``import seaborn`` costs about a second per notebook (it loads
scipy.stats), a large share of an add-a-row rebuild, for two style settings. seaborn itself
draws the synthesis chapter's r-sensitivity figure (:func:`glumeta.views.figures.r_sensitivity_plot`).

This module and :mod:`glumeta.formatting` are the only ones that write a colour or the hash
salt (``tests/test_style.py`` greps the figure modules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import formatting

__all__ = ["SEABORN_STYLE", "HASHSALT", "Palette", "Formats", "ForestStyle", "DEFAULT_STYLE"]

#: seaborn's "ticks" theme and "colorblind" palette, as shipped with matplotlib.
SEABORN_STYLE = ["seaborn-v0_8-ticks", "seaborn-v0_8-colorblind"]

#: matplotlib's ``svg.hashsalt`` for every figure: with it (and no date in the metadata) the same
#: data give byte-identical SVGs.
HASHSALT = "glumeta"


@dataclass(frozen=True)
class Palette:
    """Every colour of the figures, named by what it draws."""

    #: study squares and whiskers, funnel points, leave-one-out/cumulative estimates
    ink: str = "#222222"
    #: heterogeneity, test, model and footnote lines of a forest plot
    small_text: str = "#333333"
    #: the funnel plot's "no asymmetry test" note; flow-diagram box edges and arrows
    note: str = "#444444"
    #: the null line (0 or 1) and the funnel's pooled-estimate line
    null: str = "#555555"
    #: pending rows listed under a forest plot
    pending: str = "#666666"
    #: seaborn "colorblind" 1st colour: the main diamond; the all-studies reference line
    pool: str = "#0072B2"
    #: seaborn "colorblind" 2nd colour: subgroup diamonds
    subtotal: str = "#009E73"
    #: seaborn "colorblind" 3rd colour: the prediction interval, Egger's line, the rows that move
    #: an estimate most
    accent: str = "#D55E00"
    #: fill of a study shown beside the pool but not in it (hollow square)
    hollow: str = "white"
    #: the funnel plot's pseudo 95% confidence region
    region: str = "#dddddd"
    #: the 95% CI band of a long leave-one-out or cumulative plot
    band: str = "#bbbbbb"
    #: flow-diagram boxes: listed, not excluded, with numbers
    flow_main: str = "#eef2f7"
    #: flow-diagram box: in the headline pool
    flow_primary: str = "#dff0e0"
    #: flow-diagram box: excluded
    flow_excluded: str = "#f7e4e1"
    #: flow-diagram box: pending
    flow_pending: str = "#fdf3d9"
    #: flow-diagram box: in sensitivity or other analyses only
    flow_other: str = "#e6eef9"
    #: seaborn palette of the r-sensitivity figure's lines (drawn by seaborn)
    seaborn_palette: str = "colorblind"


@dataclass(frozen=True)
class Formats:
    """The number formatter of each kind (:mod:`glumeta.formatting`): one per kind."""

    estimate: Callable = formatting.fmt
    ci: Callable = formatting.fmt_ci
    p: Callable = formatting.fmt_p
    weight: Callable = formatting.fmt_weight
    i2: Callable = formatting.fmt_i2
    n: Callable = formatting.fmt_n
    tick: Callable = formatting.fmt_tick


@dataclass(frozen=True)
class ForestStyle:
    """Geometry, colours, hash salt and number formats of the figures (lengths in inches, font
    sizes in points).

    Examples
    --------
    >>> from dataclasses import replace
    >>> DEFAULT_STYLE.page_rows, DEFAULT_STYLE.palette.pool, DEFAULT_STYLE.formats.p(0.0042)
    (50, '#0072B2', 'p = 0.004')
    >>> replace(DEFAULT_STYLE, page_rows=20).page_rows
    20
    >>> DEFAULT_STYLE.rc({"font.size": 9})
    {'svg.hashsalt': 'glumeta', 'font.size': 9}
    """

    palette: Palette = field(default_factory=Palette)
    formats: Formats = field(default_factory=Formats)
    hashsalt: str = HASHSALT
    #: matplotlib style sheets of the matplotlib-drawn figures
    sheets: tuple = tuple(SEABORN_STYLE)

    # ---- forest plot: text
    font_family: str = "DejaVu Sans"
    #: base font size (rc) of a forest plot, and of its x-axis label
    font_size: float = 9
    #: row texts (labels, cells, estimates, weights)
    text_size: float = 8.5
    #: heterogeneity, test and note lines; a study label wrapped onto two lines; the favours labels
    small_size: float = 8
    #: line spacing of a study label wrapped onto two lines
    wrapped_spacing: float = 0.95
    tick_size: float = 8
    title_size: float = 10
    axes_linewidth: float = 0.8
    #: average width of a character at the 8.5 pt text (DejaVu Sans), to size columns so that no
    #: label or cell is ever cut
    char_in: float = 0.068
    #: study labels longer than this wrap onto two lines (at the space nearest the middle) rather
    #: than widening the label column: one very long label would otherwise shrink the whole figure
    label_wrap: int = 40
    #: characters of a label shortened with "…"
    max_label: int = 34
    #: characters of a group header and of a pending row
    header_chars: int = 100
    pending_chars: int = 80
    #: study rows per page of a paginated forest plot: a page is then about 15 inches tall,
    #: readable on a screen and printable on one A4/Letter page
    page_rows: int = 50

    # ---- forest plot: geometry
    #: height of one line, and of the figure around the lines (height = base + row·(lines + 2))
    row_height: float = 0.26
    height_base: float = 1.25
    #: outer margin left and right; gap on each side of the plot; indent of rows under a header
    margin: float = 0.1
    gap: float = 0.15
    indent: float = 0.12
    #: a data column's default width, and the padding added to its longest text
    col_width: float = 0.62
    col_pad: float = 0.15
    #: inset of a column's text from its edge
    col_inset: float = 0.05
    #: the label column: at least this wide, else its longest label plus padding
    label_width: float = 2.35
    label_pad: float = 0.3
    plot_width: float = 3.0
    est_width: float = 1.85
    weight_width: float = 0.62
    #: space below the axes (tick labels, x label, favours) and above them (column headers; title)
    bottom: float = 0.85
    top: float = 0.35
    title_space: float = 0.3
    title_inset: float = 0.12
    #: half-height of a diamond, in rows
    diamond_half: float = 0.32
    #: marker area (points²) of the heaviest study's square; area of a hollow square
    square_area: float = 150.0
    hollow_area: float = 30.0
    whisker_width: float = 0.9
    pi_width: float = 2.2
    line_width: float = 0.8
    #: favours labels: offset from the null line and below the axis (points)
    favours_offset: tuple = (6, -34)

    # ---- other figures (inches; points)
    funnel_size: tuple = (5.2, 4.0)
    path_width: float = 7.6
    #: leave-one-out / cumulative plot height: base + row·k
    path_base: float = 1.2
    path_row: float = 0.28
    #: characters of a leave-one-out / cumulative row label (longer ones are shortened with "…")
    path_label: int = 40
    band_height: float = 3.6
    r_sensitivity_size: tuple = (6.4, 3.8)
    figure_title_size: float = 9.5
    flow_width: float = 9.6
    flow_font_size: float = 9.0
    #: flow-diagram arrows
    arrow_width: float = 0.9

    def rc(self, settings: dict | None = None) -> dict:
        """matplotlib rc settings of a figure: the hash salt, then *settings*."""
        return {"svg.hashsalt": self.hashsalt, **(settings or {})}


#: The style of every figure of the book.
DEFAULT_STYLE = ForestStyle()
