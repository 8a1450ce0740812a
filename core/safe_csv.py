"""CSV exports that are safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd

__all__ = ["safe_csv"]

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM, so spreadsheets pick the encoding) with formula cells defused."""
    text_columns = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    out = frame.copy()
    for column in text_columns:
        out[column] = out[column].map(_defuse)
    return out.to_csv(index=False).encode("utf-8-sig")
