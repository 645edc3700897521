"""Cross-drug synthesis: rapid-acting glutamatergic interventions on one SMD scale at ~24 h.

Each 24 h contrast becomes a standardised mean difference (Hedges' g):

* parallel trials: SD recovered from the SE of the (model-adjusted) mean difference,
  ``SD = SE/√(1/n1 + 1/n2)`` (Cochrane Handbook §6.5.2.3) — an *adjusted* SMD;
* crossover trials: Elbourne et al. (2002) parallel-equivalent SMD under an assumed
  within-patient correlation *r* (:func:`glumeta.stats.effects.crossover_smd`), with
  n = patients contributing the active condition and the small-sample factor J(n − 1)
  (Hedges 1981) for the paired design.

Each drug contributes the rows its own headline pool admits (its file's declared
eligibility rules, :mod:`glumeta.stats.eligibility`: 24 h, and for nitrous oxide one
single 50% session per trial), so the synthesis compares like with like and
never counts one crossover trial's patients twice. Parallel comparisons sharing a
control group are pooled with the control split (:func:`glumeta.stats.escalc.with_effects`,
the same step as every effect frame). Rows without a 24 h contrast are listed as
not on the scale, never imputed.

What is synthesised is declared in ``data/datapackage.json`` at package level, like the
single-file analyses (``glumeta:synthesis``: its ``label``, the ``time``, the ``measure``,
the assumed crossover correlation ``r_assumed`` and the ``members``, each a ``resource``
with the ``label`` its subgroup shows); no code names the files (:func:`plan`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import effects as es
from .eligibility import evaluate, rules_of
from .escalc import escalc, with_effects
from .models import DEFAULT_TEST
from .plan import SubgroupTest, pool_frame
from .sensitivity import subgroups
from ..data.workbook import current

__all__ = ["DRUGS", "R_ASSUMED", "R_GRID", "R_SHOWN", "SynthesisPlan", "plan", "r_sensitivity", "synthesis_rows",
           "synthesis"]

#: The measures the synthesis can put its members on (the conversions below are to Hedges' g).
MEASURES = ("SMD",)
#: The grid of :func:`r_sensitivity` (0, 0.1, …, 0.9).
R_GRID = tuple(round(0.1 * i, 1) for i in range(10))


@dataclass(frozen=True)
class SynthesisPlan:
    """The package's ``glumeta:synthesis`` declaration, checked.

    *members* maps each member data file to the label of its subgroup, in the declared order.
    *r_assumed* is the assumed within-patient correlation between crossover periods: rarely
    reported; 0.5 is the conventional middle value (Elbourne et al. 2002; Cochrane Handbook
    §23.2.7.2 advises a sensitivity analysis over plausible values, :func:`r_sensitivity`)."""

    label: str
    time: str
    measure: str
    r_assumed: float
    members: dict

    @property
    def r_shown(self) -> tuple:
        """The values of r tabulated in the book: the assumed r and one either side of it."""
        return (0.3, self.r_assumed, 0.7)


def plan(workbook=None) -> SynthesisPlan:
    """The cross-file synthesis declared in ``datapackage.json`` (``glumeta:synthesis``) of
    *workbook* (default: the current one, :func:`glumeta.data.workbook.current`).

    Raises :class:`KeyError` when the package declares none, and :class:`ValueError` for a member
    that is not an analysis table or a measure the synthesis cannot convert to."""
    wb = workbook or current()
    decl = wb.package.get("glumeta:synthesis")
    if decl is None:
        raise KeyError("datapackage.json declares no 'glumeta:synthesis' (the cross-file synthesis)")
    members = {str(m["resource"]): str(m["label"]) for m in decl["members"]}
    unknown = [m for m in members if m not in wb.analyses()]
    if unknown:
        raise ValueError(f"glumeta:synthesis: member(s) {', '.join(unknown)} not among the analysis tables "
                         f"({', '.join(wb.analyses())})")
    if decl["measure"] not in MEASURES:
        raise ValueError(f"glumeta:synthesis: measure {decl['measure']!r} is not one of {', '.join(MEASURES)}")
    return SynthesisPlan(str(decl["label"]), str(decl["time"]), str(decl["measure"]), float(decl["r_assumed"]),
                         members)


def __getattr__(name: str):
    """``DRUGS`` (member data file → label), ``TIME``, ``R_ASSUMED`` and ``R_SHOWN``: values of
    the declared :func:`plan` of the repository's data folder, read when first asked for."""
    p = plan()
    values = {"DRUGS": dict(p.members), "TIME": p.time, "R_ASSUMED": p.r_assumed, "R_SHOWN": p.r_shown}
    if name in values:
        return values[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def synthesis_rows(r: float | None = None, workbook=None, tables: dict | None = None):
    """Every complete contrast of the member files at the declared time as Hedges' g, with its derivation.

    *r* defaults to the declared ``r_assumed``. *tables* may hold the files' effect frames
    (:func:`~glumeta.stats.escalc.escalc`) to reuse across calls.
    Each MD is converted with its own (unsplit) SE; the shared controls are then split on the SMD scale."""
    import pandas as pd

    wb = workbook or current()
    p = plan(wb)
    r = p.r_assumed if r is None else r
    parts = []
    for name, drug in p.members.items():
        ds = wb.dataset(name)
        t = (tables or {}).get(name)
        t = escalc(ds) if t is None else t
        admitted, _ = evaluate(t, rules_of(ds.analysis_plan()))
        t = t[(t["status"] == "complete") & (t["time"] == p.time) & t["yi"].notna() & admitted].copy()
        se = np.sqrt(t["vi_unsplit"].to_numpy())
        md = t["yi"].to_numpy()
        cross = (t["design"] == "crossover").to_numpy()
        g_par, v_par = es.smd_from_md_se(md, se, t["n_arm1"].astype(float), t["n_arm2"].astype(float))
        d_x, v_x, _ = es.crossover_smd(md, se, t["n_arm1"].astype(float), r)
        n = t["n_arm1"].astype(float).to_numpy()
        d_x = es.hedges_j(n - 1) * d_x  # small-sample correction with n − 1 df for the paired design
        md_how = list(t["derivation_unsplit"])  # the split is noted again on the SMD scale
        how = np.where(
            cross, [f"crossover: parallel-equivalent g under within-patient r = {r:g} (Elbourne 2002); {h}" for h in md_how],
            [f"parallel: g with SD = SE/√(1/n1+1/n2) from the adjusted MD (Cochrane §6.5.2.3); {h}" for h in md_how])
        t["drug"] = drug
        t["measure"] = p.measure
        parts.append(t.assign(yi=np.where(cross, d_x, g_par), vi_unsplit=np.where(cross, v_x, v_par), derivation=how))
    rows = pd.concat(parts, ignore_index=True)
    return with_effects(rows, rows["yi"], rows["vi_unsplit"], list(rows["derivation"]))


def synthesis(r: float | None = None, method: str = "REML", test: str = DEFAULT_TEST, workbook=None,
              tables=None, tau2_ci: bool = True) -> dict:
    """Pooled SMD overall and by drug, with the between-drug test. Returns dict of analyses by id.

    *r* defaults to the declared ``r_assumed``."""
    wb = workbook or current()
    p = plan(wb)
    r = p.r_assumed if r is None else r
    rows = synthesis_rows(r, wb, tables)
    m = p.measure
    head = f"{p.label}, {m} at {p.time} (r = {r:g})"
    out = {"overall": pool_frame("overall", head, rows, m, method, test, tau2_ci=tau2_ci)}
    if test != "z":
        out["sensitivity:z"] = pool_frame("sensitivity:z", f"{head}, z-test", rows, m, method, "z", tau2_ci=tau2_ci)
    for drug in dict.fromkeys(rows["drug"]):
        out[f"drug:{drug}"] = pool_frame(f"drug:{drug}", drug, rows[rows["drug"] == drug], m, method, test,
                                         tau2_ci=tau2_ci)
    _, t = subgroups(rows["yi"], rows["vi"], rows["drug"].to_numpy(), method, test)
    levels = tuple(dict.fromkeys(rows["drug"]))
    out["subgroups:drug"] = SubgroupTest("subgroups:drug", "Test for subgroup differences (drug)", m, method, test,
                                         int(len(rows)), float(t["q_between"]), int(t["df"]), float(t["p"]), levels)
    return out


def r_sensitivity(rs=None, method: str = "REML", workbook=None, test: str = DEFAULT_TEST):
    """Pooled SMD (overall and by drug) over a grid of assumed within-patient correlations."""
    import pandas as pd

    rs = R_GRID if rs is None else rs
    wb = workbook or current()
    tables = {name: escalc(wb.dataset(name)) for name in plan(wb).members}  # read and validate once
    out = []
    for r in rs:
        # the grid shows estimate, CI, τ², Q and I², not their Q-profile CIs: not computed here
        s = synthesis(float(r), method=method, test=test, workbook=wb, tables=tables, tau2_ci=False)
        for k, a in s.items():
            if k.startswith(("_", "subgroups", "sensitivity")):
                continue
            out.append({"r": float(r), "analysis": a.label.split(",")[0] if k == "overall" else a.label,
                        "k": a.k, "estimate": a.estimate, "ci_lower": a.ci_lower, "ci_upper": a.ci_upper,
                        "tau2": a.tau2, "q": a.q, "q_df": a.q_df, "i2": a.i2})
    return pd.DataFrame(out)
