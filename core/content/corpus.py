"""The operator's past posts: reading, cleaning, deduplicating and splitting a corpus.

A corpus is a CSV (any encoding and delimiter intake understands; the operator chooses the text
column, and optionally a segment, topic and engagement column) or a plain text file with one post
per line. Each post is NFC-normalised and stripped; blank posts and exact duplicates are dropped
and counted. URLs and @mentions stay in the text: the language model sees them as single
placeholder symbols (:func:`to_units`), and :func:`restore_placeholders` puts real ones back on
output.

The train/validation split is deterministic: a post goes to validation when a hash of its text
falls under the validation fraction, so the same post lands on the same side whatever the file
order or the seed.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import logging
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from core.textfiles import (
    TextFileError,
    detect_encoding,
    read_sample,
    read_text_file,
    sniff_delimiter,
    sniff_text_delimiter,
)

__all__ = [
    "MENTION",
    "URL",
    "Corpus",
    "CorpusError",
    "SpanModel",
    "Vocabulary",
    "corpus_columns",
    "demo_corpus_path",
    "normalise_post",
    "read_corpus",
    "restore_placeholders",
    "to_units",
]

log = logging.getLogger(__name__)

#: Placeholder symbols the model sees instead of a URL or an @mention (Unicode private use).
URL = "\ue000"
MENTION = "\ue001"

#: A link, or an export's placeholder where one was ("{link}", "[link]").
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"']+|\{link\}|\[link\]", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<![\w@])@\w{1,30}")
_HASHTAG = re.compile(r"#\w+")


def without_links_and_tags(text: str) -> str:
    """``text`` with its links (an export's ``{link}`` too), @mentions and hashtags blanked out."""
    return _HASHTAG.sub(" ", MENTION_RE.sub(" ", URL_RE.sub(" ", text)))


_RETWEET = re.compile(r"^\W{0,3}RT\b", re.IGNORECASE)
#: A manual quote of another account: "@user: their words", “@user …” or @user: their words.
_QUOTE = re.compile(r"^(?:[\"“'‘]\s*@\w{1,30}\b|@\w{1,30}:)")

TEXT_COLUMN_NAMES = (
    "text",
    "post",
    "content",
    "tweet",
    "message",
    "body",
    "review",
    "caption",
    "正文",
    "内容",
    "微博内容",
    "文本",
)
SEGMENT_COLUMN_NAMES = ("segment", "group", "audience", "segment_name", "人群", "分组")
TOPIC_COLUMN_NAMES = ("topic", "interest", "category", "theme", "话题", "主题")
ENGAGEMENT_COLUMN_NAMES = ("engagement", "likes", "favorites", "favourites", "retweets", "score")


class CorpusError(ValueError):
    """A corpus the operator must fix: unreadable file, missing column, too few posts."""


@dataclass(frozen=True)
class Corpus:
    """Posts with their optional labels, cleaned and deduplicated.

    Attributes
    ----------
    texts : list of str
        NFC-normalised, stripped posts, no blanks, no exact duplicates, in file order.
    segments, topics : list of str
        Per post, the segment and topic label ("" when unknown or no such column).
    engagement : list of float or None
        Per post, the engagement value when an engagement column was chosen.
    name : str
        The file's name.
    rows_read, blank, duplicates : int
        ``rows_read = len(texts) + sum(left_out.values())``.
    left_out : dict
        Records not taken into the voice, by reason ("blank", "duplicate", "retweet",
        "quote of another account", "only links or mentions"), and a few examples of each.
    """

    texts: list[str]
    segments: list[str]
    topics: list[str]
    engagement: list[float | None] | None = None
    name: str = "corpus"
    rows_read: int = 0
    blank: int = 0
    duplicates: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    left_out_examples: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def split(self, *, val_fraction: float = 0.1) -> tuple[Corpus, Corpus]:
        """Deterministic train/validation split by a hash of each post's text."""
        if not 0.0 < val_fraction < 0.5:
            raise CorpusError(f"val_fraction={val_fraction} must be between 0 and 0.5")
        is_val = [_hash_unit(t) < val_fraction for t in self.texts]
        if len(self.texts) >= 4 and (all(is_val) or not any(is_val)):
            # A tiny corpus can hash all to one side; put every tenth post in validation instead.
            is_val = [
                i % 10 == 9 or (i == len(self.texts) - 1 and len(self.texts) < 10) for i in range(len(self.texts))
            ]
        return self._subset([not v for v in is_val]), self._subset(is_val)

    def _subset(self, keep: list[bool]) -> Corpus:
        pick = [i for i, k in enumerate(keep) if k]
        return Corpus(
            texts=[self.texts[i] for i in pick],
            segments=[self.segments[i] for i in pick],
            topics=[self.topics[i] for i in pick],
            engagement=None if self.engagement is None else [self.engagement[i] for i in pick],
            name=self.name,
            rows_read=len(pick),
            columns=self.columns,
        )

    def summary(self) -> dict:
        """Counts for the page and the CLI."""
        return {
            "name": self.name,
            "rows_read": self.rows_read,
            "posts": len(self.texts),
            "blank": self.blank,
            "duplicates": self.duplicates,
            "left_out": dict(self.left_out),
            "segments": sorted({s for s in self.segments if s}),
            "topics": sorted({t for t in self.topics if t}),
            "columns": self.columns,
        }


def _hash_unit(text: str) -> float:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def normalise_post(text: str) -> str:
    """NFC and stripped; the text is otherwise unchanged."""
    return unicodedata.normalize("NFC", str(text)).strip()


def to_units(text: str) -> str:
    """The post as the model sees it: each URL and each @mention becomes one placeholder symbol."""
    return MENTION_RE.sub(MENTION, URL_RE.sub(URL, text))


def placeholder_spans(text: str) -> list[str]:
    """The URLs and @mentions of ``text`` in order of appearance (what the placeholders stand for)."""
    spans: list[tuple[int, str]] = [(m.start(), m.group()) for m in URL_RE.finditer(text)]
    without_urls = URL_RE.sub(lambda m: " " * len(m.group()), text)
    spans += [(m.start(), m.group()) for m in MENTION_RE.finditer(without_urls)]
    return [s for _, s in sorted(spans)]


def restore_placeholders(text: str, *, link: str | None, mentions: list[str]) -> str:
    """Put a real link and real @mentions back where the model wrote placeholders.

    URLs become ``link`` (dropped with their surrounding space when there is none); mentions cycle
    through ``mentions`` (the corpus's most frequent ones), or are dropped when there are none.
    """
    if URL in text:
        text = text.replace(URL, link) if link else re.sub(rf"\s*{URL}", "", text)
    if MENTION in text:
        if mentions:
            parts = text.split(MENTION)
            out = [parts[0]]
            for i, part in enumerate(parts[1:]):
                out += [mentions[i % len(mentions)], part]
            text = "".join(out)
        else:
            text = re.sub(rf"\s*{MENTION}", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def demo_corpus_path() -> Path:
    """The demo brand's posts shipped with Reach."""
    return Path(__file__).resolve().parents[1] / "data" / "demo_posts.csv"


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    folded = {c.strip().lower(): c for c in columns}
    for name in names:
        if name in folded:
            return folded[name]
    return None


def read_corpus(
    path: Path | str,
    *,
    text_column: str | None = None,
    segment_column: str | None = None,
    topic_column: str | None = None,
    engagement_column: str | None = None,
    name: str | None = None,
    keep_all: bool = False,
) -> Corpus:
    """Read posts from a CSV or a text file (one post per line), in any encoding intake knows.

    A CSV with a header is read as CSV even with one column (quoted multi-line posts stay whole);
    HTML entities are unescaped (``&amp;`` → ``&``); an export's ``{link}`` counts as a link.
    Retweets (``RT @…``), quotes of another account (``"@…: …"``) and posts that are only links or
    mentions are left out of the voice and counted by reason (:attr:`Corpus.left_out`), unless
    ``keep_all``.

    Parameters
    ----------
    path
        ``.txt`` (or any file without a delimiter-separated header) is read one post per line;
        otherwise a CSV whose text column is ``text_column`` or found by name (text, post,
        content, tweet, review ...) or, failing that, the column with the longest values.
    text_column, segment_column, topic_column, engagement_column
        Column names; segment/topic/engagement columns are found by name when not given.
    name
        How to call the file in messages.

    Raises
    ------
    CorpusError
        Unreadable file, a named column that does not exist, or no posts at all.
    """
    path = Path(path)
    name = name or path.name
    try:
        raw, _encoding = read_text_file(path, name=name, if_empty="there are no posts in it", errors="replace")
    except TextFileError as exc:
        raise CorpusError(str(exc)) from None

    rows: list[dict[str, str]]
    columns: dict[str, str] = {}
    if path.suffix.lower() == ".txt" and text_column is None:
        lines = raw.splitlines()
        texts = lines
        segments = topics = [""] * len(lines)
        engagement = None
    else:
        reader = csv.DictReader(io.StringIO(raw, newline=""), delimiter=sniff_text_delimiter(raw))
        header = [h for h in (reader.fieldnames or []) if h is not None]
        rows = list(reader)
        if len(header) < 2 and text_column is None and not _pick(header, TEXT_COLUMN_NAMES) and '"' not in raw[:4096]:
            # One column, no recognisable header and no quoted fields: a text file in disguise.
            texts = raw.splitlines()
            segments = topics = [""] * len(texts)
            engagement = None
        else:
            for label, given in (
                ("text", text_column),
                ("segment", segment_column),
                ("topic", topic_column),
                ("engagement", engagement_column),
            ):
                if given is not None and given not in header:
                    raise CorpusError(f"{name}: there is no {label} column {given!r}; columns: {', '.join(header)}")
            text_column = text_column or _pick(header, TEXT_COLUMN_NAMES) or _longest_column(header, rows)
            segment_column = segment_column or _pick(header, SEGMENT_COLUMN_NAMES)
            topic_column = topic_column or _pick(header, TOPIC_COLUMN_NAMES)
            engagement_column = engagement_column or _pick(header, ENGAGEMENT_COLUMN_NAMES)
            columns = {
                k: v
                for k, v in (
                    ("text", text_column),
                    ("segment", segment_column),
                    ("topic", topic_column),
                    ("engagement", engagement_column),
                )
                if v
            }
            texts = [r.get(text_column) or "" for r in rows]
            segments = [(r.get(segment_column) or "").strip() if segment_column else "" for r in rows]
            topics = [(r.get(topic_column) or "").strip() if topic_column else "" for r in rows]
            engagement = [_number(r.get(engagement_column)) for r in rows] if engagement_column else None

    return _clean(texts, segments, topics, engagement, name=name, columns=columns, keep_all=keep_all)


def _leave_out(post: str) -> str | None:
    """Why a post is not the brand's own voice (None: it is)."""
    if _RETWEET.match(post):
        return "retweet"
    if _QUOTE.match(post):
        return "quote of another account"
    if not re.search(r"\w", without_links_and_tags(post)):
        return "only links or mentions"
    return None


def _clean(
    texts: list[str],
    segments: list[str],
    topics: list[str],
    engagement: list[float | None] | None,
    *,
    name: str,
    columns: dict[str, str],
    keep_all: bool,
) -> Corpus:
    """Unescape, drop blanks, duplicates and (unless ``keep_all``) what is not the brand's voice."""
    seen: set[str] = set()
    left_out: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    keep_t: list[str] = []
    keep_s: list[str] = []
    keep_p: list[str] = []
    keep_e: list[float | None] = []
    blank = duplicates = 0
    for i, text in enumerate(texts):
        post = normalise_post(html.unescape(text) if "&" in text else text)
        if not post:
            blank += 1
            continue
        if post in seen:
            duplicates += 1
            continue
        reason = None if keep_all else _leave_out(post)
        if reason:
            left_out[reason] = left_out.get(reason, 0) + 1
            examples.setdefault(reason, [])
            if len(examples[reason]) < 3:
                examples[reason].append(post)
            continue
        seen.add(post)
        keep_t.append(post)
        keep_s.append(normalise_post(segments[i]))
        keep_p.append(normalise_post(topics[i]))
        if engagement is not None:
            keep_e.append(engagement[i])
    if not keep_t:
        why = ", ".join(f"{n} {r}" for r, n in left_out.items()) or "blank"
        raise CorpusError(f"{name} has no posts of your own: all {len(texts)} rows are left out ({why})")
    counts = {"blank": blank, "duplicate": duplicates} | left_out
    log.info("corpus %s: %d posts, left out %s", name, len(keep_t), counts)
    return Corpus(
        keep_t,
        keep_s,
        keep_p,
        keep_e if engagement is not None else None,
        name,
        len(texts),
        blank,
        duplicates,
        columns,
        {k: v for k, v in counts.items() if v},
        examples,
    )


def _longest_column(header: list[str], rows: list[dict[str, str]]) -> str:
    if not header:
        raise CorpusError("the file has no header row; name the text column or use a .txt file")
    sample = rows[:500]
    return max(header, key=lambda h: sum(len(r.get(h) or "") for r in sample))


def _number(value: str | None) -> float | None:
    try:
        return float(str(value).replace(",", ""))
    except (TypeError, ValueError):
        return None


def frequent_placeholders(texts: list[str], *, top: int = 5) -> tuple[list[str], list[str]]:
    """The most frequent URLs and @mentions of a corpus (for restoring placeholders)."""
    urls: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    for text in texts:
        urls.update(URL_RE.findall(text))
        mentions.update(MENTION_RE.findall(URL_RE.sub(" ", text)))
    return [u for u, _ in urls.most_common(top)], [m for m, _ in mentions.most_common(top)]


# ---------------------------------------------------------------------------------------------
# Units the models see, and the exact cost of what they leave out
# ---------------------------------------------------------------------------------------------

#: Fixed ids: padding (also the "nothing before" context), end of post, unknown character, and
#: the "any segment" / "any topic" control tokens. Segment, topic and character ids follow.
PAD, EOS, UNK, ANY_SEGMENT, ANY_TOPIC = 0, 1, 2, 3, 4
_FIXED = ("<pad>", "<eos>", "<unk>", "<any segment>", "<any topic>")
_CODEPOINTS = 0x110000
_LOG2_CODEPOINTS = math.log2(_CODEPOINTS)


@dataclass(frozen=True)
class Vocabulary:
    """Symbols of the language model: fixed ids, control tokens, then characters.

    A character seen fewer than ``min_count`` times in training is unknown (``UNK``); its exact
    cost is ``-log2 p(UNK)`` plus ``log2`` of the number of code points the vocabulary leaves out
    (a uniform spelling), so bits per character stay a true cost of the original text.
    """

    segments: tuple[str, ...]
    topics: tuple[str, ...]
    chars: tuple[str, ...]

    @classmethod
    def build(cls, corpus: Corpus, *, min_count: int = 2) -> Vocabulary:
        """The vocabulary of a training corpus."""
        counts: Counter[str] = Counter()
        for text in corpus.texts:
            counts.update(to_units(text))
        chars = sorted(c for c, n in counts.items() if n >= min_count or c in (URL, MENTION))
        return cls(
            tuple(sorted({s for s in corpus.segments if s})),
            tuple(sorted({t for t in corpus.topics if t})),
            tuple(chars),
        )

    @property
    def size(self) -> int:
        return len(_FIXED) + len(self.segments) + len(self.topics) + len(self.chars)

    @property
    def first_char(self) -> int:
        return len(_FIXED) + len(self.segments) + len(self.topics)

    @cached_property
    def char_ids(self) -> dict[str, int]:
        return {c: self.first_char + i for i, c in enumerate(self.chars)}

    @cached_property
    def oov_bits(self) -> float:
        """Spelling cost of one unknown character (uniform over the code points left out)."""
        return math.log2(_CODEPOINTS - len(self.chars)) if len(self.chars) < _CODEPOINTS else _LOG2_CODEPOINTS

    @cached_property
    def _folded_topics(self) -> dict[str, str]:
        return {t.casefold(): t for t in self.topics}

    def topic_spelled(self, name: str) -> str:
        """The vocabulary's own spelling of a topic, matched ignoring case ("" when unknown).

        Topics come from two exports (the brand's posts and the audience's events) that may
        spell a name differently: "Hot chocolate" and "hot chocolate" are one topic.
        """
        return name if name in self.topics else self._folded_topics.get(name.strip().casefold(), "")

    def control_ids(self, segment: str = "", topic: str = "") -> tuple[int, int]:
        """Ids of the two control tokens for a segment and a topic ("any" when unknown)."""
        seg = ANY_SEGMENT
        if segment in self.segments:
            seg = len(_FIXED) + self.segments.index(segment)
        top = ANY_TOPIC
        topic = self.topic_spelled(topic) if topic else ""
        if topic:
            top = len(_FIXED) + len(self.segments) + self.topics.index(topic)
        return seg, top

    def encode(self, text: str) -> tuple[list[int], int]:
        """Character ids of a post's units plus ``EOS``, and how many were unknown."""
        ids = self.char_ids
        out = [ids.get(c, UNK) for c in to_units(text)]
        return [*out, EOS], out.count(UNK)

    def decode(self, ids: list[int]) -> str:
        """Text of character ids (control tokens and padding dropped, unknown as U+FFFD)."""
        first = self.first_char
        out = []
        for i in ids:
            if i == EOS:
                break
            if i == UNK:
                out.append("\ufffd")
            elif i >= first:
                out.append(self.chars[i - first])
        return "".join(out)

    def symbol(self, i: int) -> str:
        """Printable name of an id (for debugging and the model card)."""
        if i < len(_FIXED):
            return _FIXED[i]
        if i < len(_FIXED) + len(self.segments):
            return f"<segment: {self.segments[i - len(_FIXED)]}>"
        if i < self.first_char:
            return f"<topic: {self.topics[i - len(_FIXED) - len(self.segments)]}>"
        return self.chars[i - self.first_char]

    def as_json(self) -> dict:
        return {"segments": list(self.segments), "topics": list(self.topics), "chars": list(self.chars)}

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        return cls(tuple(data["segments"]), tuple(data["topics"]), tuple(data["chars"]))


@dataclass(frozen=True)
class SpanModel:
    """How likely a URL or @mention's exact spelling is, given that the model wrote a placeholder.

    A Witten-Bell mix of the spans seen in training and a character-unigram speller (add-one over
    the characters of the training spans, an escape to any code point, and an end symbol). Both the
    LSTM and the n-gram baseline pay this same cost, so it never favours either.
    """

    counts: dict[str, int]
    char_counts: dict[str, int]

    @classmethod
    def build(cls, texts: list[str]) -> SpanModel:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(placeholder_spans(text))
        chars: Counter[str] = Counter()
        for span, n in counts.items():
            for c in span:
                chars[c] += n
        return cls(dict(counts), dict(chars))

    @cached_property
    def _totals(self) -> tuple[int, int, int]:
        return sum(self.counts.values()), len(self.counts), sum(self.char_counts.values())

    def bits(self, span: str) -> float:
        """``-log2 p(span)``."""
        total, types, char_total = self._totals
        known = len(self.char_counts)
        denominator = char_total + known + 2  # add-one over known chars, the escape and the end
        spell = -math.log2(1 / denominator)  # the end symbol
        for c in span:
            if c in self.char_counts:
                spell += -math.log2((self.char_counts[c] + 1) / denominator)
            else:
                spell += -math.log2(1 / denominator) + math.log2(_CODEPOINTS - known)
        if total == 0:
            return spell
        p = (self.counts.get(span, 0) + types * 2.0**-spell) / (total + types)
        return -math.log2(p)

    def post_bits(self, text: str) -> float:
        """Total spelling cost of every URL and @mention of a post."""
        return sum(self.bits(s) for s in placeholder_spans(text))

    def as_json(self) -> dict:
        return {"counts": self.counts, "char_counts": self.char_counts}

    @classmethod
    def from_json(cls, data: dict) -> SpanModel:
        return cls(dict(data["counts"]), dict(data["char_counts"]))


def corpus_columns(path: Path | str) -> list[str]:
    """Header of a CSV corpus (empty for a text file), to let the operator choose the text column."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        return []
    sample = read_sample(path)
    try:
        text = sample.decode(detect_encoding(sample, name=path.name), errors="replace").lstrip("\ufeff")
    except TextFileError as exc:
        raise CorpusError(str(exc)) from None
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    if not lines:
        return []
    header = next(csv.reader(lines[:1], delimiter=sniff_delimiter(lines)))
    return [h for h in header if h] if len(header) > 1 else []
