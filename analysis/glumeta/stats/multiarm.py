"""Multi-arm trials: one comparison per trial, the dose arms combined.

A trial with several dose arms against one shared control group contributes several
correlated comparisons. The book's main pools split the shared control between them
(Cochrane Handbook §23.3.4, the "split the shared group" option; :func:`glumeta.stats.escalc.split_shared_control`),
which removes the double counting of the control patients but not the correlation. The
Handbook recommends, in most situations, combining the arms into a single comparison
instead. This module approximates that for mean differences, as a sensitivity analysis: the K
contrasts of one trial against its shared control are combined by generalised least squares
with their covariance (Gleser & Olkin 2009, "Stochastically dependent effect sizes", in
*The Handbook of Research Synthesis and Meta-Analysis*, 2nd ed., ch. 19, multiple-treatment
studies; Borenstein et al. 2009, ch. 25), which is what metafor's
``rma.mv(yi, V, method = "FE")`` computes for those rows.

Covariance of two mean differences sharing a control group of ``n_c`` patients: both contain
the same control mean, so ``Cov(MD_i, MD_j) = Var(mean_c) = σ_c² / n_c``. With a common SD
within each contrast (the assumption that turns a reported SE into an SD, Cochrane Handbook
§6.5.2.3), ``s_i² = v_i / (1/n_i + 1/n_c)`` and ``σ_c² ≈ s_i·s_j`` for the pair.

Then, with ``V`` the K × K matrix (``v_i`` on the diagonal) and ``1`` a vector of ones,
``ŷ = (1ᵀV⁻¹1)⁻¹ 1ᵀV⁻¹ y`` and ``Var(ŷ) = (1ᵀV⁻¹1)⁻¹`` — a common-effect combination within
the trial (the arms are taken to estimate one effect of the intervention, as combining the
groups does). With one SD σ in every group, it is the sample-size-weighted mean of the arms with
variance ``σ²(1/N + 1/n_c)``: the Handbook's combined group (Table 6.5.a) without the between-arm
spread term of its combined SD.
"""

from __future__ import annotations

import numpy as np

from .escalc import with_effects

__all__ = ["arm_groups", "combine_arms", "gls_combine", "COMBINABLE"]

#: measures whose shared-control covariance is written here (mean differences on one scale)
COMBINABLE = ("MD",)


def arm_groups(rows) -> list[list[int]]:
    """Positions of the rows of *rows* that are arms of one parallel trial against one shared
    control at one time point (two or more rows each).

    Parameters
    ----------
    rows : pandas.DataFrame
        Effect-frame rows with ``study_id``, ``shared_control``, ``time`` and (optionally) ``design``.

    Returns
    -------
    list of list of int
        One list of row positions per multi-arm group; empty when there is none.

    Notes
    -----
    Crossover rows are never grouped: their comparisons share the same patients' sessions, not a
    control group (see :func:`glumeta.stats.plan.dependence_problem`).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"study_id": ["a", "a", "b"], "shared_control": ["a-pbo", "a-pbo", None],
    ...                   "time": ["24 h"] * 3, "design": ["parallel"] * 3})
    >>> arm_groups(f)
    [[0, 1]]
    """
    if not {"study_id", "shared_control", "time"} <= set(rows.columns):
        return []
    design = rows["design"] if "design" in rows else ["parallel"] * len(rows)
    groups: dict = {}
    for pos, (sid, key, t, d) in enumerate(zip(rows["study_id"], rows["shared_control"], rows["time"], design)):
        if d == "crossover" or key is None or key != key or key == "":
            continue
        groups.setdefault((sid, key, t), []).append(pos)
    return [g for g in groups.values() if len(g) > 1]


def gls_combine(yi, vi, n1, n_c) -> tuple[float, float]:
    """Combine K mean differences against one shared control of *n_c* patients.

    Parameters
    ----------
    yi, vi : array_like
        The arms' mean differences and their own (unsplit) sampling variances.
    n1 : array_like
        Patients in each arm.
    n_c : float
        Patients in the shared control group.

    Returns
    -------
    (float, float)
        The combined mean difference and its variance.

    Notes
    -----
    ``s_i² = v_i / (1/n_i + 1/n_c)``; ``V_ii = v_i``, ``V_ij = s_i·s_j / n_c`` (the shared control
    mean's variance, Gleser & Olkin 2009); ``ŷ = (1ᵀV⁻¹1)⁻¹ 1ᵀV⁻¹ y``, ``Var(ŷ) = (1ᵀV⁻¹1)⁻¹``, as
    metafor's ``rma.mv(yi, V, method = "FE")`` (checked in tests/reference/metafor_reference.R).

    Examples
    --------
    Two arms of 20 against 20 controls, SD 10 in every group (so v = 10 and Cov = 5): the
    GLS combination is the mean, with variance (10 + 5) / 2 = 7.5.

    >>> gls_combine([-4.0, -6.0], [10.0, 10.0], [20, 20], 20)
    (-5.0, 7.5)
    """
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    n1 = np.asarray(n1, float)
    s2 = v / (1 / n1 + 1 / float(n_c))  # each contrast's common SD², Cochrane Handbook §6.5.2.3
    V = np.sqrt(np.outer(s2, s2)) / float(n_c)  # Cov(MD_i, MD_j) = σ_c² / n_c (Gleser & Olkin 2009)
    np.fill_diagonal(V, v)
    w = np.linalg.solve(V, np.ones_like(y))
    var = 1.0 / w.sum()
    return float(var * (w @ y)), float(var)


