"""Risk of bias per study: published judgments where they exist, and the concerns the data show.

Two different things, never mixed:

Published judgments
    read from ``data/risk_of_bias.csv``: each a domain, a judgment, the tool and the
    address of the assessment it was read from (e.g. the per-study tables of a Cochrane
    review, Higgins et al. 2011's RoB 1). A study with none is "not assessed": this
    workbook makes no risk-of-bias judgment of its own (a judgment needs two reviewers
    reading the full reports; Cochrane Handbook ch. 8), and never shows one nobody published.
Data concerns
    properties of the numbers entered, computed from the effect frame
    (:func:`glumeta.stats.escalc.escalc`) and labelled ``data concern: …``. They are not
    risk-of-bias judgments; they say where a number rests on a conversion, a derivation
    or a secondary report, which a reader weighing the evidence may want to know
    (GRADE handbook, "study limitations"; Cochrane Handbook §6.5.2 and §10.5.3 on
    conversions, §23.3.4 on shared control groups).

References
----------
Higgins JPT, Altman DG, Gøtzsche PC, et al. The Cochrane Collaboration's tool for assessing
risk of bias in randomised trials. BMJ 2011;343:d5928. doi:10.1136/bmj.d5928

Sterne JAC, Savović J, Page MJ, et al. RoB 2: a revised tool for assessing risk of bias in randomised
trials. BMJ 2019;366:l4898. doi:10.1136/bmj.l4898

Higgins JPT, Thomas J, Chandler J, et al. (eds). Cochrane Handbook for Systematic Reviews of
Interventions, version 6.4, 2023: ch. 8 (risk of bias), §6.5.2 (SDs from SEs, CIs, p values),
§10.5.3 (skewed data), §23.3.4 (multiple-arm trials).

Shi J, Luo D, Wan X, et al. Detecting the skewness of data from the five-number summary and
its application in meta-analysis. Stat Methods Med Res 2023;32:1338–1360.
"""

from __future__ import annotations

import html
import re

from ..stats.escalc import escalc
from ..data.workbook import current, resolve

__all__ = ["NOT_ASSESSED", "CONCERNS", "TOOL_DOMAINS", "domains_of", "coverage", "judgments_table", "published", "row_concerns", "bias_table", "bias_html", "BiasView"]

NOT_ASSESSED = "not assessed"

#: Each data concern: (key, text, test on one effect-frame row). The text is prefixed with "data concern: ".
CONCERNS = (
    ("secondary", "numbers (e.g. arm sizes) read from a secondary source (review, registry or news item), "
                  "not the trial report",
     lambda r: bool(r.get("secondary"))),
    ("completers", "arm sizes are completers only, not all randomised (the row's declared n_basis, "
                   "from its cited source)",
     lambda r: r.get("n_basis") == "completers"),
    ("missing_n", "arm sizes not in the data: its participants cannot be counted and no SMD can be formed",
     lambda r: _missing_n(r)),
    ("derived_counts", "event counts derived from printed percentages",
     lambda r: "derived from" in str(r.get("derivation", ""))),
    ("sd_from_sem", "SD computed from an SEM (SD = SEM·√n)",
     lambda r: "SEM·√n" in str(r.get("derivation", ""))),
    ("median_iqr", "mean and SD converted from median and quartiles (Luo 2018; Wan 2014)",
     lambda r: "median and quartiles" in str(r.get("derivation", ""))),
    ("skewed", "that median/IQR summary is skewed (Shi et al. 2023 test), so the conversion is doubtful",
     lambda r: bool(r.get("skewed"))),
    ("se_from_p", "SE computed from an exact p value (normal approximation)",
     lambda r: "SE from the exact p" in str(r.get("derivation", ""))),
    ("shared_control", "a control group shared by several comparisons, split between them",
     lambda r: "shared control (" in str(r.get("derivation", ""))),
)


def _missing_n(r) -> bool:
    cols = ("totaln_arm1", "totaln_arm2") if "totaln_arm1" in r else ("n_arm1", "n_arm2")
    for c in cols:
        v = r.get(c)
        try:
            if v is None or v != v or not float(v) > 0:
                return True
        except (TypeError, ValueError):
            return True
    return False


#: The domains of each risk-of-bias tool (matched in the ``tool`` cell, case and hyphens ignored):
#: Cochrane RoB 1 (Higgins et al. 2011) has 7, RoB 2 (Sterne et al. 2019) 5, so that a study with only
#: some domains recorded says so instead of looking completely assessed.
TOOL_DOMAINS = {"rob 1": 7, "rob 2": 5}


