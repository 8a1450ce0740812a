"""Step 1 · Data: upload behaviour exports, clean and validate them, keep every rejected row.

Reads events, user tables and baskets in any common encoding and delimiter, maps their columns
(English or Chinese headers), parses timestamps, and stores the cleaned dataset in the workspace.
An intake format goes here. May import: the base (``core.workspace``, ``core.clock``,
``core.textfiles``); no later step.
"""
