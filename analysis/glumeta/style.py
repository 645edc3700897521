"""Figure style shared by every figure module (forest, funnel, sensitivity plots).

seaborn's ``ticks`` theme and colour-blind-safe palette, taken from the copies of
seaborn's style sheets that matplotlib ships (``seaborn-v0_8-ticks``,
``seaborn-v0_8-colorblind``): ``import seaborn`` costs about a second per notebook
(it loads scipy.stats), a large share of an add-a-row rebuild, for two style
settings. seaborn itself draws the synthesis chapter's r-sensitivity figure
(:func:`glumeta.figures.r_sensitivity_plot`).
"""

__all__ = ["SEABORN_STYLE"]

#: seaborn's "ticks" theme and "colorblind" palette, as shipped with matplotlib.
SEABORN_STYLE = ["seaborn-v0_8-ticks", "seaborn-v0_8-colorblind"]
