"""Forest plots: checked from the plot objects, rendered to PNG."""

import math

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from glumeta.views.chapter import Chapter
from glumeta.views.forest import ForestGroup, ForestRow, forest, save_figure

CHAPTERS = [("blood_glutamate", "overall", None), ("blood_glutamate", "sensitivity:with-skewed", None),
            ("esketamine_madrs", "overall", "population"), ("esketamine_madrs", "time:day 28", None),
            ("nitrous_oxide_hamd", "overall", None), ("ketamine_escitalopram", "overall:remission", None)]


def _texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


@pytest.mark.parametrize("name,aid,group", CHAPTERS)
def test_chapter_forest(tmp_path, name, aid, group):
    ch = Chapter(name, "test")
    ch.forest(aid, group_by=group)
    fig = ch.last_figure
    a = ch.by_id[aid]
    ratio = a.measure in ("RR", "OR")
    tr = math.exp if ratio else (lambda v: v)
    # squares: area (scatter size, points²) proportional to weight
    sq = fig._glumeta["squares"]
    assert len(sq) == a.k
    ratios = [size / w for size, w in sq]
    assert np.allclose(ratios, ratios[0])
    weights = sorted(w for _, w in sq)
    assert np.allclose(weights, sorted(a.rows["weight"]))
    diamonds = [p for p in fig.findobj(matplotlib.patches.Polygon) if p.get_gid() == "diamond"]
    texts = _texts(fig)
    # rows shown beside the pool but not in it: hollow markers, no weight, a titled group per reason
    outside = [] if a.outside is None else list(a.outside["reason"])
    hollow = [c for c in fig.findobj(matplotlib.collections.PathCollection) if c.get_gid() == "study-not-pooled"]
    assert sum(len(c.get_offsets()) for c in hollow) == len(outside)
    for reason in set(outside):
        assert any(t.startswith("Not pooled: ") and reason[:40] in t for t in texts), reason
    if a.k == 1:  # nothing pooled: no diamond, no heterogeneity line, a note instead
        assert diamonds == []
        assert not any(t.startswith("Heterogeneity") for t in texts)
        assert any(t.startswith("One study (k = 1)") for t in texts)
        return
    # the model is named on the plot, from the result, one clause per line
    start = next(i for i, t in enumerate(texts) if t.startswith("Model: "))
    clauses = [texts[start][len("Model: "):]] + [t.strip() for t in texts[start + 1:start + a.model.count("; ") + 1]]
    assert "; ".join(clauses) == a.model
    # no text of the left-hand columns runs into the plot column (the model line used to cross the
    # null line on the esketamine plot)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    ax_left = fig._glumeta["ax"].get_window_extent(r).x0
    left_texts = [t for t in fig.texts + fig._glumeta["ax"].texts
                  if t.get_window_extent(r).x0 < ax_left and t.get_text().strip()]
    crossing = [t.get_text() for t in left_texts if t.get_window_extent(r).x1 > ax_left + 1]
    assert crossing == []
    # the prediction interval is drawn only for k >= 3 (t on k - 2 df), else a note says why
    pi_lines = [ln for ln in fig.findobj(matplotlib.lines.Line2D) if ln.get_gid() == "prediction-interval"]
    if a.pi_defined:
        assert len(pi_lines) == 1
        if a.tau2 == 0:
            assert any(t.startswith("τ² is estimated as 0") for t in texts)
    else:
        assert pi_lines == [] and any(t.startswith("No prediction interval: it needs") for t in texts)
    # the main diamond spans the pooled CI
    xy = diamonds[-1].get_xy()
    assert np.isclose(xy[:, 0].min(), tr(a.ci_lower)) and np.isclose(xy[:, 0].max(), tr(a.ci_upper))
    assert np.isclose(xy[1, 0], tr(a.estimate))
    # the text columns hold the pooled numbers
    f = lambda v: f"{v:.2f}".replace("-", "−")  # noqa: E731
    want = f"{f(tr(a.estimate))} [{f(tr(a.ci_lower))}, {f(tr(a.ci_upper))}]"
    assert want in _texts(fig)
    if a.k > 1:
        assert any(t.startswith("Heterogeneity: τ²") and f"df = {a.q_df}" in t for t in _texts(fig))
    png = tmp_path / "f.png"
    fig.savefig(png, dpi=80)
    assert png.stat().st_size > 5000


def _overlaps(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in fig.findobj(matplotlib.text.Text)
             if t.get_text().strip() and t.get_visible()]
    bad = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i][1], boxes[j][1]
            if a.overlaps(b) and (min(a.x1, b.x1) - max(a.x0, b.x0)) > 1 and (min(a.y1, b.y1) - max(a.y0, b.y0)) > 1:
                bad.append((boxes[i][0], boxes[j][0]))
    return bad


@pytest.mark.parametrize("k", [1, 60])
def test_no_overlapping_text(k):
    rng = np.random.default_rng(1)
    rows = [ForestRow(label=f"A very long study label number {i} that must be truncated somewhere", yi=float(rng.normal()),
                      ci_lower=-1.5 + i * 0.01, ci_upper=2.5, weight=100 / k, left=[str(20 + i), str(30 + i)])
            for i in range(k)]
    rows[0] = ForestRow(rows[0].label, rows[0].yi, -9.0, 9.0, rows[0].weight, rows[0].left)  # arrows both ends
    from glumeta.stats.models import pool

    yi = [r.yi for r in rows]
    p = pool(yi, [0.5] * k)
    fig = forest([ForestGroup(None, rows, p, ["Pending 2020 — example.org"])], measure="SMD",
                 left_headers=("N1", "N2"), xlim=(-3, 3))
    assert _overlaps(fig) == []
    assert fig.get_size_inches()[1] > 0.26 * k


