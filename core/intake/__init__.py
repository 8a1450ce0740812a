"""Step 1 · Data: upload behaviour exports, clean and validate them, keep every rejected row.

Reads events, user tables and baskets in any common encoding and delimiter, maps their columns
(English or Chinese headers), parses timestamps, and stores the cleaned dataset in the workspace.
An intake format goes here. May import: the base (``core.workspace``, ``core.clock``,
``core.textfiles``); no later step.

Modules: ``inspection`` (what a sample of a file says: encoding, delimiter and header through
``core.textfiles``, kind, preview), ``mapping`` (header names onto canonical columns), ``ingest``
(the import itself, :func:`~core.intake.ingest.ingest`), ``blocks`` (streaming a file in Arrow
blocks), ``dedup`` (exact duplicate rows), ``cleaning`` (validating rows, with ``timestamps``),
``staging`` (Parquet files and rejected rows before the dataset is registered), ``reports``
(the counts, the ``--json`` contract) and ``errors`` (:class:`IngestError`).
"""
