"""`make lab`: JupyterLab, started headless as the Makefile starts it, serves a chapter as a notebook.

jupytext's contents manager (enabled by its server extension) turns ``book/*.md`` into notebooks;
the Makefile's settings override makes JupyterLab open Markdown files with the Jupytext Notebook
viewer. Skipped only when JupyterLab is not installed (`make test` and .ci/run install it with
`make lab-env`, from requirements-lab.lock).
"""

import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bookutil import ROOT

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None,
                                reason="JupyterLab not installed (make lab-env installs requirements-lab.lock)")

JUPYTER = Path(sys.executable).with_name("jupyter")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read().decode("utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"))
    log = (tmp / "lab.log").open("w")
    proc = subprocess.Popen([str(JUPYTER), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
                             "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
                             str(ROOT / "book" / "blood_glutamate.md"), *(["--allow-root"] if os.geteuid() == 0 else [])],
                            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(f"{base}/api/status", token)[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("jupyter lab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_chapter_opens_as_a_notebook(lab):
    base, token = lab
    status, body = _get(f"{base}/api/contents/book/esketamine.md?type=notebook&content=1", token)
    model = json.loads(body)
    assert status == 200 and model["type"] == "notebook" and model["format"] == "json"
    nb = model["content"]
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert any('Chapter("esketamine_madrs"' in s for s in code)
    assert any(c["cell_type"] == "markdown" and "# " in c["source"] for c in nb["cells"])


def test_lab_page_is_served(lab):
    base, token = lab
    status, html = _get(f"{base}/lab/tree/book/esketamine.md", token)
    assert status == 200 and "JupyterLab" in html


def test_markdown_opens_with_the_jupytext_viewer(lab):
    """`make lab-env` installs the settings override (defaultViewers: markdown → Jupytext Notebook)."""
    overrides = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    if not overrides.is_file():
        pytest.skip("JupyterLab installed without `make lab-env` (no settings override)")
    base, token = lab
    _, body = _get(f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin", token)
    settings = json.loads(body)
    viewers = settings["settings"].get("defaultViewers") or json.loads(settings["raw"] or "{}").get("defaultViewers")
    if viewers is None:  # overrides are applied as the schema's defaults
        viewers = settings["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers.get("markdown") == "Jupytext Notebook"
