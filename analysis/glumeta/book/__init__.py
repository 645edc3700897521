"""The book layer: the entry points that build, serve and extend the book.

``build`` (``glumeta build``), ``sphinxext`` (the Sphinx extension: data files as dependencies
of pages), ``directives`` (the in-process pages), ``inprocess`` (chapters executed in the build's
process), ``serve`` and ``preview`` (live preview), ``scaffold`` (``glumeta new``). With
``glumeta.cli`` these are the only modules that read the environment; they make the
:class:`~glumeta.data.workbook.Workbook` the layers below are handed.

May import: everything.
"""
