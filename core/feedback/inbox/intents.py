"""What a mention is in: its language, and what it wants (its intent).

:func:`classify` sorts a message into question, complaint, praise, purchase intent or other, by a
scikit-learn pipeline (TF-IDF word 1–2-grams + character 1–3-grams + a few cue counts → logistic
regression) trained on ``core/data/inbox_intents.csv``, a set written for Reach (English and
Chinese, see ``core/data/inbox_intents.md``). It is trained at first use in each process (well
under a second) and kept; the same data always gives the same model. :func:`detect_language`
tells Chinese from English by script (or X's ``lang``).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from core.feedback.inbox.errors import InboxError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

DATA_PATH = Path(__file__).resolve().parents[2] / "data" / "inbox_intents.csv"
INTENTS: tuple[str, ...] = ("question", "complaint", "praise", "purchase_intent", "other")
INTENT_LABELS = {
    "question": "question",
    "complaint": "complaint",
    "praise": "praise",
    "purchase_intent": "purchase intent",
    "other": "other",
}
LANGS: tuple[str, ...] = ("en", "zh")


# -- language -------------------------------------------------------------------------------------
CHINESE_CHARACTERS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str, *, hint: str | None = None) -> str:
    """ "zh" when ``text`` has Chinese characters (or X says ``zh``), else "en"."""
    if CHINESE_CHARACTERS.search(text or ""):
        return "zh"
    return "zh" if (hint or "").lower().startswith("zh") else "en"


# -- intent classifier ----------------------------------------------------------------------------
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE_RE = re.compile(r"(?<![\w@])@\w{1,30}")
# Cue words the few hundred training messages cannot teach on their own: each becomes one count
# feature (log1p), next to the TF-IDF features. English and Chinese.
_CUES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "positive": r"\b(?:love[ds]?|loving|great|amazing|best|thanks?|thank you|delicious|perfect|awesome|"
        r"impressed|recommend(?:ed)?|fantastic|brilliant|lovely|gorgeous|fan|obsessed|wow|favou?rite|"
        r"appreciate[ds]?|happy|incredible|helpful|friendly|good|nice|yum(?:my)?|rocks?|excellent|"
        r"kudos|superb|tasty)\b|好喝|好吃|喜欢|爱|谢谢|赞|棒|推荐|完美|贴心|好评|满意|开心|感谢|信赖|暖心|❤|💚|😍|✨|👍",
        "negative": r"\b(?:not|never|no one|nobody|late|broken|wrong|refund|disappointed|disappointing|worst|terrible|"
        r"missing|still|waiting|charged|rude|stale|expired|ridiculous|useless|awful|poor|gross|smashed|"
        r"leaked|damaged|cancell?ed|complain(?:t|ing)?|mou?ldy|why|overpriced|misleading|delayed|lost|"
        r"didn'?t|doesn'?t|won'?t|can'?t|isn'?t|wasn'?t|haven'?t|hasn'?t)\b|没|不|坏|错|退款|失望|差|过期|"
        r"怎么回事|投诉|漏|碎|慢|恶心|太贵|难|化了|发霉|误导",
        "purchase": r"\b(?:buy|order(?:ing)?|purchase|link|in stock|cart|bulk|wholesale|subscribe|reserve|"
        r"pre-?order|want|grab|take my money|checkout)\b|买|下单|订|链接|购|想要|批发|有货",
        "question": r"\?|？|^(?:is|are|do|does|can|could|what|how|where|when|which|will|any|should|would)\b|"
        r"吗|呢|请问|怎么|什么|多少|几|哪|是否",
    }.items()
}


_LEADING_HANDLES = re.compile(r"^(?:\s*@\w{1,30}[\s,:]*)+")


def prepare_text(text: str) -> str:
    """What the model reads: lower case, links and @handles as placeholders; the handles a mention
    starts with (who it is addressed to) are dropped: they say nothing about what it wants."""
    text = _HANDLE_RE.sub(" @user ", _URL_RE.sub(" http ", _LEADING_HANDLES.sub("", text)))
    return " ".join(text.split()).lower()


def _cue_counts(texts: Iterable[str]):

    rows = [[float(np.log1p(len(p.findall(prepare_text(t))))) for p in _CUES.values()] for t in texts]
    return np.asarray(rows, dtype=float).reshape(-1, len(_CUES))


@dataclass(frozen=True)
class IntentGuess:
    """One message's intent and the model's probability for it."""

    intent: str
    confidence: float


def load_training_data(path: Path | str = DATA_PATH):
    """The labelled messages (``text``, ``intent``, ``lang``) as a DataFrame.

    Raises
    ------
    InboxError
        When a column is missing or a row has an intent outside :data:`INTENTS`.
    """

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"text", "intent"} - set(frame.columns)
    if missing:
        raise InboxError(f"{path}: columns {sorted(missing)} missing (it has {list(frame.columns)})")
    unknown = sorted(set(frame["intent"]) - set(INTENTS))
    if unknown:
        raise InboxError(f"{path}: intents {unknown} are not among {list(INTENTS)}")
    if "lang" not in frame.columns:
        frame["lang"] = [detect_language(t) for t in frame["text"]]
    return frame[frame["text"].str.strip() != ""].reset_index(drop=True)


def held_out_split(frame, *, test_size: float = 0.25, random_state: int = 0):
    """(train, test): a deterministic split stratified by intent and language."""

    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size} must be between 0 and 1")
    strata = frame["intent"] + "/" + frame["lang"]
    train, test = train_test_split(frame, test_size=test_size, random_state=random_state, stratify=strata)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def train_intent_model(texts: Iterable[str], intents: Iterable[str], *, c: float = 20.0) -> Pipeline:
    """Fit the intent pipeline: TF-IDF words (1–2) + characters (1–3) + cue counts → logistic regression.

    Deterministic (newton-cg has no random step): the same data gives the same model.
    """

    texts, intents = list(texts), list(intents)
    if len(set(intents)) < 2:
        raise InboxError(f"training needs at least two intents, got {sorted(set(intents))}")
    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=prepare_text),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, preprocessor=prepare_text),
        FunctionTransformer(_cue_counts),
    )
    model = make_pipeline(features, LogisticRegression(C=c, solver="newton-cg", max_iter=1000, class_weight="balanced"))
    # one BLAS thread: on a busy machine more threads make this small fit many times slower
    with threadpool_limits(limits=1):
        return model.fit(texts, intents)


@functools.lru_cache(maxsize=2)
def _cached_model(path: str, modified_ns: int) -> Pipeline:
    frame = load_training_data(path)
    log.info("training the intent model on %d messages from %s", len(frame), path)
    return train_intent_model(frame["text"], frame["intent"])


def intent_model(path: Path | str = DATA_PATH) -> Pipeline:
    """The intent model trained on the shipped data, once per process (again if the file changes)."""
    path = Path(path)
    return _cached_model(str(path), path.stat().st_mtime_ns)


def classify(texts: Iterable[str], *, model: Pipeline | None = None) -> list[IntentGuess]:
    """The intent of each text and the model's probability for it."""
    texts = list(texts)
    if not texts:
        return []
    model = model or intent_model()
    with threadpool_limits(limits=1):
        probabilities = model.predict_proba(texts)
    classes = list(model.classes_)
    return [IntentGuess(str(classes[int(row.argmax())]), round(float(row.max()), 3)) for row in probabilities]
