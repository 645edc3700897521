"""In-process execution (glumeta.book.inprocess) gives every chapter the outputs a fresh Jupyter kernel
gives: the same outputs, in the same order, with the same execution counts and format data.

Each chapter of the book is executed twice from its MyST source (jupytext): by nbclient in a new
kernel, as myst-nb's stock ``force`` mode does, and by :func:`glumeta.book.inprocess.execute_notebook`.
Stream outputs are compared after merging consecutive texts of one stream (a kernel splits them
at its flush times; the book merges them, ``nb_merge_streams``). Also: a failing cell and a cell
past its timeout are reported as nbclient reports them, so that glumeta.book.sphinxext names the page,
the cell and the cause.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from glumeta.book.sphinxext import declared

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md")
                  if "\nkernelspec:" in p.read_text(encoding="utf-8").split("\n---", 1)[0])


def _normal(nb) -> list:
    out = []
    for c in nb.cells:
        if c.get("cell_type") != "code":
            continue
        outs: list = []
        for o in c.get("outputs", []):
            o = json.loads(json.dumps(o))
            if o["output_type"] == "stream" and outs and outs[-1]["output_type"] == "stream" \
                    and outs[-1]["name"] == o["name"]:
                outs[-1]["text"] += o["text"]
                continue
            outs.append(o)
        out.append((c.get("execution_count"), outs))
    return out


@pytest.fixture()
def page_env(monkeypatch, tmp_path):
    def setup(path: Path):
        monkeypatch.setenv("GLUMETA_DATA_DIR", str(ROOT / "data"))
        monkeypatch.setenv("GLUMETA_BUILD_DIR", str(tmp_path / "_build"))
        monkeypatch.setenv("GLUMETA_DECLARED", ",".join(declared(path.read_text(encoding="utf-8")) or []))
    return setup


def test_there_are_chapters():
    assert len(CHAPTERS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_in_process_outputs_equal_a_kernels(path, page_env):
    import jupytext
    from nbclient import NotebookClient

    from glumeta.book import sphinxext
    from glumeta.book.inprocess import execute_notebook

    page_env(path)
    sphinxext._kernels_over_ipc()
    nb = jupytext.read(path)
    by_kernel, here = copy.deepcopy(nb), copy.deepcopy(nb)
    NotebookClient(by_kernel, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    res = execute_notebook(here, str(path.parent), timeout=300)
    assert res["error"] is None
    # the page's code lexer comes from language_info, which nbclient takes from the kernel
    assert here.metadata["language_info"] == by_kernel.metadata["language_info"]
    k, i = _normal(by_kernel), _normal(here)
    assert [c for c, _ in i] == [c for c, _ in k]
    for n, (a, b) in enumerate(zip(k, i)):
        assert b == a, f"{path.name}: code cell {n + 1} differs"
    assert any(outs for _, outs in i)  # the comparison saw outputs


def test_a_failing_cell_is_reported_as_nbclient_does(tmp_path):
    import nbformat
    from nbclient.exceptions import CellExecutionError

    from glumeta.book.inprocess import execute_notebook
    from glumeta.book.sphinxext import describe_failure

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1\nprint('hi')\nx"),
                                         nbformat.v4.new_code_cell("1 / 0"),
                                         nbformat.v4.new_code_cell("never = True")])
    res = execute_notebook(nb, str(tmp_path), timeout=30)
    assert isinstance(res["error"], CellExecutionError) and res["error"].ename == "ZeroDivisionError"
    assert nb.cells[0].outputs[0] == {"output_type": "stream", "name": "stdout", "text": "hi\n"}
    assert nb.cells[0].outputs[1]["data"]["text/plain"] == "1" and nb.cells[0].outputs[1]["execution_count"] == 1
    assert nb.cells[1].outputs[0]["output_type"] == "error" and nb.cells[2].get("outputs") == []

    class Raised(Exception):
        pass

    exc = Raised()
    exc.__cause__ = res["error"]
    msg = describe_failure(nb, tmp_path / "x.md", exc, 30)
    assert "code cell 2 (1 / 0): error: ZeroDivisionError: division by zero" in msg


def test_a_cell_past_its_timeout_is_stopped(tmp_path):
    import time

    import nbformat

    from glumeta.book.inprocess import CellTimeout, execute_notebook

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(30)")])
    t = time.perf_counter()
    res = execute_notebook(nb, str(tmp_path), timeout=1)
    assert isinstance(res["error"], CellTimeout) and time.perf_counter() - t < 10


def test_a_figure_left_open_is_shown_as_a_kernel_shows_it(tmp_path):
    """Figures open before the notebook are not its outputs; one a cell leaves open is a PNG."""
    import matplotlib.pyplot as plt
    import nbformat

    from glumeta.book.inprocess import execute_notebook

    plt.figure()  # left open by someone else in this process
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])\n1"),
                                         nbformat.v4.new_code_cell("2")])
    execute_notebook(nb, str(tmp_path))
    kinds = [o["output_type"] for o in nb.cells[0].outputs]
    assert kinds == ["execute_result", "display_data"], kinds
    assert "image/png" in nb.cells[0].outputs[1]["data"] and plt.get_fignums() == []
    assert [o["output_type"] for o in nb.cells[1].outputs] == ["execute_result"]


def test_each_notebook_starts_with_an_empty_namespace(tmp_path):
    import nbformat

    from glumeta.book.inprocess import execute_notebook

    first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("leaked = 1")])
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("'leaked' in dir()")])
    execute_notebook(first, str(tmp_path))
    execute_notebook(second, str(tmp_path))
    assert second.cells[0].outputs[0]["data"]["text/plain"] == "False"
    assert second.cells[0].execution_count == 1
