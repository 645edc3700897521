"""The data layer: the trial tables of ``data/`` read and validated, and the objects they travel in.

``tables`` (CSV decoding, Table Schema constraints, representations), ``rules`` (the registry of
named domain rules, thresholds in the schema), ``validate`` (whole-folder checks for
``glumeta check`` and the build), ``workbook`` (:class:`~glumeta.data.workbook.Workbook`,
:class:`~glumeta.data.workbook.Dataset`).

May import: the base modules at the package's top level (``paths``, ``constants``, ``counts``,
``formatting``, ``style``, ``verdicts``) and this layer. Nothing here imports pandas at import
time, so that ``glumeta check`` starts fast; nothing here writes to ``data/``.
"""
