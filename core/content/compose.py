"""Drafts composed from the brand's own sentences, chosen by the writer's LSTM.

Character sampling from a few hundred posts joins phrases that do not belong together ("Compost is
ready when it's a treat your heart doesn't have to be sad."): each join is one a post has, but
the sentence drifts from one post's sense into another's. Reranking more samples stopped paying.
So the writer composes instead, from pieces that are fluent by construction:

1. **Sentences** (:func:`sentence_blocks`): every post of the corpus is split into sentences. A
   sentence is a building block when it stands on its own: less than 70 % of its post (so no
   block alone repeats a post, see the near-copy check), at most 160 characters, three words or
   more (six characters in Chinese), ending cleanly, with no pronoun naming nothing, and not
   leaning on a sentence before it ("It", "They", "But", "instead.", "这", "但" ...) unless it
   opens its post. Sentences with @mentions, and link-only pieces, are left out.
2. **Relevance**: a segment's posts are those with its label in the corpus, about one of its
   topics, or using its interest words. Nothing relevant: the Studio says so and offers
   templates for that segment.
3. **Candidates**: a full sentence (60 characters or more) alone, or an opening sentence and one
   or two more, each from another relevant post of the same language and topic that shares a
   content word with the one before, does not open on its word or repeat two of its words in a
   row ("Meal prep … Meal prep …"), so the draft stays on one subject without saying it twice.
4. **The LSTM chooses**: every candidate is scored by the writer (bits per character under the
   segment's and topic's control tokens, the LSTM mixed with the n-grams as in :mod:`.model`),
   plus small costs for a block out of its usual place (an opener that did not open its post, a
   closer that did not close one). Drafts are drawn among the most fluent with the seed's noise,
   each sentence used once per call, and checked (:func:`core.content.checks.check_draft`).
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from core.content.checks import (
    NEAR_COPY_SHARE,
    canonical,
    check_draft,
    publishing_problems,
    script_of,
    similar,
    weighted_length,
)
from core.content.corpus import MENTION_RE, restore_placeholders, to_units, without_links_and_tags
from core.content.generate import Draft, GenerationResult
from core.content.lexicon import SENTENCE_SPLIT
from core.content.model import LanguageModel
from core.content.registry import ContentError
from core.content.sampling import DEFAULT_TEMPERATURE

__all__ = ["Block", "Composer", "compose_drafts", "compose_for_segment", "sentence_blocks"]

#: Words that make a sentence lean on the one before it; such a sentence only follows its own.
REFERRING = frozenset(
    """it its it's this that these those they them their theirs he she his her him ours also and but so then too
    plus or which both same there here such another other others one yes no instead""".split()
)
REFERRING_ZH = ("它", "这", "那", "他", "她", "但", "所以", "而且", "还", "也", "并且", "因此", "不过", "然后", "其实")
#: Most characters of a three-sentence draft's first two sentences (longer ones stay two).
THREE_BLOCK_CHARS = 70
#: Share of candidates that try a third sentence when the first two are short.
THREE_BLOCK_SHARE = 0.3
#: Ranking costs, in bits per character: a block out of its usual place reads less naturally.
NOT_AN_OPENER = 0.35
NOT_A_CLOSER = 0.15
NO_SHARED_WORD = 0.25
#: A draft of one short sentence reads thinner than two that belong together; a longer one says enough.
ONE_SENTENCE = 0.2
#: Characters from which one sentence says enough on its own.
FULL_SENTENCE_CHARS = 60
#: Longest sentence used as a block.
MAX_BLOCK_CHARS = 160
#: Most characters of a draft's sentences together (room for a link and a hashtag in X's 280).
PAIR_CHARS = 220
#: Share of candidates that keep a full sentence alone.
LONG_ALONE_SHARE = 0.5
#: How much the seed's noise moves the ranking (bits per character): enough to vary the drafts of
#: another seed, small against the gap between a fluent draft and a clumsy one.
NOISE = 0.12
#: Candidates scored per draft asked for.
CANDIDATES_PER_DRAFT = 30
#: Least TF-IDF cosine between two posts whose sentences may meet in a draft.
MIN_POST_SIMILARITY = 0.12
#: Without topic labels the posts' words are all there is to go on: only close ones meet.
MIN_POST_SIMILARITY_UNLABELLED = 0.3
#: Fewest blocks a segment needs before drafts are composed for it.
MIN_BLOCKS = 4

#: Common English verbs (base forms); with their inflections they tell a sentence from a verbless
#: fragment ("Heart-friendly and warming."), which only makes sense after its own post's sentence.
#: Words that are more often nouns or adjectives in posts ("plant-based", "warm", "water") are not in it.
_VERBS = frozenset(
    """be is are was were am been being has have had do does did can could will would should may might must
    shall need needs add ask bake be beat begin blend boil break bring build buy call care carry catch
    change check choose clean come cook count cut dance deserve drink drive drop eat enjoy fall feed
    feel fill find finish fix follow forget freeze get give go grab grill grow hate hear help hide hit
    hold hope keep kick know last laugh lead learn leave let lift like listen live look lose love make
    mean meet miss mix move notice open pack pay pick plan play pour prefer prep prepare protect pull
    push put reach read remember rest return roast run save say see seem sell send serve share show sip
    sit skip sleep slow soak spend spread stand start stay stir stop support swap swim take talk taste
    teach tell think throw train travel try turn use wait wake walk want wash watch wear welcome win
    wish work worry write""".split()
)
_CONTRACTION = re.compile(r"\b\w+'(?:s|re|ve|ll|d|m|t)\b|n't\b", re.I)
_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+(?:'[a-zA-Z]+)?")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_CLEAN_END = re.compile(r"[.!?…。！？)\"'”’]$|[^\w\s,;:(&/\-–—，、：；]$")
_STOP = frozenset(
    """a an the and or but of to in on at for with from by is are was were be been it its this that your
    you our we i my me us as so if not no do does did have has had will can just more most all any some
    than then too very up out into over about what when how who why where which there their they them he
    she his her""".split()
)


@dataclass(frozen=True)
class Block:
    """One sentence of a post that can stand in a draft."""

    text: str
    post: int
    position: int
    n_in_post: int
    segment: str = ""
    topic: str = ""
    script: str = "latin"
    words: frozenset[str] = field(default_factory=frozenset)
    complete: bool = True
    #: It refers to what came before it (:func:`_leans_back`).
    leans_back: bool = False

    @property
    def opens(self) -> bool:
        return self.position == 0

    @property
    def closes(self) -> bool:
        return self.position == self.n_in_post - 1


def _content_words(text: str) -> frozenset[str]:
    """Lower-cased words of four letters or more (their first five letters), or Chinese bigrams."""
    words = {w.casefold()[:5] for w in _WORD.findall(text) if len(w) >= 4 and w.casefold() not in _STOP}
    han = "".join(_HAN.findall(text))
    words |= {han[i : i + 2] for i in range(len(han) - 1)}
    return frozenset(words)


def _inflected(word: str) -> bool:
    """Whether ``word`` is a verb of :data:`_VERBS` with -s, -es, -ies or -ed (not -ing: "warming")."""
    if word.endswith("ies"):
        return word[:-3] + "y" in _VERBS
    if word.endswith("es") and (word[:-2] in _VERBS or word[:-1] in _VERBS):
        return True
    if word.endswith("s"):
        return word[:-1] in _VERBS
    if word.endswith("ed"):
        return bool({word[:-2], word[:-1], word[:-3]} & _VERBS) or word[:-3] + "y" in _VERBS
    return False


def _has_verb(sentence: str) -> bool:
    """Whether an English sentence has a verb (Chinese sentences are taken as complete)."""
    if _HAN.search(sentence):
        return True
    if _CONTRACTION.search(sentence):
        return True
    return any(word in _VERBS or _inflected(word) for word in _WORD.findall(sentence.casefold()))


def _leans_back(sentence: str) -> bool:
    """Whether a sentence refers to what came before it (it cannot follow another post's sentence)."""
    words = _WORD.findall(sentence[:40])
    if words and words[0].casefold().replace("’", "'").split("'")[0] in REFERRING:
        return True
    return sentence.lstrip().startswith(REFERRING_ZH)


#: A sentence that points at what is not in it: "Watch this.", "about it", "Read more:".
_POINTS_AWAY = re.compile(
    r"\b(?:this|that|these|those|it|them|here|below|above)\s*[.!?:]|:\s*$|\b(?:watch|read|see)\b\s*:"
    r"|\bthe (?:last|first|other|best|next) ones?\b|\b(?:instead|either)\s*[.!?]$",
    re.I,
)


#: Pronouns that name something the sentence does not ("Break them in slowly.", "because it is").
_PRONOUN = re.compile(r"\b(?:it|its|it's|they|them|their|he|she|him|his|her)\b", re.I)
#: A sentence that opens on "A …"/"An …" describes something named elsewhere ("A treat your heart …").
_DESCRIBES = re.compile(r"^(?:A|An)\s")


def _stands_alone(sentence: str, script: str) -> bool:
    if MENTION_RE.search(sentence) or not _CLEAN_END.search(sentence) or _POINTS_AWAY.search(sentence):
        return False
    if _PRONOUN.search(sentence) or _DESCRIBES.match(sentence):
        return False
    if publishing_problems(sentence) or sentence[:1].islower():  # lower case: its start was a mention or cut
        return False
    if len(canonical(sentence)) > MAX_BLOCK_CHARS:
        return False
    if script == "han":
        return len(_HAN.findall(sentence)) >= 6
    return len(_WORD.findall(without_links_and_tags(sentence))) >= 3


#: A piece that ends on an abbreviation ("U.S.", "Dr.") goes on in the next one.
_ABBREVIATION_END = re.compile(r"(?:\b[A-Z]\.){2,}$|\b(?:Mr|Mrs|Ms|Dr|St|Sen|Rep|Gov|Gen|Jr|Sr|vs|etc|No|Inc|Co)\.$")


def _sentences(post: str) -> list[str]:
    """The sentences of a post (not cut after an abbreviation)."""
    out: list[str] = []
    for piece in SENTENCE_SPLIT.split(post.strip()):
        piece = piece.strip()
        if not piece:
            continue
        if out and _ABBREVIATION_END.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def sentence_blocks(
    posts: Sequence[str], *, segments: Sequence[str] | None = None, topics: Sequence[str] | None = None
) -> list[Block]:
    """Every sentence of ``posts`` that can stand in a composed draft (see the module's notes)."""
    blocks = []
    for i, post in enumerate(posts):
        sentences = _sentences(str(post))
        post_chars = len(canonical(str(post)))
        for position, sentence in enumerate(sentences):
            script = script_of(sentence) or "latin"
            if len(canonical(sentence)) >= NEAR_COPY_SHARE * post_chars:  # alone, it would repeat its post
                continue
            if not _stands_alone(sentence, script):
                continue
            if position > 0 and _leans_back(sentence):
                continue
            if position == 0 and _leans_back(sentence) and len(sentences) == 1:
                continue
            blocks.append(
                Block(
                    sentence,
                    i,
                    position,
                    len(sentences),
                    segments[i] if segments else "",
                    topics[i] if topics else "",
                    script,
                    _content_words(sentence),
                    _has_verb(sentence),
                    _leans_back(sentence),
                )
            )
    return blocks


class Composer:
    """Composes drafts from a model's corpus; build once per model (:func:`compose_drafts` caches it)."""

    def __init__(self, lm: LanguageModel) -> None:
        self.lm = lm
        segments, topics = lm.post_labels
        self.blocks = sentence_blocks(lm.posts, segments=segments, topics=topics)
        self.post_words: dict[int, frozenset[str]] = defaultdict(frozenset)
        for b in self.blocks:
            self.post_words[b.post] = self.post_words[b.post] | b.words
        # How alike two posts are in their words (TF-IDF cosine): sentences of unlike posts do not meet.
        posts = sorted({b.post for b in self.blocks})
        self._row = {post: i for i, post in enumerate(posts)}
        texts = [" ".join(sorted(self.post_words[p])) or "_" for p in posts]
        self._vectors = TfidfVectorizer(token_pattern=r"\S+").fit_transform(texts) if texts else None
        self._alike: dict[int, np.ndarray] = {}

    def alike(self, post: int) -> np.ndarray:
        """TF-IDF cosine of ``post``'s content words with every post's (index by post number)."""
        if post not in self._alike:
            row = self._vectors[self._row[post]]
            sims = np.asarray((self._vectors @ row.T).todense()).ravel()
            out = np.zeros(max(self._row) + 1)
            out[list(self._row)] = sims
            self._alike[post] = out
        return self._alike[post]

    def relevant(self, label: str, topics: Sequence[str], interests: Sequence[str]) -> list[Block]:
        """Blocks from posts of the segment's label, its topics, or using its interest words."""
        if not label and not topics and not interests:
            return list(self.blocks)
        wanted = _content_words(" ".join(interests))
        topic_set = {t.casefold() for t in topics}  # the posts and the audience may spell a topic differently
        return [
            b
            for b in self.blocks
            if (label and b.segment == label) or (b.topic and b.topic.casefold() in topic_set) or (wanted & b.words)
        ]

    def candidates(self, pool: Sequence[Block], n: int, rng: np.random.Generator) -> list[tuple[Block, ...]]:
        """Up to ``n`` combinations of an opener and one or two followers on the same subject."""
        by_topic: dict[str, list[Block]] = defaultdict(list)
        for b in pool:
            by_topic[b.topic].append(b)
        # A question opens only its own post: another post's answer rarely fits it.
        openers = [b for b in pool if b.complete and not _is_question(b) and (b.opens or not b.leans_back)]
        if not openers:
            return []
        out: list[tuple[Block, ...]] = []
        seen: set[tuple[int, ...]] = set()
        for _ in range(n * 4):
            if len(out) >= n:
                break
            first = openers[rng.integers(len(openers))]
            group = by_topic[first.topic] if first.topic else pool
            if len(first.text) >= FULL_SENTENCE_CHARS and rng.random() < LONG_ALONE_SHARE:
                mates = []  # a full sentence says enough on its own
            else:
                alike = self.alike(first.post)
                least = MIN_POST_SIMILARITY if first.topic else MIN_POST_SIMILARITY_UNLABELLED
                mates = [
                    b
                    for b in group
                    if alike[b.post] >= least and b.post != first.post and b.script == first.script and not b.leans_back
                ]
                if not mates and len(first.text) < FULL_SENTENCE_CHARS:
                    continue
            room = PAIR_CHARS - len(first.text)
            second = _follower(first, [b for b in mates if len(b.text) <= room], rng)
            if second is None:  # nothing follows it: on its own, if it says enough
                if len(first.words) < 2:
                    continue
                chosen: tuple[Block, ...] = (first,)
            else:
                chosen = (first, second)
                if len(first.text) + len(second.text) < THREE_BLOCK_CHARS and rng.random() < THREE_BLOCK_SHARE:
                    third = _follower(second, [b for b in mates if b.post not in (first.post, second.post)], rng)
                    if third is not None:
                        chosen = (first, second, third)
            key = tuple(id(b) for b in chosen)
            if key not in seen and len({b.text.casefold() for b in chosen}) == len(chosen):
                seen.add(key)
                out.append(chosen)
        return out


#: One composer per loaded model (its blocks are built on first use).
_COMPOSERS: weakref.WeakKeyDictionary[LanguageModel, Composer] = weakref.WeakKeyDictionary()


def _is_question(block: Block) -> bool:
    return block.text.rstrip().endswith(("?", "？"))


def _follower(before: Block, mates: Sequence[Block], rng: np.random.Generator) -> Block | None:
    """A block that can follow ``before``: a complete sentence that is no question, and that shares a
    content word with ``before`` (so the draft stays on one subject) without repeating it."""
    mates = [
        b
        for b in mates
        if b.complete
        and not _is_question(b)
        and b.words & before.words
        and len(b.words & before.words) < 0.6 * min(len(b.words), len(before.words))  # not saying it twice
        and not similar(b.text.casefold().split(), before.text.casefold().split(), 0.5)
        and not _echoes(before.text, b.text)
    ]
    if not mates:
        return None
    return mates[rng.integers(len(mates))]


def _echoes(before: str, after: str) -> bool:
    """Whether ``after`` opens on the word ``before`` opens on, or repeats two of its words in a row
    ("Meal prep doesn't have to be boring. Meal prep is …"): a reader hears two posts, not one."""
    first = [w.casefold() for w in _WORD.findall(before)]
    second = [w.casefold() for w in _WORD.findall(after)]
    if not first or not second:
        return False
    if first[0] == second[0] and first[0] not in _STOP:
        return True
    return bool(set(pairwise(first)) & set(pairwise(second)))


def _joined(blocks: Sequence[Block]) -> str:
    sep = "" if blocks[0].script == "han" else " "
    return sep.join(b.text for b in blocks)


def _structure_cost(blocks: Sequence[Block]) -> float:
    """Costs for blocks out of their usual place and for a sentence that shares no word with the ones before."""
    cost = 0.0 if blocks[0].opens else NOT_AN_OPENER
    if len(blocks) == 1:
        return cost + (0.0 if len(blocks[0].text) >= FULL_SENTENCE_CHARS else ONE_SENTENCE)
    if not blocks[-1].closes:
        cost += NOT_A_CLOSER * (3 if _is_question(blocks[-1]) else 1)
    said: frozenset[str] = blocks[0].words
    for block in blocks[1:]:
        if not block.words & said:
            cost += NO_SHARED_WORD
        said |= block.words
    return cost


def compose_drafts(
    lm: LanguageModel,
    *,
    n: int = 5,
    segment: str = "",
    topics: Sequence[str] = (),
    interests: Sequence[str] = (),
    seed: int = 0,
    link: str | None = None,
    banned_words: Sequence[str] = (),
    max_weighted_length: int = 280,
    internal_names: Sequence[str] = (),
    exclude: Sequence[str] = (),
    temperature: float = DEFAULT_TEMPERATURE,
    opening: str = "",
) -> GenerationResult:
    """Compose ``n`` publishable drafts for a segment from the brand's own sentences.

    Parameters
    ----------
    segment, topics
        The model's own segment label and topics for the segment (:meth:`LanguageModel.control_labels`).
    interests
        The segment's interest words (for corpora without labels).
    seed
        Another seed gives other drafts; the same seed the same ones.
    link
        Put in place of the corpus's links (dropped without one).
    internal_names
        Names that must not reach public copy (the segments' internal names).
    exclude
        Texts already used (earlier drafts, recent posts): no draft repeats one of them.
    temperature
        How far the choice strays from the most fluent drafts (the default: the seed's usual noise).
    opening
        The operator's own words to start every draft with ("Sunday reset:").

    Returns
    -------
    GenerationResult
        Only passing drafts; fewer than ``n`` with ``message`` saying why (for instance nothing in
        the corpus is about the segment's interests).
    """
    if n < 1 or n > 100:
        raise ContentError(f"n={n} must be between 1 and 100")
    composer = _COMPOSERS.get(lm)
    if composer is None:
        composer = _COMPOSERS[lm] = Composer(lm)
    pool = composer.relevant(segment, topics, interests)
    if len(pool) < MIN_BLOCKS:
        about = ", ".join(list(interests)[:3] or list(topics)[:3]) or "this segment"
        return GenerationResult(
            [], n, 0, f"your posts say nothing about {about} yet: use a template for this segment, or add such posts"
        )
    rng = np.random.default_rng(seed)
    combos = composer.candidates(pool, n * CANDIDATES_PER_DRAFT, rng)
    if not combos:
        return GenerationResult([], n, 0, "too few of your posts share a subject to compose drafts from")
    texts = [_joined(c) for c in combos]
    topic_of = [c[0].topic or (topics[0] if topics else "") for c in combos]
    bits = lm.post_bits(texts, segments=[segment] * len(texts), topics=topic_of)
    score = bits / np.array([len(t) + 1 for t in texts])
    score += np.array([_structure_cost(c) for c in combos])
    score += rng.gumbel(size=len(score)) * NOISE * max(temperature, 0.0) / DEFAULT_TEMPERATURE
    drafts: list[Draft] = []
    used_blocks: set[int] = set()
    seen = {canonical(t) for t in exclude}
    failing: dict[str, int] = defaultdict(int)
    for i in np.argsort(score, kind="stable"):
        if len(drafts) >= n:
            break
        ids = {id(b) for b in combos[i]}
        if ids & used_blocks:
            continue
        final = restore_placeholders(to_units(texts[i]), link=link, mentions=[])
        if opening.strip():
            final = f"{opening.strip()} {final}"
        if canonical(final) in seen:
            failing["same as a recent post or draft"] += 1
            continue
        check = check_draft(
            final,
            near_copy=lm.near_copy_index,
            banned_words=banned_words,
            max_weighted_length=max_weighted_length,
            internal_names=internal_names,
        )
        if not check.passes:
            for reason in check.reasons:
                failing[reason] += 1
            continue
        used_blocks |= ids
        seen.add(canonical(final))
        drafts.append(Draft(final, weighted_length(final), True, [], segment, topic_of[i], False))
    message = ""
    if len(drafts) < n:
        common = max(failing, key=failing.get) if failing else "too few different sentences on these interests"
        message = f"only {len(drafts)} of {n} drafts could be composed; the most common problem was: {common}"
    return GenerationResult(drafts, n, len(combos), message)


def compose_for_segment(lm: LanguageModel, name: str, interests: Sequence[str], **options: object) -> GenerationResult:
    """:func:`compose_drafts` for a segment known by its name and interests: the model's own label
    and topics for it (:meth:`LanguageModel.control_labels`) are looked up here."""
    label, topics = lm.control_labels(name, interests)
    return compose_drafts(lm, segment=label, topics=topics, interests=list(interests), **options)