def domains_of(tool: str) -> int | None:
    """The number of domains of a risk-of-bias *tool* (:data:`TOOL_DOMAINS`), ``None`` when unknown.

    Examples
    --------
    >>> domains_of("Cochrane RoB 1"), domains_of("RoB-2"), domains_of("ROBINS-I")
    (7, 5, None)
    """
    t = re.sub(r"\s+", " ", str(tool).lower().replace("-", " "))
    for name, n in TOOL_DOMAINS.items():
        if re.search(rf"\b{name}\b", t):
            return n
    return None


def coverage(g) -> str:
    """How many of its tool's domains a study's published judgments *g* record, e.g. "3 of 7 domains
    recorded (Cochrane RoB 1); the other 4 are not in the data"; "" when every domain is recorded or the
    tool is unknown."""
    parts = []
    for tool, t in g.groupby("tool", sort=False):
        n = domains_of(tool)
        k = int(t["domain"].nunique())
        if n and k < n:
            parts.append(f"{k} of {n} domains recorded ({tool}); the other {n - k} are not in the data")
    return "; ".join(parts)


def judgments_table(workbook=None) -> str:
    """The table of published risk-of-bias judgments: the resource declaring
    ``"glumeta:role": "bias_judgments"`` in ``datapackage.json`` (of *workbook*, default the
    current one)."""
    name = (workbook or current()).role("bias_judgments")
    if name is not None:
        return name
    raise KeyError("datapackage.json declares no resource with \"glumeta:role\": \"bias_judgments\"")


def published(data=None):
    """The published judgments of ``data/risk_of_bias.csv`` (all, or those of one data table:
    a :class:`~glumeta.data.workbook.Dataset` or a table name).

    Examples
    --------
    >>> p = published("esketamine_madrs")
    >>> bool((p["source"].str.len() > 0).all())
    True
    """
    ds = None if data is None else resolve(data)
    wb = current() if ds is None else ds.workbook
    rob = wb.dataset(judgments_table(wb)).load()
    if ds is not None:
        rob = rob[rob["file"] == ds.name]
    return rob.reset_index(drop=True)


def row_concerns(row) -> list[str]:
    """The data concerns of one effect-frame row (a mapping), as keys of :data:`CONCERNS`.
    Only complete rows with an effect have numbers to be concerned about.

    Examples
    --------
    >>> row_concerns({"status": "complete", "yi": 0.1, "derivation": "SE from the exact p (normal approximation)",
    ...               "secondary": False, "skewed": False, "n_arm1": 20, "n_arm2": 22})
    ['se_from_p']
    >>> row_concerns({"status": "complete", "yi": 0.1, "n_arm1": None, "n_arm2": 22, "n_basis": "completers"})
    ['completers', 'missing_n']
    >>> row_concerns({"status": "pending", "yi": float("nan"), "secondary": True})
    []
    """
    y = row.get("yi")
    if row.get("status") != "complete" or y is None or y != y:
        return []
    return [key for key, _, test in CONCERNS if test(row)]


_TEXT = {k: t for k, t, _ in CONCERNS}


def _judgment_summary(g) -> str:
    tools = "; ".join(dict.fromkeys(g["tool"]))
    parts = "; ".join(f"{d}: {j}" for d, j in zip(g["domain"], g["judgment"]))
    cov = coverage(g)
    return f"{parts} ({tools})" + (f"; {cov}" if cov else "")


