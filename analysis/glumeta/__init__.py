"""glumeta: re-compute and pool the effect sizes of glutamate-targeting antidepressant research.

Layers (each imports only from those before it), after metafor:

``data`` (validated tables) → ``effects`` (formulas) → ``escalc`` (one effect per row:
yi, vi, CI) → ``models`` (rma: pooled estimates) → ``sensitivity`` → ``plan`` (the
analyses each schema declares) → ``forest`` / ``figures`` / ``chapter`` (presentation)
→ ``ledger`` (reported vs re-computed).

Imports are lazy so that ``glumeta check`` and ``glumeta analyze`` start fast.
"""

__version__ = "0.1.0"
