"""glumeta: re-compute and pool the effect sizes of glutamate-targeting antidepressant research.

The data flow as objects, after metafor (``escalc()`` returns what ``rma()`` takes, whose result
``forest()`` takes): an entry point makes a :class:`~glumeta.data.workbook.Workbook` (the data folder,
its schema read once, the tables a page may read); each table is a
:class:`~glumeta.data.workbook.Dataset`; ``escalc(ds)`` gives one effect per row, ``analyze(ds)`` the
pools the schema declares, and the views draw them.

Layers, lowest first; a module imports only from its own layer and the layers below it
(``tests/test_layers.py`` checks every import, eager or lazy):

``base``
    constants, paths, formatting (one formatter per kind of number), style (figure geometry and
    colours), counts (GRIM), verdicts. Import nothing of glumeta above this line.
``data``
    data (CSV decoding, Table Schema constraints, representations), rules (the registry of
    named domain rules, thresholds in the schema), validate (whole-folder checks), workbook
    (Workbook, Dataset). May import base.
``statistics``
    effects (formulas), escalc (one effect per row), models (rma: pooled estimates, tests,
    prediction intervals), sensitivity, eligibility + plan (the analyses a schema declares),
    synthesis (cross-file), reproduce + ledger (reported vs re-computed). May import base and data.
``views``
    forest, figures, flow (flow of studies), bias (risk of bias), findings (summary of findings),
    export, dictionary, chapter (what a notebook chapter shows). May import base, data, statistics.
``book``
    build, sphinxext, directives, serve, scaffold, cli: the entry points, the only modules that
    read the environment. May import everything.

Imports are lazy so that ``glumeta check`` and ``glumeta analyze`` start fast.
"""

__version__ = "0.1.0"
