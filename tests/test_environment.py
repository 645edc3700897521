"""pyproject.toml, environment.yml and requirements.lock agree; the critical pins hold."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> tuple[str, str]:
    name = re.split(r"[<>=!~ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")
    spec = req.strip()[len(name):].replace(" ", "")
    return name, spec


def _pyproject():
    d = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = d["project"]["dependencies"] + d["project"]["optional-dependencies"]["test"]
    return dict(_norm(x.split("#")[0]) for x in deps)


def _conda():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _norm(dep)
            if name not in ("python", "pip", "r-base", "r-metafor"):
                out[name] = spec
    return out


def test_environment_yml_matches_pyproject():
    assert _conda() == _pyproject()


def test_environment_yml_has_r_and_metafor():
    deps = [d for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("r-metafor") for d in deps) and any(d.startswith("r-base") for d in deps)


def test_critical_pins():
    py = _pyproject()
    assert py["jupyter-book"] == ">=1.0.4,<2"   # v2 rewrites _config.yml/_toc.yml into myst.yml
    assert py["pymare"] == ">=0.0.13"           # earlier versions have wrong SMD/RMD variances


def test_lock_satisfies_pyproject():
    from packaging.requirements import Requirement

    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            n, v = line.split("==")
            lock[n.lower().replace("_", "-")] = v.strip()
    for name, spec in _pyproject().items():
        assert name in lock, f"{name} missing from requirements.lock"
        assert Requirement(name + spec).specifier.contains(lock[name]), f"{name}=={lock[name]} violates {spec}"


def test_installed_versions_respect_pins():
    import importlib.metadata as md

    jb = md.version("jupyter-book")
    assert jb.startswith("1."), jb
    assert tuple(int(x) for x in md.version("pymare").split(".")[:3]) >= (0, 0, 13)
