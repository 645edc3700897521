"""glumeta: re-compute and pool the effect sizes of glutamate-targeting antidepressant research.

Layers (each imports only from those before it), after metafor:

``data`` (validated tables) → ``effects`` (escalc: yi, vi) → ``models`` (rma: pooled
estimates) → ``sensitivity`` → ``analyses`` (one call per data file) →
``forest`` / ``tables`` (presentation) → ``ledger`` (reported vs re-computed).

Imports are lazy so that ``glumeta check`` and ``glumeta analyze`` start fast.
"""

__version__ = "0.1.0"
