"""The committed metafor reference is what metafor computes now (runs the R script).

Skipped without R on a developer machine; with CI=true a missing R fails the run.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _flatten(x, prefix=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _flatten(v, f"{prefix}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, x


@pytest.mark.r
def test_reference_json_is_current(tmp_path):
    if shutil.which("Rscript") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Rscript not found: CI must install r-base-core and r-cran-metafor (.ci/run)")
        pytest.skip("R not installed")
    out = tmp_path / "ref.json"
    r = subprocess.run(["Rscript", "tests/reference/metafor_reference.R", str(out), "data"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    new = dict(_flatten(json.loads(out.read_text())))
    old = dict(_flatten(json.loads((ROOT / "tests/reference/metafor_reference.json").read_text())))
    assert new.keys() == old.keys(), "reference structure changed: run `make reference` and commit"
    for k in old:
        a, b = old[k], new[k]
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            assert np.isclose(a, b, rtol=1e-9, atol=1e-12), f"{k}: committed {a}, metafor now {b}"
        else:
            assert a == b, f"{k}: committed {a!r}, metafor now {b!r}"