def test_svg_is_deterministic(tmp_path):
    out = []
    for i in range(2):
        ch = Chapter("esketamine_madrs", f"det{i}")
        ch.forest("overall", group_by="population")
        paths = save_figure(ch.last_figure, f"det{i}", "f", root=tmp_path, formats=("svg",))
        out.append(paths["svg"].read_bytes())
    assert out[0] == out[1]


def test_split_control_n_and_derived_marks_are_shown():
    """Issue #19: a split shared control shows its full n and the comparison's share ("33 (11)"), and every
    derived or converted value carries a mark explained in a footnote on the same figure."""
    ch = Chapter("esketamine_madrs", "test")
    ch.forest("overall")
    texts = _texts(ch.last_figure)
    assert texts.count("33 (11)") >= 3  # Daly 2018's placebo group, three doses
    assert any(t.startswith("n  shared control group split") for t in texts)
    daly = [t for t in texts if t.startswith("−9.10 [")]
    assert daly and daly[0].endswith(" n")
    ch = Chapter("blood_glutamate", "test")
    ch.forest("sensitivity:with-skewed")
    texts = _texts(ch.last_figure)
    assert any(t.endswith(" b,s") for t in texts) and any(t.startswith("s  a skewed arm") for t in texts)
    assert any(t.endswith(" a") for t in texts) and any(t.startswith("a  SD from the SEM") for t in texts)
    # the units differ between the studies: a unit column says which
    assert "Unit" in texts and "ng/g" in texts and "µmol/L" in texts


def test_labels_are_never_cut():
    long = "A study label that is much longer than the old thirty-four characters"
    rows = [ForestRow(label=long, yi=0.1, ci_lower=-0.2, ci_upper=0.4, weight=100.0,
                      left=["esketamine 84 mg monotherapy, day 28 (a long cell)"])]
    from glumeta.stats.models import pool

    fig = forest([ForestGroup(None, rows, pool([0.1], [0.02]))], measure="SMD", left_headers=(("Arm", 1.0, "left"),))
    texts = _texts(fig)
    # a long label wraps onto two lines (every word kept) instead of widening the whole figure
    assert long in [t.replace("\n", " ") for t in texts] and any("\n" in t for t in texts)
    assert "esketamine 84 mg monotherapy, day 28 (a long cell)" in texts
    assert _overlaps(fig) == []
    short = forest([ForestGroup(None, [ForestRow(label="Short 2020", yi=0.1, ci_lower=-0.2, ci_upper=0.4, weight=100.0,
                                                 left=["esketamine 84 mg monotherapy, day 28 (a long cell)"])],
                                      pool([0.1], [0.02]))], measure="SMD",
                   left_headers=(("Arm", 1.0, "left"),))
    assert fig.get_size_inches()[0] - short.get_size_inches()[0] < 2.5  # not 70 characters wider


def test_log_axis_has_several_ticks():
    from glumeta.views.forest import log_ticks

    for lo, hi in [(0.5, 25.0), (0.8, 3.0), (0.05, 1.5), (1.1, 1.9)]:
        t = log_ticks(lo, hi)
        assert len(t) >= 3 and all(lo <= x <= hi for x in t), (lo, hi, t)
    ch = Chapter("ketamine_escitalopram", "test")
    ch.forest("overall:remission")
    ax = ch.last_figure._glumeta["ax"]
    assert len([x for x in ax.get_xticks() if ax.get_xlim()[0] <= x <= ax.get_xlim()[1]]) >= 4


@pytest.mark.parametrize("name", ["blood_glutamate", "esketamine_madrs", "nitrous_oxide_hamd", "ketamine_escitalopram"])
def test_no_text_runs_into_the_plot(name):
    """Every forest of every analysis: headers, notes, heterogeneity/test/model lines, footnotes and
    pending rows end left of the plot column (the model line used to cross the null line on the
    esketamine plot, a 'Not pooled' header and a pending row on the ketamine plot)."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    ch = Chapter(name, "test")
    drawn = 0
    for aid, a in ch.by_id.items():
        if not hasattr(a, "estimate") or a.k == 0:  # subgroup tests; analyses without rows
            continue
        ch.forest(aid)
        fig = ch.last_figure
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        r = canvas.get_renderer()
        ax_left = fig._glumeta["ax"].get_window_extent(r).x0
        texts = [t for t in fig.texts + fig._glumeta["ax"].texts
                 if not isinstance(t, matplotlib.text.Annotation) and t.get_text().strip()]  # not the favours labels
        crossing = [t.get_text() for t in texts if t.get_window_extent(r).x0 < ax_left < t.get_window_extent(r).x1 - 1]
        assert crossing == [], (aid, crossing)
        plt.close(fig)
        drawn += 1
    assert drawn >= 3


def test_a_pool_of_one_time_point_lists_only_its_pending_rows():
    """Janik 2025's pending rows are at day 28: the period-1-endpoint pool must not list them as its
    data gaps, the day-28 pool must."""
    ch = Chapter("esketamine_madrs", "test")
    assert "janik2025" not in set(ch.pending_for("time:period-1 endpoint")["study_id"])
    assert "janik2025" in set(ch.pending_for("time:day 28")["study_id"])
    assert set(ch.pending_for("time:day 28")["time"]) == {"day 28"}
