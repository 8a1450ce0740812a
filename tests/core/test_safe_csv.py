"""CSV exports: cells a spreadsheet would run as formulas are defused, everything else is kept."""

from __future__ import annotations

import pandas as pd

from core.safe_csv import safe_csv

BOM = b"\xef\xbb\xbf"


def test_text_cells_starting_a_formula_get_a_quote_and_others_are_left_alone() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx", "plain", " =x", "a=b", "", None],
            "n": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        }
    )
    assert safe_csv(frame) == BOM + (
        b"text,n\n'=HYPERLINK(1),1\n'+1,2\n'-2,3\n'@SUM(A1),4\n'\tx,5\nplain,6\n =x,7\na=b,8\n,9\n,10\n"
    )


def test_a_cell_starting_with_a_carriage_return_is_defused() -> None:
    out = safe_csv(pd.DataFrame({"text": ["\rcmd", "ok"]}))
    assert b"'\rcmd" in out and b"\n\rcmd" not in out


def test_numbers_are_not_text_and_keep_their_sign() -> None:
    frame = pd.DataFrame({"n": [-1, 2], "x": [-0.5, 1.5], "mixed": ["-3", -3]})
    assert safe_csv(frame) == BOM + b"n,x,mixed\n-1,-0.5,'-3\n2,1.5,-3\n"


def test_string_dtype_columns_are_defused_too() -> None:
    frame = pd.DataFrame({"s": pd.Series(["=x", "y"], dtype="string")})
    assert safe_csv(frame) == BOM + b"s\n'=x\ny\n"


def test_the_frame_given_is_not_changed_and_text_is_utf8() -> None:
    frame = pd.DataFrame({"text": ["=1", "café 🌿"]})
    out = safe_csv(frame)
    assert frame["text"].tolist() == ["=1", "café 🌿"]
    assert out.startswith(BOM)
    assert out.decode("utf-8-sig") == "text\n'=1\ncafé 🌿\n"