def bias_table(data):
    """One row per study (``study_id``) of a data table (a Dataset or a table name): ``study``, ``published risk of bias``
    (each published domain and judgment with its tool, or "not assessed"), ``source`` (the
    addresses of the judgments, ``; ``-separated; empty only where "not assessed"),
    ``data concerns`` (``data concern: …`` texts, with the rows they apply to when not all, or "none
    found in the numbers" / "– (no numbers analysed)"), ``concern_keys`` and ``concern_texts`` (lists).

    Examples
    --------
    >>> t = bias_table("ketamine_escitalopram").set_index("study_id")
    >>> t.loc["talati2019", "published risk of bias"]
    'not assessed'
    """
    import pandas as pd

    ds = resolve(data)
    tab = escalc(ds)
    rob = published(ds)
    out = []
    for sid, g in tab.groupby("study_id", sort=False):
        j = rob[rob["study_id"] == sid]
        recs = g.to_dict("records")
        per_row = [(r, row_concerns(r)) for r in recs]
        analysed = [(r, c) for r, c in per_row if r.get("status") == "complete" and r.get("yi") == r.get("yi")]
        keys = list(dict.fromkeys(k for _, c in analysed for k in c))
        texts = []
        for k in keys:
            which = [r for r, c in analysed if k in c]
            rows = "" if len(which) == len(analysed) else " (rows: " + ", ".join(str(r["label"]) for r in which) + ")"
            texts.append(f"data concern: {_TEXT[k]}{rows}")
        concerns = ("; ".join(texts) if texts else
                    "none found in the numbers" if analysed else "– (no numbers analysed)")
        out.append({"study_id": sid, "study": recs[0].get("study", sid),
                    "published risk of bias": _judgment_summary(j) if len(j) else NOT_ASSESSED,
                    "source": "; ".join(dict.fromkeys(j["source"])) if len(j) else "",
                    "data concerns": concerns, "concern_keys": keys, "concern_texts": texts})
    return pd.DataFrame(out, columns=["study_id", "study", "published risk of bias", "source", "data concerns",
                                      "concern_keys", "concern_texts"])


def _safe_url(u: str) -> str | None:
    u = str(u).strip()
    return u if u.startswith(("https://", "http://")) and '"' not in u and "<" not in u else None


class BiasView:
    """The risk-of-bias table of one data file as HTML: judgments with links to their sources,
    "not assessed" elsewhere, and the computed data concerns (all text escaped)."""

    def __init__(self, data):
        ds = resolve(data)
        self.name = ds.name
        self.table = bias_table(ds)
        self.judgments = published(ds)

    def sentence(self) -> str:
        n = len(self.table)
        judged = int((self.table["published risk of bias"] != NOT_ASSESSED).sum())
        tools = ", ".join(dict.fromkeys(self.judgments["tool"])) if len(self.judgments) else ""
        return (f"Risk of bias was not assessed for this workbook; {judged} of {n} studies have judgments "
                f"published by others{f' ({tools})' if tools else ''}, shown with their source, and the rest "
                "are marked “not assessed”. The data concerns are computed from the numbers entered; they are "
                "not risk-of-bias judgments.")

    def _repr_html_(self) -> str:
        body = []
        for _, r in self.table.iterrows():
            j = self.judgments[self.judgments["study_id"] == r["study_id"]]
            if len(j):
                items = []
                for _, x in j.iterrows():
                    url = _safe_url(x["source"])
                    src = (f'<a href="{html.escape(url)}">source</a>' if url else html.escape(str(x["source"])))
                    items.append(f"<li>{html.escape(x['domain'])}: <b>{html.escape(x['judgment'])}</b> "
                                 f"({html.escape(x['tool'])}; {src})</li>")
                cov = coverage(j)
                rob = (f'<ul class="glumeta-rob">{"".join(items)}</ul>'
                       + (f'<p class="glumeta-rob-coverage"><b>{html.escape(cov)}</b>.</p>' if cov else ""))
            else:
                rob = f"<i>{NOT_ASSESSED}</i>"
            texts = r["concern_texts"]
            conc = ("<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in texts) + "</ul>" if texts
                    else html.escape(r["data concerns"]))
            wrap = ' style="white-space:normal;min-width:14em"'
            body.append(f'<tr><td style="white-space:normal">{html.escape(str(r["study"]))}</td><td{wrap}>{rob}</td>'
                        f"<td{wrap}>{conc}</td></tr>")
        return (f'<p class="glumeta-rob-note">{html.escape(self.sentence())}</p><div class="glumeta-table">'
                '<table class="table"><thead><tr><th>study</th><th>published risk of bias<br>(domain: judgment; '
                'tool; source)</th><th>data concerns<br>(computed)</th></tr></thead><tbody>' + "".join(body) +
                "</tbody></table></div>")

    def __repr__(self) -> str:
        return f"<risk of bias of {self.name}: {len(self.table)} studies>"


def bias_html(data) -> BiasView:
    """The risk-of-bias table of a data table (a Dataset or a table name), shown as HTML in Jupyter and the in-process pages.

    In a chapter (whose front matter must declare ``risk_of_bias`` besides the data file):
    ``from glumeta.views.bias import bias_html`` then ``bias_html("esketamine_madrs")``.
    """
    return BiasView(data)
