"""``glumeta build``: validate the data, then build the book incrementally.

The data are checked first; any error stops the build before a chapter runs.
Jupyter Book 1 then rebuilds; :mod:`glumeta.sphinxext` makes each chapter's
declared data files, the schema and the glumeta sources dependencies of that
chapter, so exactly the chapters whose sources or inputs changed are re-read and
(in ``force`` mode) re-executed. The build never writes to ``data/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build(all_: bool = False, data_dir=None, root: Path | None = None) -> int:
    from .data import TABLES, check
    from .data import data_dir as _dd

    root = Path(root or ROOT)
    d = _dd(data_dir)
    probs = check(d, TABLES)
    errors = [p for p in probs if p.severity == "error"]
    for p in probs:
        print(p, file=sys.stderr)
    if errors:
        print(f"glumeta build: stopped: {len(errors)} data error(s); no chapter was run", file=sys.stderr)
        return 1
    env = dict(os.environ, GLUMETA_DATA_DIR=str(d), GLUMETA_BUILD_DIR=str(root / "_build"))
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    cmd = [jb, "build", str(root), "--builder", "html", "-W", "--keep-going"]
    if all_:
        cmd.append("--all")
    print("glumeta build:", " ".join(cmd), flush=True)
    return subprocess.call(cmd, env=env, cwd=root)
