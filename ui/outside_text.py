"""Text that did not come from the app itself, kept inert wherever a page shows it.

Mentions, CSV values (topics become segment names and angles), dataset and segment names,
template previews and post text are written by people outside the app. Streamlit reads Markdown
in ``st.markdown``, captions, alerts and every widget or expander label, so such text could show
an image fetched from anywhere (a read receipt), colour itself (``:red[…]``), draw icons, links
or rules. :func:`md` makes a value safe to put into any of those; :func:`show` writes a value as
a block of plain text. Tables (``st.dataframe``) and widget values already show text as text.
"""

from __future__ import annotations

import html
import re

import streamlit as st

__all__ = ["diagram_label", "md", "md_block", "show"]

# A backslash makes a Markdown sign a plain character (CommonMark allows it before any ASCII
# punctuation). Escaped anywhere: code, emphasis, links and images (``[``), math, strikethrough,
# tables, HTML and autolinks (``<``), and a colon before a letter (``:red[``, ``:material/icon:``);
# an underscore only where it could open or close emphasis; at the start of a line only, what
# starts a block there (heading, quote, list, rule).
_INLINE_MARKUP = re.compile(r"[\\`*\[\]$~|<]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=[A-Za-z])")
# GitHub's bare links (``www.…``, ``http://…``, e-mail addresses) are found in the text after its
# escapes are read, so no escape stops them: they are shown as code instead, which is never a link.
_BARE_LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S*?(?=[.,;:!?'\")\]]*(?:\s|$))|[-.\w+]+@[-\w]+(?:\.[-\w]+)+")
_BLOCK_START = re.compile(r"^(\s*)(?:([#>+=-])|(\d+)([.)]))")
_DIAGRAM_MARKUP = re.compile(r"[`\"'<>\[\](){}*_#!|\\:;&%$~^=]")


def md(value: object) -> str:
    """``value`` as text to put into a Markdown string or a label: its Markdown signs escaped, on one line."""
    return _escape_line(" ".join(str(value).split()) if value is not None else "")


def md_block(value: object) -> str:
    """``value`` escaped like :func:`md`, keeping its line breaks (as Markdown hard breaks)."""
    return "  \n".join(_escape_line(line) for line in str(value if value is not None else "").splitlines())


def _escape_line(line: str) -> str:
    parts, start = [], 0
    for link in _BARE_LINK.finditer(line):
        parts += [_INLINE_MARKUP.sub(_escaped, line[start : link.start()]), _code(link.group(0))]
        start = link.end()
    line = "".join(parts) + _INLINE_MARKUP.sub(_escaped, line[start:])
    return _BLOCK_START.sub(
        lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"), line
    )


def _escaped(sign: re.Match) -> str:
    return "\\" + sign.group(0)


def _code(text: str) -> str:
    """``text`` as a Markdown code span, its fence longer than any run of backticks inside it."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def diagram_label(value: object) -> str:
    """``value`` for a Mermaid Markdown label, which has no escapes: its markup characters become spaces."""
    return " ".join(_DIAGRAM_MARKUP.sub(" ", str(value if value is not None else "")).split())


def chart_label(value: object) -> str:
    """``value`` for a Plotly label, legend entry or tick: its tags and entities escaped (Plotly draws
    ``<b>``, ``<a href>`` and ``<br>`` in text), so a name shows exactly as it was written."""
    return html.escape(str(value if value is not None else ""), quote=False)


def show(value: object) -> None:
    """Write ``value`` as plain text, line breaks kept, nothing interpreted."""
    st.text(str(value if value is not None else ""))
