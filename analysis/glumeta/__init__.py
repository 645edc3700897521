"""glumeta: re-compute and pool the effect sizes of glutamate-targeting antidepressant research.

The data flow as objects, after metafor (``escalc()`` returns what ``rma()`` takes, whose result
``forest()`` takes): an entry point makes a :class:`~glumeta.data.workbook.Workbook` (the data folder,
its schema read once, the tables a page may read); each table is a
:class:`~glumeta.data.workbook.Dataset`; ``escalc(ds)`` gives one effect per row, ``analyze(ds)`` the
pools the schema declares, and the views draw them.

Layers, lowest first, one subpackage each; a module imports only from its own layer and the
layers below it (``tests/test_layers.py`` checks every import, eager or lazy):

base (the modules at this top level)
    constants, paths, formatting (one formatter per kind of number), style (figure geometry,
    colours, the SVG hash salt), counts (GRIM), verdicts. Import nothing of glumeta's layers.
``glumeta.data``
    tables (CSV decoding, Table Schema constraints, representations), rules (the registry of
    named domain rules, thresholds in the schema), validate (whole-folder checks), workbook
    (Workbook, Dataset). May import base.
``glumeta.stats``
    effects (formulas), escalc (one effect per row), models (rma: pooled estimates, tests,
    prediction intervals), sensitivity, eligibility + plan (the analyses a schema declares),
    synthesis (cross-file), reproduce + ledger (reported vs re-computed). May import base and data.
``glumeta.views``
    forest, figures, flow (flow of studies), bias (risk of bias), findings (summary of findings),
    html (HTML shared by notebooks and the book), chapter (the notebook layer), export,
    dictionary. May import base, data, stats.
``glumeta.book`` and ``glumeta.cli``
    build, sphinxext, directives, inprocess, serve, preview, scaffold: the entry points, the only
    modules that read the environment. May import everything.

Imports are lazy so that ``glumeta check`` and ``glumeta analyze`` start fast.
"""

__version__ = "0.1.0"
