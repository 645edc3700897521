"""The statistics layer: effect sizes, pooled models and the analyses a schema declares.

``effects`` (formulas), ``escalc`` (one effect per row of a Dataset: yi, vi, CI, derivation),
``models`` (rma: τ² estimators, tests, prediction intervals), ``sensitivity``, ``eligibility``
and ``plan`` (the declared pools), ``synthesis`` (across files), ``reproduce`` and ``ledger``
(reported numbers re-computed).

May import: the base modules at the package's top level and the data layer (``glumeta.data``).
Never the views or the book.
"""
