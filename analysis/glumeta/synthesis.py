"""Cross-drug synthesis: rapid-acting glutamatergic interventions on one SMD scale at ~24 h.

Each 24 h contrast becomes a standardised mean difference (Hedges' g):

* parallel trials: SD recovered from the SE of the (model-adjusted) mean difference,
  ``SD = SE/√(1/n1 + 1/n2)`` (Cochrane Handbook §6.5.2.3) — an *adjusted* SMD;
* crossover trials: Elbourne et al. (2002) parallel-equivalent SMD under an assumed
  within-patient correlation *r* (:func:`glumeta.effects.crossover_smd`), with
  n = patients contributing the active condition and the small-sample factor J(n − 1)
  (Hedges 1981) for the paired design.

Comparisons sharing a control group are pooled with the control split
(:func:`glumeta.analyses.split_shared_control`). Rows without a 24 h contrast are
listed as not on the scale, never imputed.
"""

from __future__ import annotations

import numpy as np

from . import effects as es
from .analyses import effect_table, pool_rows, split_shared_control
from .sensitivity import subgroups

__all__ = ["DRUGS", "r_sensitivity", "r_sensitivity_plot", "synthesis_rows", "synthesis"]

#: data file → drug label
DRUGS = {"esketamine_madrs": "Esketamine (intranasal)", "nitrous_oxide_hamd": "Nitrous oxide (inhaled)"}
TIME = "24 h"


def synthesis_rows(r: float = 0.5, directory=None, tables: dict | None = None):
    """Every complete 24 h contrast of the drug files as Hedges' g, with its derivation.

    *tables* may hold the files' effect tables (``effect_table``) to reuse across calls."""
    import pandas as pd

    parts = []
    for name, drug in DRUGS.items():
        t = (tables or {}).get(name)
        t = effect_table(name, directory) if t is None else t
        t = t[(t["status"] == "complete") & (t["time"] == TIME) & t["yi"].notna()].copy()
        se = np.sqrt(t["vi"].to_numpy())
        md = t["yi"].to_numpy()
        cross = (t["design"] == "crossover").to_numpy()
        g_par, v_par = es.smd_from_md_se(md, se, t["n_arm1"].astype(float), t["n_arm2"].astype(float))
        d_x, v_x, _ = es.crossover_smd(md, se, t["n_arm1"].astype(float), r)
        n = t["n_arm1"].astype(float).to_numpy()
        d_x = es.hedges_j(n - 1) * d_x  # small-sample correction with n − 1 df for the paired design
        t["yi"] = np.where(cross, d_x, g_par)
        t["vi"] = np.where(cross, v_x, v_par)
        t["derivation"] = np.where(
            cross, f"crossover: parallel-equivalent g under within-patient r = {r:g} (Elbourne 2002); " + t["derivation"],
            "parallel: g with SD = SE/√(1/n1+1/n2) from the adjusted MD (Cochrane §6.5.2.3); " + t["derivation"])
        t["drug"] = drug
        t["measure"] = "SMD"
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def synthesis(r: float = 0.5, method: str = "REML", test: str = "z", directory=None, tables=None) -> dict:
    """Pooled SMD overall and by drug, with the between-drug test. Returns dict of analyses by id."""
    rows = synthesis_rows(r, directory, tables)
    out = {"overall": pool_rows("overall", f"All drugs, SMD at {TIME} (r = {r:g})", rows, "SMD", method, test)}
    for drug in dict.fromkeys(rows["drug"]):
        sub = rows[rows["drug"] == drug]
        out[f"drug:{drug}"] = pool_rows(f"drug:{drug}", drug, sub, "SMD", method, test)
    vi, _ = split_shared_control(rows)
    _, t = subgroups(rows["yi"], vi, rows["drug"].to_numpy(), method, test)
    out["subgroups:drug"] = {"id": "subgroups:drug", "q_between": t["q_between"], "df": t["df"], "p": t["p"],
                             "measure": "SMD", "k": int(len(rows))}
    out["_rows"] = rows
    return out


def r_sensitivity(rs=None, method: str = "REML", directory=None):
    """Pooled SMD (overall and by drug) over a grid of assumed within-patient correlations."""
    import pandas as pd

    rs = np.round(np.arange(0.0, 0.91, 0.1), 2) if rs is None else rs
    tables = {name: effect_table(name, directory) for name in DRUGS}  # read and validate once
    out = []
    for r in rs:
        s = synthesis(float(r), method=method, directory=directory, tables=tables)
        for k, a in s.items():
            if k.startswith(("_", "subgroups")):
                continue
            out.append({"r": float(r), "analysis": a["label"].split(",")[0] if k == "overall" else a["label"],
                        "estimate": a["estimate"], "ci_lower": a["ci_lower"], "ci_upper": a["ci_upper"]})
    return pd.DataFrame(out)


def r_sensitivity_plot(frame):
    """Pooled SMD against the assumed correlation r, drawn with seaborn (lineplot), 95% CI bands."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    with sns.axes_style("ticks"), plt.rc_context({"svg.hashsalt": "glumeta", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        pal = sns.color_palette("colorblind")
        levels = list(dict.fromkeys(frame["analysis"]))
        sns.lineplot(data=frame, x="r", y="estimate", hue="analysis", hue_order=levels, marker="o",
                     palette=pal[: len(levels)], ax=ax)
        for color, lv in zip(pal, levels):
            f = frame[frame["analysis"] == lv]
            ax.fill_between(f["r"], f["ci_lower"], f["ci_upper"], color=color, alpha=0.15, linewidth=0)
        ax.axhline(0, color="#555555", lw=0.8)
        ax.set_xlabel("assumed within-patient correlation r (crossover trials)")
        ax.set_ylabel("pooled SMD (Hedges' g)")
        ax.legend(frameon=False, fontsize=8, title=None)
        sns.despine(ax=ax)
        fig.tight_layout()
    return fig
