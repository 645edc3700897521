"""A thousand trials per chapter (issue #21): paginated forest plots, leave-one-out and cumulative
analyses in bounded memory, figures linked from book pages and embedded in plain Jupyter."""

import time
import tracemalloc

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from glumeta.views.forest import PAGE_ROWS, ForestGroup, ForestRow, forest_pages
from glumeta.stats.models import METHODS, TESTS, fit_batch, pool
from glumeta.stats.sensitivity import _COLS, cumulative, leave_one_out


def _rows(k, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.normal(-4, 2.5, k)
    v = rng.uniform(1, 16, k)
    rows = [ForestRow(label=f"Study {i:04d}", yi=float(y[i]), ci_lower=float(y[i] - 1.96 * v[i] ** 0.5),
                      ci_upper=float(y[i] + 1.96 * v[i] ** 0.5), weight=100 / k, left=[str(20 + i % 50)])
            for i in range(k)]
    return rows, y, v


def test_forest_of_1000_rows_has_pages_of_at_most_page_rows_and_draws_every_row_once():
    rows, y, v = _rows(1000)
    half = len(rows) // 2
    a, b = pool(y[:half], v[:half]), pool(y[half:], v[half:])
    groups = [ForestGroup("First", rows[:half], a), ForestGroup("Second", rows[half:], b)]
    summary, pages = forest_pages(groups, measure="MD", left_headers=("N",), overall=pool(y, v))
    per_page = [[pl for kind, pl in p if kind == "study"] for p in pages.pages]
    assert len(pages) == -(-1000 // PAGE_ROWS)
    assert all(0 < len(p) <= PAGE_ROWS for p in per_page)
    drawn = [pl.label for p in per_page for pl in p]
    assert sorted(drawn) == sorted(r.label for r in rows) and len(set(drawn)) == 1000  # each row once
    # a page starting inside a group repeats its title
    assert any(kind == "header" and pl == "Second (continued)" for kind, pl in pages.pages[12])
    # the summary has no study row, the pooled results, and says where the rows are
    texts = [t.get_text() for t in summary.findobj(matplotlib.text.Text)]
    assert not any(t.startswith("Study 0") for t in texts)
    assert "500 comparisons: each drawn on pages 1–10 of the full forest plot" in texts
    assert any(t.startswith("Random-effects model (k = 1000)") for t in texts)
    # a drawn page: its rows and nothing else, the same x axis as every other page
    for i in (0, len(pages) - 1):
        fig = pages.draw(i)
        labels = [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text().startswith("Study ")]
        assert labels == [pl.label for pl in per_page[i]]
        assert fig._glumeta["ax"].get_xlim() == summary._glumeta["ax"].get_xlim()
        matplotlib.pyplot.close(fig)
    matplotlib.pyplot.close(summary)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", TESTS)
def test_leave_one_out_and_cumulative_equal_the_batched_fit(method, test):
    """The chunked refits give fit_batch's numbers on the k × k masks, for every method × test."""
    for seed, k in ((0, 2), (1, 3), (2, 7), (3, 30)):
        rng = np.random.default_rng(seed)
        y, v = rng.normal(0.4, 0.6, k), rng.uniform(0.01, 0.5, k)
        order = rng.permutation(k)
        idx = np.argsort(order, kind="stable")
        cases = [(leave_one_out(y, v, method=method, test=test), fit_batch(np.tile(y, (k, 1)), np.tile(v, (k, 1)),
                                                                           ~np.eye(k, dtype=bool), method, test)),
                 (cumulative(y, v, order, method=method, test=test),
                  fit_batch(np.tile(y[idx], (k, 1)), np.tile(v[idx], (k, 1)), np.tri(k, dtype=bool), method, test))]
        for got, ref in cases:
            for c in _COLS:
                np.testing.assert_allclose(np.asarray(got[c], float), np.asarray(ref[c], float), rtol=1e-9,
                                           atol=1e-11, err_msg=f"{method} {test} k={k} {c}")


def test_leave_one_out_of_10000_studies_in_seconds_and_bounded_memory():
    rng = np.random.default_rng(5)
    k = 10_000
    y, v = rng.normal(-4, 2.5, k), rng.uniform(1, 16, k)
    leave_one_out(y[:50], v[:50], method="DL")  # imports
    tracemalloc.start()
    t = time.perf_counter()
    loo = leave_one_out(y, v, method="DL", test="adhoc")
    cum = cumulative(y, v, np.arange(k), method="DL", test="adhoc")
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(loo) == len(cum) == k
    assert dt < 10, dt  # a few seconds on a shared 2-core machine; the k x k batch took minutes
    assert peak < 100e6, peak  # one k x k float matrix alone is 800 MB
    # spot checks against single fits
    for j in (0, 4321, k - 1):
        keep = np.arange(k) != j
        r = pool(y[keep], v[keep], method="DL", test="adhoc")
        assert loo["estimate"][j] == pytest.approx(r.estimate, rel=1e-10)
        assert loo["ci_lower"][j] == pytest.approx(r.ci_lower, rel=1e-10)
        assert loo["tau2"][j] == pytest.approx(r.tau2, rel=1e-9)
    r = pool(y[:100], v[:100], method="DL", test="adhoc")
    assert cum["estimate"][99] == pytest.approx(r.estimate, rel=1e-10)


def test_figures_are_linked_in_the_book_and_embedded_in_jupyter(monkeypatch):
    from glumeta.views.chapter import Chapter

    monkeypatch.delenv("GLUMETA_DECLARED", raising=False)
    ch = Chapter("esketamine_madrs", "scale")
    html = ch.forest("overall")._repr_html_()
    assert '<img src="data:image/png;base64,' in html
    monkeypatch.setenv("GLUMETA_DECLARED", "esketamine_madrs")
    html = ch.forest("overall")._repr_html_()
    assert '<img src="../figures/scale/forest-overall.png"' in html and "base64" not in html
    assert ch.last_figure_paths["png"].exists()
