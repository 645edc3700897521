"""Presentation settings in one place (issue #17, item 4): a :class:`glumeta.style.ForestStyle`
holds the figures' geometry, colours, SVG hash salt and number formats, and is passed in.

- no figure module writes a colour or the hash salt (``style.py`` names each once);
- every module that draws is a figure module (so the first check cannot be dodged);
- every drawing function takes ``style=``, default :data:`~glumeta.style.DEFAULT_STYLE`, and uses it;
- the formats of the style are :mod:`glumeta.formatting`'s, one per kind.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from glumeta import formatting
from glumeta.style import DEFAULT_STYLE, HASHSALT, Palette

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "analysis" / "glumeta"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "style.py")
#: the modules that draw figures (checked below: no other module draws)
FIGURE_MODULES = {"forest", "figures", "flow"}
#: matplotlib calls that make or draw on a figure
DRAWING = {"subplots", "add_axes", "add_patch", "scatter", "fill_between", "fill_betweenx", "axvline",
           "axhline", "errorbar", "lineplot"}
#: keyword arguments that take a colour
COLOUR_KW = {"color", "colors", "c", "fc", "ec", "facecolor", "facecolors", "edgecolor", "edgecolors"}
HEX = re.compile(r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?(?![0-9a-fA-F])")
SHORT_HEX = re.compile(r"#[0-9a-fA-F]{3,4}")


def _parse(source: str):
    """*source*'s syntax tree (an invalid escape in another module's string is not this test's business)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(source)


