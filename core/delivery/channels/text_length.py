"""Counting a post's length the way Mastodon and Bluesky count it: in grapheme clusters.

A grapheme cluster is what a reader sees as one character: an emoji with a skin tone, a flag, a
family joined by zero-width joiners, a letter with combining accents are each one. Chinese,
Japanese and Korean characters count one each (X counts them two; see
:func:`core.content.checks.weighted_length`).
"""

from __future__ import annotations

import re

import regex

__all__ = ["URL_PATTERN", "graphemes", "mastodon_length"]

URL_PATTERN = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'’”]")
_REMOTE_MENTION = re.compile(r"(?<![\w@])(@\w+(?:\.\w+)*)@[\w.-]+\w")


def graphemes(text: str) -> int:
    """How many grapheme clusters ``text`` has (Bluesky's count: its limit is 300)."""
    return len(regex.findall(r"\X", text))


def mastodon_length(text: str, *, url_length: int = 23) -> int:
    """Mastodon's count: grapheme clusters, every link as ``url_length`` (23), a remote mention
    (``@name@server``) as its ``@name`` part only."""
    text = URL_PATTERN.sub("x" * url_length, text)
    text = _REMOTE_MENTION.sub(r"\1", text)
    return graphemes(text)
