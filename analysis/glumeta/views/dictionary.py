"""The data dictionary, generated from ``data/datapackage.json`` (presentation layer)."""

from __future__ import annotations

import html

from ..data.workbook import current

__all__ = ["dictionary_html"]


def _constraints(f: dict) -> str:
    c = f.get("constraints", {})
    parts = []
    if c.get("required"):
        parts.append("required")
    if "enum" in c:
        parts.append("one of " + ", ".join(f"‘{e}’" for e in c["enum"]))
    for k, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤")):
        if k in c:
            parts.append(f"{sym} {c[k]}")
    if "pattern" in c:
        parts.append(f"pattern {c['pattern']}")
    if "maxLength" in c:
        parts.append(f"≤ {c['maxLength']} characters")
    return "; ".join(parts)


def dictionary_html(workbook=None) -> str:
    """One table per data file: column, type, unit, constraints, description; then key,
    accepted representations of a complete row and cross-field rules. All text escaped."""
    pkg = (workbook or current()).package
    out = []
    for res in pkg["resources"]:
        sch = res["schema"]
        out.append(f"<h3>{html.escape(res['path'])}</h3><p>{html.escape(res.get('title', ''))}</p>")
        rows = "".join(
            f"<tr><td><code>{html.escape(f['name'])}</code></td><td>{html.escape(f['type'])}</td>"
            f"<td>{html.escape(f.get('unit', ''))}</td><td>{html.escape(_constraints(f))}</td>"
            f"<td>{html.escape(f.get('description', ''))}</td></tr>" for f in sch["fields"])
        out.append('<div class="glumeta-table"><table class="table"><thead><tr><th>column</th><th>type</th>'
                   f"<th>unit</th><th>constraints</th><th>description</th></tr></thead><tbody>{rows}</tbody></table></div>")
        reps = "".join(f"<li>{html.escape(r['name'])}: " + ", ".join(
            html.escape(" or ".join(x) if isinstance(x, list) else x) for x in r["requires"]) + "</li>"
            for r in sch.get("glumeta:representations", []))
        rules = ", ".join(f"<code>{html.escape(r)}</code>" for r in sch.get("glumeta:rules", []))
        key = f"<p>Row key: <code>{html.escape(' + '.join(sch.get('primaryKey', [])))}</code>."
        if reps:
            out.append(f"{key} A <code>complete</code> row needs one of:</p><ul>{reps}</ul>")
        else:
            out.append(f"{key}</p>")
        if sch.get("glumeta:may_be_empty"):
            out.append("<p>The file may hold only its header (no rows).</p>")
        out.append(f"<p>Cross-field rules: {rules or 'none'}.</p>")
    return "".join(out)