def _strings(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def colour_literals(source: str) -> list[str]:
    """``line: text`` of every colour written in *source*: a hex colour in any string, a string
    that is a short hex colour, or a string constant passed as a colour keyword."""
    tree = _parse(source)
    out = [f"{n.lineno}: {n.value!r}" for n in _strings(tree)
           if HEX.search(n.value) or SHORT_HEX.fullmatch(n.value)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            out += [f"{k.value.lineno}: {k.arg}={k.value.value!r}" for k in node.keywords
                    if k.arg in COLOUR_KW and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)]
        elif isinstance(node, ast.Dict):  # a colour in a dict literal, e.g. arrowprops=dict(...) as {...}
            out += [f"{v.lineno}: {k.value}: {v.value!r}" for k, v in zip(node.keys, node.values)
                    if isinstance(k, ast.Constant) and k.value in COLOUR_KW
                    and isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return out


def _draws(source: str) -> bool:
    tree = _parse(source)
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in DRAWING
               for n in ast.walk(tree))


def test_the_scan_catches_colours():
    src = ('x = "#222222"\ny = dict(color="white")\nz = "#abc"\nw = {"facecolor": "red"}\n'
           'ok = "issue #299 and #1633"\nok2 = dict(color=pal.ink)\n')
    assert sorted(int(v.split(":")[0]) for v in colour_literals(src)) == [1, 2, 3, 4]


@pytest.mark.parametrize("name", sorted(FIGURE_MODULES))
def test_figure_modules_name_no_colour(name):
    bad = colour_literals((PACKAGE / "views" / f"{name}.py").read_text(encoding="utf-8"))
    assert not bad, f"{name}.py writes colours (name them in glumeta/style.py Palette):\n" + "\n".join(bad)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_style_names_the_hash_salt(path):
    assert "hashsalt" not in path.read_text(encoding="utf-8"), \
        f"{path.name} sets the SVG hash salt: use ForestStyle.rc() (glumeta/style.py)"


def test_every_module_that_draws_is_a_figure_module():
    drawing = {p.stem for p in MODULES if _draws(p.read_text(encoding="utf-8"))}
    assert drawing <= FIGURE_MODULES, f"these modules draw figures: add them to FIGURE_MODULES: {drawing - FIGURE_MODULES}"
    assert drawing == FIGURE_MODULES


def test_every_colour_is_named_once():
    values = [f.default for f in dataclasses.fields(Palette)]
    hexes = [v for v in values if v.startswith("#")]
    assert len(hexes) == len(set(hexes))
    src = (PACKAGE / "style.py").read_text(encoding="utf-8")
    for h in set(hexes):
        assert src.count(f'"{h}"') == 1, h
    assert src.count(f'"{HASHSALT}"') == 1


def test_drawing_functions_take_the_style():
    from glumeta.views import figures, flow, forest

    for fn in (forest.forest, forest.forest_pages, forest.forest_from_analysis, forest.save_figure,
               figures.funnel_plot, figures.estimate_path_plot, figures.r_sensitivity_plot, flow.flow_figure,
               flow.flow_html):
        p = inspect.signature(fn).parameters.get("style")
        assert p is not None and p.default is DEFAULT_STYLE, fn.__qualname__


def test_style_is_frozen_and_formats_are_formattings():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_STYLE.page_rows = 10
    f = DEFAULT_STYLE.formats
    assert (f.estimate, f.ci, f.p, f.weight, f.i2, f.n, f.tick) == (
        formatting.fmt, formatting.fmt_ci, formatting.fmt_p, formatting.fmt_weight, formatting.fmt_i2,
        formatting.fmt_n, formatting.fmt_tick)
    # the forest module's constants are the default style's
    from glumeta.views import forest

    assert (forest.PAGE_ROWS, forest.LABEL_WRAP, forest.MAX_LABEL, forest.CHAR_IN) == (
        DEFAULT_STYLE.page_rows, DEFAULT_STYLE.label_wrap, DEFAULT_STYLE.max_label, DEFAULT_STYLE.char_in)


def _rows(k=7):
    from glumeta.views.forest import ForestRow

    return [ForestRow(f"Study {i} with a longer label", 0.1 * i - 0.3, 0.1 * i - 0.8,
                      0.1 * i + 0.2, 100.0 / k) for i in range(k)]


def _pooled(k=7):
    from glumeta.stats.models import pool

    return pool([0.1 * i - 0.3 for i in range(k)], [0.06] * k)


def _svg(fig, tmp_path, name, style=DEFAULT_STYLE) -> str:
    from glumeta.views.forest import save_figure

    p = save_figure(fig, "style", name, root=tmp_path, formats=("svg",), style=style)["svg"]
    plt.close(fig)
    return p.read_text(encoding="utf-8")


def test_the_style_passed_in_is_the_one_drawn(tmp_path):
    from glumeta.views.forest import ForestGroup, forest, forest_pages

    groups = [ForestGroup(None, _rows(), _pooled())]
    base = forest(groups, measure="SMD")
    default_svg = _svg(base, tmp_path, "default")
    assert DEFAULT_STYLE.palette.pool.lower() in default_svg.lower()
    # colours
    pink = dataclasses.replace(DEFAULT_STYLE, palette=dataclasses.replace(DEFAULT_STYLE.palette, pool="#ff00aa"))
    svg = _svg(forest(groups, measure="SMD", style=pink), tmp_path, "pink", pink)
    assert "#ff00aa" in svg.lower() and DEFAULT_STYLE.palette.pool.lower() not in svg.lower()
    # geometry: taller rows make a taller figure; a narrower wrap wraps the labels
    tall = dataclasses.replace(DEFAULT_STYLE, row_height=0.4)
    assert forest(groups, measure="SMD", style=tall).get_size_inches()[1] > base.get_size_inches()[1]
    narrow = dataclasses.replace(DEFAULT_STYLE, label_wrap=20)
    texts = [t.get_text() for t in forest(groups, measure="SMD", style=narrow).texts]
    assert any("\n" in t for t in texts) and not any("\n" in t.get_text() for t in base.texts)
    # pages: the style's page_rows
    summary, pages = forest_pages(groups, measure="SMD", style=dataclasses.replace(DEFAULT_STYLE, page_rows=3))
    assert len(pages) == 3
    # formats: a style with its own estimate formatter prints with it
    loud = dataclasses.replace(DEFAULT_STYLE, formats=dataclasses.replace(
        DEFAULT_STYLE.formats, estimate=lambda x, nd=2: "EST"))
    assert any(t.get_text().startswith("EST [") for t in forest(groups, measure="SMD", style=loud).texts)
    plt.close("all")


def test_hash_salt_comes_from_the_style(tmp_path):
    from glumeta.views.forest import ForestGroup, forest

    groups = [ForestGroup(None, _rows(), _pooled())]
    a = _svg(forest(groups, measure="SMD"), tmp_path, "a")
    b = _svg(forest(groups, measure="SMD"), tmp_path, "b")
    salted = dataclasses.replace(DEFAULT_STYLE, hashsalt="another salt")
    c = _svg(forest(groups, measure="SMD", style=salted), tmp_path, "c", salted)
    assert a == b and a != c


def test_one_formatter_per_kind():
    assert formatting.fmt_weight(0.0123) == "0.012%" and formatting.fmt_weight(12.34) == "12.3%"
    assert formatting.fmt_ci(-0.5, 0.25, brackets=True) == "[−0.50, 0.25]"
    assert formatting.fmt_i2(float("nan")) == "–" and formatting.fmt_i2(41.6) == "42"
    assert formatting.fmt_per1000(0.25) == "250" and formatting.fmt_per1000(1.01) == "1,000 (capped)"
    assert set(formatting.__all__) >= {"fmt", "fmt_ci", "fmt_p"}  # the names chapters and tests import


def test_funnel_legend_prints_p_as_the_prose_does():
    """Egger's p in the funnel legend is :func:`~glumeta.formatting.fmt_p`'s (it was ``.2f``, which
    printed a p below 0.005 as "p = 0.00"; p ≥ 0.01 prints as before)."""
    import numpy as np

    from glumeta.views.figures import funnel_plot
    from glumeta.stats.sensitivity import egger

    vi = np.linspace(0.01, 0.5, 15)
    yi = 0.2 + 1.5 * np.sqrt(vi) + np.tile([0.02, -0.02, 0.0], 5)  # strongly asymmetric
    p = egger(yi, vi)["p"]
    fig = funnel_plot(yi, vi, 0.3, "SMD", egger_line=True)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)
    assert p < 0.01 and f"Egger's test {formatting.fmt_p(p)}" in labels


def test_funnel_draws_the_egger_fit_it_is_given():
    """A page that reports Egger's test passes its fit to the funnel plot, which draws that fit
    (one fit per page, not two): the line and the legend come from the dict, not a refit."""
    import numpy as np

    from glumeta.views.figures import funnel_plot
    from glumeta.stats.sensitivity import egger

    vi = np.linspace(0.01, 0.5, 12)
    yi = 0.1 + np.sqrt(vi) * np.tile([1.0, -1.0, 0.5], 4)
    e = dict(egger(yi, vi), p=0.5, intercept=0.25, slope=2.0)  # a marked fit: a refit would differ
    fig = funnel_plot(yi, vi, 0.3, "SMD", egger_line=e)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    line = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("Egger")][0]
    plt.close(fig)
    assert f"Egger's test {formatting.fmt_p(0.5)}" in labels
    x, y = line.get_data()
    assert np.allclose(x, 0.25 + 2.0 * np.asarray(y))
    assert funnel_plot(yi, vi, 0.3, "SMD", egger_line=False).axes[0].texts[0].get_text().startswith("No asymmetry")
