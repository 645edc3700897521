"""The views layer: what a reader sees, drawn from the statistics.

``forest`` and ``figures`` (plots; geometry and colours from ``glumeta.style``), ``flow`` (flow of
studies), ``bias`` (risk of bias), ``findings`` (summary of findings), ``html`` (HTML rendering
shared by notebooks and the book's directives, plain strings), ``chapter`` (the notebook layer:
IPython display objects and glue), ``export`` (CSV downloads), ``dictionary`` (the data
dictionary).

May import: the base modules, the data layer and the statistics layer. Never the book.
"""
