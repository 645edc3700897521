"""The docstring examples of the effect-size, model, conversion and reproduction layers run, and
every public function, class, method and property there has a numpydoc docstring with a runnable
Examples section (issue 17, item 6).

pytest's ``--doctest-modules`` (pyproject.toml) runs the same examples with no option flags; here
they run again with ``NORMALIZE_WHITESPACE | ELLIPSIS``, counted per public object, so that a
function whose Examples section is missing, empty or not run as a doctest fails by name.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re

import pytest

MODULES = ["glumeta.stats.effects", "glumeta.stats.models", "glumeta.stats.reproduce", "glumeta.verdicts", "glumeta.counts",
           "glumeta.stats.escalc", "glumeta.data.workbook", "glumeta.stats.ledger", "glumeta.stats.eligibility",
           "glumeta.stats.multiarm"]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
#: numpydoc's section order (https://numpydoc.readthedocs.io/en/latest/format.html)
ORDER = ["Parameters", "Attributes", "Returns", "Yields", "Receives", "Other Parameters", "Raises", "Warns",
         "Warnings", "See Also", "Notes", "References", "Examples", "Methods"]
SECTION = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}\s*$", re.M)


def public(mod) -> list[tuple[str, object]]:
    """``(qualified name, object)`` of every public function and class defined in *mod* (in
    ``__all__`` or not starting with ``_``; imports excluded), and of the public methods and
    properties those classes define themselves."""
    names = set(getattr(mod, "__all__", ())) | {n for n in vars(mod) if not n.startswith("_")}
    out = []
    for name in sorted(names):
        obj = getattr(mod, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj.__module__ != mod.__name__:
            continue  # constants (Z975, METHODS, ...) and imported names
        out.append((name, obj))
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, property):
                    out.append((f"{name}.{attr}", member.fget))
                elif inspect.isfunction(member):
                    out.append((f"{name}.{attr}", member))
    return out


def sections(doc: str) -> list[str]:
    return SECTION.findall(doc)


def _params(obj) -> list[str]:
    return [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    mod = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    tries = {}
    failed = attempted = 0
    for t in doctest.DocTestFinder().find(mod):
        r = runner.run(t, out=out.append)
        failed += r.failed
        attempted += r.attempted
        tries[t.name] = r.attempted
    objects = public(mod)
    assert failed == 0, "".join(out)
    assert attempted >= len(objects), (name, attempted, len(objects))
    untested = [q for q, _ in objects if tries.get(f"{name}.{q}", 0) == 0]
    assert not untested, f"{name}: no doctest example runs for {untested}"


@pytest.mark.parametrize("name", MODULES)
def test_public_objects_have_numpydoc_docstrings(name):
    mod = importlib.import_module(name)
    objects = public(mod)
    assert objects, name
    problems = []
    for qual, obj in objects:
        doc = inspect.getdoc(obj) or ""
        found = sections(doc)
        summary = doc.split("\n", 1)[0].strip()
        if not summary or SECTION.match(doc):
            problems.append(f"{qual}: no one-line summary")
        if "Examples" not in found:
            problems.append(f"{qual}: no Examples section")
        elif ">>>" not in doc.split("Examples\n--------", 1)[1]:
            problems.append(f"{qual}: Examples without a >>> line")
        unknown = [s for s in found if s not in ORDER]
        if unknown:
            problems.append(f"{qual}: sections not in numpydoc {unknown}")
        known = [s for s in found if s in ORDER]
        if known != sorted(known, key=ORDER.index) or len(set(known)) != len(known):
            problems.append(f"{qual}: sections out of numpydoc order {known}")
        if inspect.isclass(obj):
            if "Attributes" not in found and not issubclass(obj, BaseException):
                problems.append(f"{qual}: class without an Attributes section")
            continue
        if "Returns" not in found:
            problems.append(f"{qual}: no Returns section")
        if "." not in qual:  # module-level functions: their arguments, and the formula with its source
            if _params(obj) and "Parameters" not in found:
                problems.append(f"{qual}: no Parameters section")
            if "Notes" not in found:
                problems.append(f"{qual}: no Notes section")
            else:
                documented = doc.split("Parameters\n----------", 1)[-1].split("\nReturns\n", 1)[0]
                missing = [p for p in _params(obj) if not re.search(rf"(^|[ ,]){re.escape(p)}\b", documented, re.M)]
                if "Parameters" in found and missing:
                    problems.append(f"{qual}: parameters not documented {missing}")
    assert not problems, "\n".join(problems)


def test_the_checks_see_every_layer_function():
    """The public lists are not accidentally empty or short (a rename would hide a module's functions)."""
    counts = {n: len(public(importlib.import_module(n))) for n in MODULES}
    assert counts["glumeta.stats.effects"] >= 17 and counts["glumeta.stats.reproduce"] >= 12, counts
    assert {"pool", "fit_batch", "tau2_confint", "mantel_haenszel", "PoolResult"} <= {
        q for q, _ in public(importlib.import_module("glumeta.stats.models"))}