def combine_arms(rows):
    """*rows* with the arms of each multi-arm trial (:func:`arm_groups`) replaced by one combined
    comparison (:func:`gls_combine`), or ``None`` when no trial has several arms.

    The combined row keeps the first arm's identifying columns (trial, time, design, source) and
    says which lines it combines in ``derivation``; ``n_arm1`` is the arms' total and the control
    is counted once (``control_share`` 1).

    Parameters
    ----------
    rows : pandas.DataFrame
        Effect-frame rows of one pool (:func:`glumeta.stats.escalc.escalc`), measure MD.

    Returns
    -------
    pandas.DataFrame or None
        The rows, one per trial and time point, with ``yi``, ``vi``, ``sei`` and the CI of the
        combined comparisons; ``None`` when no trial has several arms in *rows*.

    Raises
    ------
    ValueError
        For a measure whose shared-control covariance is not written here (not in ``COMBINABLE``).

    Notes
    -----
    Cochrane Handbook §23.3.4 recommends combining the groups into one comparison (approximated here); the book pools
    the split-control rows and shows this as a sensitivity analysis (``sensitivity:arms-combined``).

    Examples
    --------
    >>> from glumeta.stats.escalc import escalc
    >>> tab = escalc("esketamine_madrs")
    >>> daly = tab[(tab["study_id"] == "daly2018") & (tab["time"] == "24 h")]
    >>> c = combine_arms(daly)
    >>> len(c), round(float(c["yi"].iloc[0]), 3), int(c["n_arm1"].iloc[0]), int(c["n_arm2"].iloc[0])
    (1, -9.985, 34, 33)
    """
    groups = arm_groups(rows)
    if not groups:
        return None
    if set(rows["measure"]) - set(COMBINABLE):
        raise ValueError(f"arms can be combined only for {', '.join(COMBINABLE)}, not {sorted(set(rows['measure']))}")
    rows = rows.reset_index(drop=True)
    drop = [p for g in groups for p in g[1:]]
    keep = rows.copy()
    yi = keep["yi"].to_numpy(float).copy()
    vi = keep["vi_unsplit"].to_numpy(float).copy()
    how = list(keep["derivation_unsplit"])
    label = keep["label"].astype(object).to_numpy().copy()
    comparison = keep["comparison"].astype(object).to_numpy().copy() if "comparison" in keep else None
    n1 = keep["n_arm1"].to_numpy(float).copy()
    for g in groups:
        first = g[0]
        y, v = gls_combine(rows["yi"].iloc[g], rows["vi_unsplit"].iloc[g], rows["n_arm1"].iloc[g],
                           rows["n_arm2"].iloc[first])
        yi[first], vi[first], n1[first] = y, v, rows["n_arm1"].iloc[g].sum()
        lines = ", ".join(str(x) for x in rows["line"].iloc[g])
        how[first] = (f"{len(g)} arms (lines {lines}) combined into one comparison against the shared control, "
                      "by generalised least squares with the shared-control covariance "
                      "(Gleser & Olkin 2009; Cochrane Handbook §23.3.4)")
        label[first] = f"{rows['study'].iloc[first]}, {len(g)} arms combined" if "study" in rows else label[first]
        if comparison is not None:
            parts = [str(c).split(" vs ") for c in rows["comparison"].iloc[g]]
            comparison[first] = " + ".join(p[0] for p in parts) + (f" vs {parts[0][1]}" if len(parts[0]) > 1 else "")
    keep["label"] = label
    keep["n_arm1"] = n1
    if comparison is not None:
        keep["comparison"] = comparison
    keep = keep.drop(index=drop)
    dropped = set(drop)
    keepers = [i for i in range(len(rows)) if i not in dropped]
    # every remaining row stands alone now: its own variance, nothing split
    out = with_effects(keep.assign(shared_control=None), yi[keepers], vi[keepers], [how[i] for i in keepers])
    return out.reset_index(drop=True)
