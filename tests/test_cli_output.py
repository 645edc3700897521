"""What the CLI writes: `analyze --csv -` on standard output, a results CSV that redoes the pool
(in R metafor, from the file alone), and a ledger with a header row and a count per verdict."""

import csv
import io
import json
import shutil
import subprocess
import sys

import pytest

from bookutil import ROOT

NAME = "esketamine_madrs"  # a main pool of several studies, and rows outside it (other time points)


def glumeta(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "glumeta.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=300, cwd=cwd)
    return r


def test_csv_dash_writes_to_stdout(tmp_path):
    r = glumeta("analyze", NAME, "--csv", "-", "--test", "z", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert list(tmp_path.iterdir()) == []  # no file named "-"
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and {"row_type", "analysis", "included", "weight", "yi", "vi"} <= set(rows[0])
    kinds = {x["row_type"] for x in rows}
    assert kinds == {"study", "pooled"}


def test_csv_file_marks_inclusion_weights_and_pooled_rows(tmp_path):
    out = tmp_path / "res.csv"
    r = glumeta("analyze", NAME, "--csv", out, "--test", "z")
    assert r.returncode == 0 and f"wrote {out}" in r.stdout
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    res = json.loads(glumeta("analyze", NAME, "--json", "--test", "z").stdout)
    main = {a["id"]: a for a in res["analyses"]}["overall"]
    inc = [x for x in rows if x["row_type"] == "study" and x["included"] == "TRUE" and x["analysis"] == "overall"]
    assert len(inc) == main["k"]
    assert sorted((x["file"], int(x["line"])) for x in inc) == sorted((s["file"], s["line"]) for s in main["studies"])
    assert sum(float(x["weight"]) for x in inc) == pytest.approx(100)
    assert all(x["weight"] == "" for x in rows if x["row_type"] == "study" and x["included"] == "FALSE")
    pooled = [x for x in rows if x["row_type"] == "pooled" and x["analysis"] == "overall"]
    assert len(pooled) == 1
    p = pooled[0]
    assert float(p["yi"]) == pytest.approx(main["estimate"], rel=1e-12)
    assert float(p["ci_lower"]) == pytest.approx(main["ci_lower"], rel=1e-12)
    assert (p["method"], p["test"], int(p["k"])) == ("REML", "z", main["k"])


R_SCRIPT = r"""
suppressMessages(library(metafor))
d <- read.csv(commandArgs(TRUE)[1], stringsAsFactors = FALSE)
out <- list()
for (id in unique(d$analysis[d$row_type == "pooled"])) {
  s <- d[d$row_type == "study" & d$included & d$analysis == id, ]
  p <- d[d$row_type == "pooled" & d$analysis == id, ]
  # a single study (k = 1) names no tau^2 estimator: any gives tau^2 = 0, the study itself
  fit <- rma(yi, vi, data = s, method = if (is.na(p$method) || p$method == "") "REML" else p$method,
             test = p$test)
  out[[id]] <- list(k = fit$k, estimate = as.numeric(fit$b), se = fit$se, ci_lower = fit$ci.lb,
                    ci_upper = fit$ci.ub, tau2 = fit$tau2, weights = as.numeric(weights(fit)),
                    csv = list(estimate = p$yi, se = p$sei, ci_lower = p$ci_lower, ci_upper = p$ci_upper,
                               tau2 = p$tau2, k = p$k, weights = s$weight))
}
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


@pytest.mark.r
@pytest.mark.parametrize("name", [NAME, "nitrous_oxide_hamd"])
def test_results_csv_redone_in_metafor(tmp_path, name):
    """R reads the CSV alone, pools the included study rows of each main analysis with the model
    the pooled row names (method, test), and gets the pooled row and the weights."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed (.ci/run installs r-base-core and r-cran-metafor)")
    out = tmp_path / "res.csv"
    r = glumeta("analyze", name, "--csv", out, "--test", "z")
    assert r.returncode == 0, r.stderr
    script = tmp_path / "redo.R"
    script.write_text(R_SCRIPT, encoding="utf-8")
    r = subprocess.run(["Rscript", str(script), str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    fits = json.loads(r.stdout)
    assert "overall" in fits or any(k.startswith("overall:") for k in fits)
    for aid, f in fits.items():
        c = f["csv"]
        assert f["k"] == c["k"], aid
        for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
            assert c[key] == pytest.approx(f[key], rel=1e-6, abs=1e-8), (aid, key)
        assert c["weights"] == pytest.approx(f["weights"], rel=1e-6), aid


def test_ledger_prints_a_header_and_counts_per_verdict():
    r = glumeta("ledger")
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["check", "reported", "re-computed", "verdict"]
    assert set(lines[1]) == {"-"}
    summary = json.loads(glumeta("ledger", "--json").stdout)["summary"]
    i = next(i for i, ln in enumerate(lines) if ln.split()[:3] == ["verdict", "rows", "findings"])
    table = {ln.rsplit(None, 2)[0]: int(ln.rsplit(None, 2)[1]) for ln in lines[i + 1:] if ln.strip()}
    assert table == {**summary, "total": sum(summary.values())}
    n_rows = sum(1 for ln in lines[2:i] if ln.strip())
    assert n_rows == sum(summary.values())


def test_build_kernels_start_without_the_tcp_encryption_warning(tmp_path):
    """The build's kernels (myst-nb → nbclient) get CurveZMQ keys from their manager
    (glumeta.book.sphinxext), so ipykernel prints no 'running over TCP without encryption' line."""
    code = ("import nbformat, nbclient\n"
            "from glumeta.book.sphinxext import _encrypt_kernel_transport\n"
            "_encrypt_kernel_transport()\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print(6 * 7)')])\n"
            "nbclient.NotebookClient(nb, kernel_name='python3').execute()\n"
            "print(nb.cells[0].outputs[0]['text'].strip())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "42"
    assert "without encryption" not in r.stderr, r.stderr


def test_pyproject_license_is_an_spdx_string():
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(meta["project"]["license"], str)  # a TOML table is deprecated (setuptools ≥ 77)
    assert "templates/*.md" in meta["tool"]["setuptools"]["package-data"]["glumeta.book"]  # glumeta new's template


def test_pooled_results_csv_beside_the_study_csv(tmp_path, monkeypatch):
    """Issue #19: the page offers a pooled-results CSV beside the study-level one; every analysis is a row
    with its model, and the numbers equal glumeta analyze --json."""
    import csv
    import json as _json

    from glumeta.views.chapter import Chapter

    monkeypatch.setenv("GLUMETA_BUILD_DIR", str(tmp_path / "_build"))
    ch = Chapter("esketamine_madrs", "pooled-test")
    html = ch.downloads().data
    assert "pooled results (CSV)" in html and "study results (CSV)" in html
    rows = list(csv.DictReader((tmp_path / "_build" / "figures" / "pooled-test" / "esketamine_madrs-pooled.csv")
                               .open(encoding="utf-8")))
    by_id = {r["id"]: r for r in rows}
    js = {a["id"]: a for a in _json.loads(subprocess.run(
        [sys.executable, "-m", "glumeta.cli", "analyze", "esketamine_madrs", "--json"],
        capture_output=True, text=True, check=True).stdout)["analyses"]}
    assert set(by_id) == set(js)
    for aid, a in js.items():
        if "estimate" in a:
            assert abs(float(by_id[aid]["estimate"]) - a["estimate"]) < 1e-12
            assert by_id[aid]["model"] == a["model"]
            if a["k"] == 1:  # a single study: not a pool (test_single_study_rows_say_not_pooled)
                assert a["model"] == "Single study (not pooled)"
                assert (by_id[aid]["test"], by_id[aid]["method"], by_id[aid]["tau2"]) == ("z", "", "")
            else:
                assert by_id[aid]["test"] == a["test"] and by_id[aid]["method"] == a["method"]


def test_single_study_rows_say_not_pooled(tmp_path):
    """A main analysis of one study (k = 1) is written as what it is, in the study-level CSV
    (`analyze --csv`) and in the pooled-results CSV: 'Single study (not pooled)', the study's own
    estimate and normal-theory CI (test z), and no τ² estimator, τ², I², Q or prediction interval.
    The data: one row of metafor's dat.bcg in an analysis scaffolded in a copy of the repository."""
    from bookutil import copy_book
    from glumeta.data.workbook import Workbook
    from glumeta.stats.plan import analyze
    from glumeta.views.export import pooled_frame

    book = copy_book(tmp_path / "book")
    data = book / "data"
    r = glumeta("new", "one_trial", "--measure", "RR", "--book-dir", book, "--data-dir", data)
    assert r.returncode == 0, r.stderr
    with (data / "one_trial.csv").open("a", encoding="utf-8", newline="") as fh:
        header = (data / "one_trial.csv").read_text(encoding="utf-8").strip().split(",")
        row = dict.fromkeys(header, "") | {
            "study_id": "aronson-1948", "study": "Aronson 1948", "year": "1948", "status": "complete",
            "event_arm1": "4", "totaln_arm1": "123", "event_arm2": "11", "totaln_arm2": "139",
            "source": "metafor dat.bcg (Colditz et al. 1994, JAMA 271:698-702)", "locator": "row 1 of the data set",
            "secondary": "true"}
        csv.DictWriter(fh, fieldnames=header, lineterminator="\n").writerow(row)
    r = glumeta("analyze", "one_trial", "--csv", "-", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    study = [x for x in rows if x["row_type"] == "study" and x["included"] == "TRUE"]
    (p,) = [x for x in rows if x["row_type"] == "pooled"]
    assert len(study) == 1 and p["k"] == "1"
    assert p["model"] == "Single study (not pooled)"
    assert p["derivation"].startswith("single study, not pooled")
    assert p["test"] == "z"
    for col in ("method", "pi_rule", "pi_lower", "pi_upper", "tau2", "i2", "q", "q_df", "q_p", "df"):
        assert p[col] == "", col
    for a, b in (("yi", "yi"), ("ci_lower", "ci_lower"), ("ci_upper", "ci_upper"), ("sei", "sei")):
        assert float(p[a]) == pytest.approx(float(study[0][b]), rel=1e-9), a
    js = json.loads(glumeta("analyze", "one_trial", "--json", "--data-dir", data).stdout)
    assert {a["id"]: a for a in js["analyses"]}["overall"]["model"] == "Single study (not pooled)"

    pf = pooled_frame(analyze(Workbook(data).dataset("one_trial")))
    one = pf[pf["k"] == 1]
    assert len(one) and set(one["model"]) == {"Single study (not pooled)"} and set(one["test"]) == {"z"}
    for col in ("method", "pi_rule", "pi_lower", "pi_upper", "tau2", "tau2_ci", "i2", "i2_ci", "h2", "q"):
        assert set(one[col]) == {""}, col
