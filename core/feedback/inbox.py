"""The inbox: mentions of the account, what each one wants, a suggested answer, and replies sent once.

* **Fetch** (:func:`refresh_mentions`): X's mentions newer than the last id seen (kept in the
  setting ``inbox.since_id``), stored once per id. A 429 stores ``inbox.not_before`` and no call
  is made before it. Without X keys (dry run) there is nothing to fetch; the demo seeds a few
  mentions (:func:`seed_demo_mentions`, authors ``demo_…``) whose replies go to the dry run.
* **Intent** (:func:`classify`): question, complaint, praise, purchase intent or other, by a
  scikit-learn pipeline (TF-IDF word 1–2-grams + character 1–3-grams + a few cue counts →
  logistic regression) trained on ``core/data/inbox_intents.csv``, a set written for Reach
  (English and Chinese, see ``core/data/inbox_intents.md``). It is trained at first use in each
  process (well under a second) and kept; the same data always gives the same model.
* **Suggested reply** (:func:`suggest_reply`): the FAQ entry closest to the mention (TF-IDF
  cosine over the FAQ in the mention's language) fills the reply template of the mention's intent
  and language (Jinja2 in the sandbox of :mod:`core.content.templates`); Chinese mentions (by script, or
  X's ``lang``) get the Chinese template and FAQ. Every suggestion starts with the author's
  ``@handle``, is shortened to fit X's weighted length and is checked like a post
  (:func:`check_reply`).
* **Reply** (:func:`reply`): through the outbox, as a reply to the mention (approved, due now,
  published at once), so exactly-once delivery and fault handling apply. The mention is linked to
  its reply post; a compare-and-set claim on the mention means two calls (a double click, two
  terminals) create one post, and a repeated call returns that post. Replying marks the mention
  handled; :func:`mark_handled` changes it by hand.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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

from core import clock
from core.clock import utc_now
from core.content.checks import check_draft, load_banned_words, weighted_length
from core.content.templates import TemplateError, load_brand, render_template
from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.channels.base import ErrorKind, Mention, PublishError
from core.delivery.outbox import OutboxState, Outcome, Post, PublisherFactory, PublishSettings
from core.workspace import Workspace

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = [
    "DATA_PATH",
    "DEMO_MENTIONS",
    "INTENTS",
    "INTENT_LABELS",
    "LANGS",
    "STARTER_FAQ",
    "STARTER_REPLY_TEMPLATES",
    "FaqEntry",
    "InboxError",
    "InboxItem",
    "InboxValidationError",
    "IntentGuess",
    "RefreshReport",
    "ReplyResult",
    "Suggestion",
    "check_reply",
    "classify",
    "detect_language",
    "get_mention",
    "held_out_split",
    "inbox_status",
    "intent_model",
    "list_faq",
    "list_mentions",
    "list_reply_templates",
    "load_training_data",
    "mark_handled",
    "refresh_mentions",
    "reply",
    "retry_reply",
    "save_faq",
    "save_reply_templates",
    "seed_demo_mentions",
    "set_intent",
    "suggest_reply",
    "train_intent_model",
]

log = logging.getLogger(__name__)

DATA_PATH = Path(__file__).resolve().parents[1] / "data" / "inbox_intents.csv"
INTENTS: tuple[str, ...] = ("question", "complaint", "praise", "purchase_intent", "other")
INTENT_LABELS = {
    "question": "question",
    "complaint": "complaint",
    "praise": "praise",
    "purchase_intent": "purchase intent",
    "other": "other",
}
LANGS: tuple[str, ...] = ("en", "zh")
FAQ_MIN_SIMILARITY = 0.15  # below this the closest FAQ entry is not about the mention
FAQ_INTENTS = ("question", "complaint", "purchase_intent", "other")  # praise gets a thank-you, no FAQ
MAX_FAQ_ANSWER = 200  # weighted characters: a reply needs room for the greeting and handle
CLAIM_SECONDS = 60  # a reply claim older than this was left by a process that died
WAIT_FOR_OTHER_SECONDS = 15  # how long a second call waits for the first to link its post
RATE_LIMIT_FALLBACK = timedelta(minutes=15)
SINCE_SETTING, HOLD_SETTING, FAQ_SEEDED_SETTING = "inbox.since_id", "inbox.not_before", "inbox.faq_seeded"


class InboxError(Exception):
    """An inbox action that cannot happen (unknown mention, nothing to fetch); the message says why."""


class InboxValidationError(InboxError):
    """Edits or a reply text that cannot be saved or sent; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# -- language -------------------------------------------------------------------------------------
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str, *, hint: str | None = None) -> str:
    """ "zh" when ``text`` has Chinese characters (or X says ``zh``), else "en"."""
    if _HAN.search(text or ""):
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


def _prepare(text: str) -> str:
    """What the model reads: lower case, links and @handles as placeholders; the handles a mention
    starts with (who it is addressed to) are dropped: they say nothing about what it wants."""
    text = _HANDLE_RE.sub(" @user ", _URL_RE.sub(" http ", _LEADING_HANDLES.sub("", text)))
    return " ".join(text.split()).lower()


def _cue_counts(texts: Iterable[str]):

    rows = [[float(np.log1p(len(p.findall(_prepare(t))))) for p in _CUES.values()] for t in texts]
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
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=_prepare),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, preprocessor=_prepare),
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


# -- FAQ and reply templates ------------------------------------------------------------------------
@dataclass(frozen=True)
class FaqEntry:
    """One question the shop answers often, in one language."""

    question: str
    answer: str
    lang: str = "en"


#: Starters for the demo health-food shop; the operator edits them on the Inbox page.
STARTER_FAQ: tuple[FaqEntry, ...] = (
    FaqEntry(
        "How long does delivery take? When will my order arrive? shipping time",
        "Orders ship within 24 hours; delivery takes 1–3 days in mainland China and 3–7 days to Hong Kong "
        "and Singapore.",
    ),
    FaqEntry("Is delivery free? minimum order for free shipping", "Delivery is free on orders over ¥199."),
    FaqEntry(
        "Where can I buy your products? How do I order? link to buy, in stock",
        "You can order online at https://meadowpantry.example or visit our shops in Jing'an and Xuhui.",
    ),
    FaqEntry(
        "What is your return and refund policy? My order arrived damaged, broken, leaking, wrong or missing",
        "Unopened items can be returned within 14 days; anything damaged, wrong or missing is replaced or "
        "refunded right away.",
    ),
    FaqEntry(
        "Can I take it when pregnant or with medication? Is it safe for kids?",
        "Our supplements are foods, not medicines: if you are pregnant, nursing or on medication, please "
        "check with your doctor first.",
    ),
    FaqEntry(
        "Is it gluten free? allergens, nuts, soy, lactose, vegan ingredients",
        "Every product page lists ingredients and allergens; our oat and granola range is certified gluten "
        "free and our pea protein is vegan.",
    ),
    FaqEntry(
        "Do you accept Alipay or WeChat Pay? payment methods", "Yes, we accept Alipay, WeChat Pay and all major cards."
    ),
    FaqEntry(
        "How do I track my parcel? order tracking",
        "You get a tracking link by SMS and email as soon as your parcel ships.",
    ),
    FaqEntry(
        "What are your opening hours? Are you open on Sundays and holidays?",
        "Our shops are open 8:00–21:00 every day, public holidays included.",
    ),
    FaqEntry(
        "How do I cancel or change my subscription?",
        "In your account under Subscriptions you can pause, change or cancel before the next renewal.",
    ),
    FaqEntry(
        "Do you sell wholesale or in bulk for cafés and offices?",
        "Yes! For cafés, offices and bulk orders, email hello@meadowpantry.example for trade prices.",
    ),
    FaqEntry("发货要几天？快递多久到？物流", "下单后24小时内发货，国内一般1到3天送达，港澳和新加坡3到7天。", "zh"),
    FaqEntry("包邮吗？满多少包邮？", "订单满199元包邮。", "zh"),
    FaqEntry(
        "在哪里买？怎么下单？购买链接，有货吗",
        "可以在官网 https://meadowpantry.example 下单，也欢迎到静安和徐汇门店选购。",
        "zh",
    ),
    FaqEntry(
        "退货退款政策是什么？收到的商品破损、碎了、漏了、发错、少发",
        "未开封商品14天内可退；破损、发错或少发的商品我们会立即补发或退款。",
        "zh",
    ),
    FaqEntry(
        "孕妇、吃药的人或小孩可以吃吗？安全吗",
        "我们的营养品属于食品而非药品，孕期、哺乳期或正在服药的朋友请先咨询医生。",
        "zh",
    ),
    FaqEntry(
        "是无麸质的吗？过敏原、坚果、大豆、乳糖、素食配料",
        "每款商品页面都列有配料和过敏原；燕麦和麦片系列为无麸质认证，豌豆蛋白为纯素。",
        "zh",
    ),
    FaqEntry("可以用支付宝或微信支付吗？付款方式", "可以，支持支付宝、微信支付和主流银行卡。", "zh"),
    FaqEntry("怎么查物流？订单跟踪", "包裹发出后会通过短信和邮件发送物流链接。", "zh"),
    FaqEntry("营业时间是几点？周日和节假日开门吗？", "门店每天8:00至21:00营业，节假日照常。", "zh"),
    FaqEntry("怎么取消或修改订阅？", "在账户的“我的订阅”里可以随时暂停、修改或取消，下次续订前生效。", "zh"),
    FaqEntry(
        "可以批发或大量采购吗？咖啡店、公司",
        "可以！咖啡店、公司和大宗采购请发邮件到 hello@meadowpantry.example 询价。",
        "zh",
    ),
)

#: Starter reply templates by (intent, language). Variables: handle, name, faq_answer, faq_question,
#: product, offer, link.
STARTER_REPLY_TEMPLATES: dict[tuple[str, str], str] = {
    ("question", "en"): "{{ handle }} Thanks for asking! {% if faq_answer %}{{ faq_answer }}{% else %}"
    "We'll check and get back to you shortly, or DM us anytime.{% endif %}",
    ("complaint", "en"): "{{ handle }} We're really sorry about this. {% if faq_answer %}{{ faq_answer }} {% endif %}"
    "Please DM us your order number and we'll make it right.",
    ("praise", "en"): "{{ handle }} Thank you so much! Messages like yours make our day 💚",
    ("purchase_intent", "en"): "{{ handle }} Great choice! {% if faq_answer %}{{ faq_answer }}{% else %}You can "
    "order {{ product }} at {{ link }}.{% endif %}",
    ("other", "en"): "{{ handle }} Thanks for reaching out!{% if faq_answer %} {{ faq_answer }}{% endif %} "
    "Have a lovely day 🌿",
    ("question", "zh"): "{{ handle }} 感谢提问！{% if faq_answer %}{{ faq_answer }}{% else %}我们确认后会尽快回复您，"
    "也欢迎私信我们。{% endif %}",
    ("complaint", "zh"): "{{ handle }} 非常抱歉给您带来不好的体验。{% if faq_answer %}{{ faq_answer }}{% endif %}"
    "请私信我们订单号，我们会尽快为您处理。",
    ("praise", "zh"): "{{ handle }} 谢谢您的支持！您的鼓励是我们最大的动力 💚",
    ("purchase_intent", "zh"): "{{ handle }} 谢谢喜欢！{% if faq_answer %}{{ faq_answer }}{% else %}"
    "可以在 {{ link }} 下单购买。{% endif %}",
    ("other", "zh"): "{{ handle }} 谢谢您的留言！{% if faq_answer %}{{ faq_answer }}{% endif %}祝您生活愉快 🌿",
}
_SAMPLE_CONTEXT = {
    "handle": "@customer",
    "name": "customer",
    "faq_question": "How long does delivery take?",
    "faq_answer": "Orders ship within 24 hours.",
    "product": "our marine collagen",
    "offer": "15% off",
    "link": "https://example.com",
}


def _seed_faq(ws: Workspace) -> None:
    if ws.get_setting(FAQ_SEEDED_SETTING) is not None:
        return
    with ws.connect() as con:
        if con.execute("SELECT COUNT(*) FROM faq").fetchone()[0] == 0:
            con.executemany(
                "INSERT INTO faq (question, answer, lang, updated_at) VALUES (?, ?, ?, ?)",
                [(f.question, f.answer, f.lang, utc_now()) for f in STARTER_FAQ],
            )
        ws.set_setting(FAQ_SEEDED_SETTING, utc_now(), con=con)


def list_faq(ws: Workspace) -> list[FaqEntry]:
    """The FAQ (the starters until the operator edits it), in the order it was written."""
    _seed_faq(ws)
    with ws.connect() as con:
        rows = con.execute("SELECT question, answer, lang FROM faq ORDER BY id").fetchall()
    return [FaqEntry(r["question"], r["answer"], r["lang"]) for r in rows]


def save_faq(ws: Workspace, entries: Iterable[FaqEntry | dict]) -> list[FaqEntry]:
    """Replace the FAQ with ``entries`` (rows left entirely blank are dropped).

    Raises
    ------
    InboxValidationError
        Naming each bad row (empty question or answer, unknown language, answer too long for a
        reply); nothing is stored then.
    """
    clean, problems = [], []
    for number, entry in enumerate(entries, start=1):
        if isinstance(entry, dict):
            entry = FaqEntry(
                str(entry.get("question") or "").strip(),
                str(entry.get("answer") or "").strip(),
                str(entry.get("lang") or "").strip() or "en",
            )
        if not entry.question and not entry.answer:
            continue
        if not entry.question:
            problems.append(f"row {number}: the question is empty")
        if not entry.answer:
            problems.append(f"row {number}: the answer is empty")
        if entry.lang not in LANGS:
            problems.append(f"row {number}: language {entry.lang!r} must be one of {', '.join(LANGS)}")
        if entry.answer and weighted_length(entry.answer) > MAX_FAQ_ANSWER:
            problems.append(
                f"row {number}: the answer is {weighted_length(entry.answer)} characters by X's count; "
                f"at most {MAX_FAQ_ANSWER} leave room for the greeting"
            )
        clean.append(entry)
    if problems:
        raise InboxValidationError(problems)
    with ws.connect() as con:
        con.execute("DELETE FROM faq")
        con.executemany(
            "INSERT INTO faq (question, answer, lang, updated_at) VALUES (?, ?, ?, ?)",
            [(e.question, e.answer, e.lang, utc_now()) for e in clean],
        )
        ws.set_setting(FAQ_SEEDED_SETTING, utc_now(), con=con)
        ws.audit("inbox.faq", {"entries": len(clean)}, con=con)
    return clean


def list_reply_templates(ws: Workspace) -> dict[tuple[str, str], str]:
    """Reply template body by (intent, language): the operator's where saved, else the starter."""
    with ws.connect() as con:
        rows = con.execute("SELECT intent, lang, body FROM reply_templates").fetchall()
    saved = {(r["intent"], r["lang"]): r["body"] for r in rows}
    return {key: saved.get(key, body) for key, body in STARTER_REPLY_TEMPLATES.items()}


def save_reply_templates(ws: Workspace, templates: dict[tuple[str, str], str]) -> None:
    """Store reply templates after checking that each renders (with and without an FAQ answer).

    Raises
    ------
    InboxValidationError
        Naming each template that is empty, unknown or does not render; nothing is stored then.
    """
    problems = []
    for (intent, lang), body in templates.items():
        where = f"{INTENT_LABELS.get(intent, intent)} ({lang})"
        if (intent, lang) not in STARTER_REPLY_TEMPLATES:
            problems.append(
                f"{where}: intent must be one of {', '.join(INTENTS)} and language one of {', '.join(LANGS)}"
            )
            continue
        if not (body or "").strip():
            problems.append(f"{where}: the template is empty")
            continue
        for context in (_SAMPLE_CONTEXT, {**_SAMPLE_CONTEXT, "faq_answer": "", "faq_question": ""}):
            try:
                render_template(body, context)
            except TemplateError as exc:
                problems.append(f"{where}: {exc}")
                break
    if problems:
        raise InboxValidationError(problems)
    with ws.connect() as con:
        for (intent, lang), body in templates.items():
            con.execute(
                "INSERT INTO reply_templates (intent, lang, body, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (intent, lang) DO UPDATE SET body = excluded.body, "
                "updated_at = excluded.updated_at",
                (intent, lang, body, utc_now()),
            )
        ws.audit("inbox.reply_templates", {"saved": len(templates)}, con=con)


# -- suggested replies ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    """A suggested reply, the FAQ entry it used (if any) and what the checks say about it."""

    text: str
    faq_question: str | None
    problems: list[str]


class _FaqIndex:
    """TF-IDF over the FAQ of one language (question and answer of each entry), for the closest entry.

    English is compared by words (without stop words), Chinese by characters and character pairs
    (it has no spaces between words).
    """

    def __init__(self, entries: list[FaqEntry], lang: str) -> None:

        self.entries = entries
        self.vectorizer = None
        if entries:
            if lang == "zh":
                self.vectorizer = TfidfVectorizer(
                    analyzer="char", ngram_range=(1, 2), sublinear_tf=True, preprocessor=_prepare
                )
            else:
                self.vectorizer = TfidfVectorizer(
                    analyzer="word", stop_words="english", sublinear_tf=True, preprocessor=_prepare
                )
            try:
                self.matrix = self.vectorizer.fit_transform([f"{e.question} {e.answer}" for e in entries])
            except ValueError:  # only stop words: nothing to compare with
                self.vectorizer = None

    def best(self, text: str) -> tuple[FaqEntry | None, float]:
        if self.vectorizer is None:
            return None, 0.0
        scores = (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()
        index = int(scores.argmax())
        return self.entries[index], float(scores[index])


@dataclass
class _ReplyContext:
    """What every suggestion of one listing shares (loaded once)."""

    templates: dict[tuple[str, str], str]
    faq: dict[str, _FaqIndex]
    brand: dict[str, str]
    banned: list[str]
    char_limit: int

    @classmethod
    def load(cls, ws: Workspace) -> _ReplyContext:
        entries = list_faq(ws)
        return cls(
            list_reply_templates(ws),
            {lang: _FaqIndex([e for e in entries if e.lang == lang], lang) for lang in LANGS},
            load_brand(ws),
            load_banned_words(ws),
            PublishSettings.load(ws).char_limit,
        )


def check_reply(ws: Workspace, text: str, *, _context: _ReplyContext | None = None) -> list[str]:
    """Why ``text`` cannot go out as a reply (empty list when it can): the post checks of
    :mod:`core.content.checks` that apply to a reply — empty, X's weighted length, banned words."""
    banned = _context.banned if _context else load_banned_words(ws)
    limit = _context.char_limit if _context else PublishSettings.load(ws).char_limit
    if not text.strip():
        return ["the reply is empty"]
    check = check_draft(text, banned_words=banned, max_weighted_length=limit)
    # "too short" and similar garbage checks are for generated drafts; "@ana 谢谢！" is a fine reply
    return [r for r in check.reasons if r.startswith(("too long", "banned word"))]


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?。！？])(?:\s|$)", text)
    return match.group(1) if match else text


def _fit(text: str, limit: int) -> str:
    """``text`` cut at a word (or, in Chinese, a character) so its weighted length is within ``limit``."""
    if weighted_length(text) <= limit:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis (length grows with the prefix)
    while low < high:
        middle = (low + high + 1) // 2
        if weighted_length(text[:middle] + "…") <= limit:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if " " in cut and not _HAN.search(cut[-1:]):
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:—-") + "…"


def suggest_reply(
    ws: Workspace, mention: InboxItem | Mention, *, intent: str | None = None, _context: _ReplyContext | None = None
) -> Suggestion:
    """The reply Reach suggests for ``mention``: its intent's template in its language, filled with the
    author's handle and the closest FAQ answer, shortened to X's limit and checked.

    Raises
    ------
    TemplateError
        When a stored template cannot be rendered (the editor refuses to save such templates).
    """
    context = _context or _ReplyContext.load(ws)
    text = mention.text
    lang = detect_language(text, hint=getattr(mention, "lang", None))
    if intent is None:
        intent = getattr(mention, "intent", None) or classify([text])[0].intent
    username = (getattr(mention, "author_username", None) or "").lstrip("@")
    handle = f"@{username}" if username else ""
    faq_entry = None
    if intent in FAQ_INTENTS:
        faq_entry, score = context.faq[lang].best(text)
        if score < FAQ_MIN_SIMILARITY:
            faq_entry = None
    brand = context.brand
    values = {
        "handle": handle,
        "name": username,
        "faq_question": faq_entry.question if faq_entry else "",
        "faq_answer": faq_entry.answer if faq_entry else "",
        "product": brand.get("product", ""),
        "offer": brand.get("offer", ""),
        "link": brand.get("link", ""),
    }
    body = context.templates[(intent, lang)]
    reply_text = render_template(body, values)
    if weighted_length(reply_text) > context.char_limit and faq_entry:
        reply_text = render_template(body, {**values, "faq_answer": _first_sentence(faq_entry.answer)})
    if handle and handle.casefold() not in reply_text.casefold():
        # the handle tells X and the customer who is answered, and keeps replies to different people apart
        reply_text = f"{handle} {reply_text}"
    reply_text = _fit(reply_text, context.char_limit)
    return Suggestion(
        reply_text, faq_entry.question if faq_entry else None, check_reply(ws, reply_text, _context=context)
    )


# -- mentions ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxItem:
    """One stored mention with its intent, suggested reply and reply post (if any)."""

    id: str
    text: str
    author_id: str | None
    author_username: str | None
    created_at: str | None
    lang: str
    channel: str
    is_demo: bool
    intent: str
    confidence: float
    handled: bool
    handled_at: str | None
    reply_post_id: int | None
    reply_state: str | None
    reply_url: str | None
    suggested_reply: str = ""
    faq_question: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The mention as ``python -m core inbox --json`` prints it."""
        return {
            "id": self.id,
            "text": self.text,
            "author_id": self.author_id,
            "intent": self.intent,
            "suggested_reply": self.suggested_reply,
            "handled": self.handled,
        }


_SELECT = (
    "SELECT m.*, o.state AS reply_state, o.url AS reply_url FROM mentions m "
    "LEFT JOIN outbox o ON o.id = m.reply_post_id"
)


def _classify_missing(ws: Workspace, rows: list) -> dict[str, IntentGuess]:
    """Intents of rows stored without one (fetched or seeded before the model ran), stored now."""
    missing = [r for r in rows if not r["intent"]]
    guesses = dict(zip([r["id"] for r in missing], classify([r["text"] for r in missing]), strict=True))
    if guesses:
        with ws.connect() as con:
            con.executemany(
                "UPDATE mentions SET intent = ?, intent_confidence = ? WHERE id = ? AND intent IS NULL",
                [(g.intent, g.confidence, mention_id) for mention_id, g in guesses.items()],
            )
    return guesses


def _item(row, guess: IntentGuess | None) -> InboxItem:
    intent = guess.intent if guess else row["intent"]
    confidence = guess.confidence if guess else row["intent_confidence"]
    return InboxItem(
        id=row["id"],
        text=row["text"],
        author_id=row["author_id"],
        author_username=row["author_username"],
        created_at=row["created_at"],
        lang=detect_language(row["text"], hint=row["lang"]),
        channel=row["channel"],
        is_demo=bool(row["is_demo"]),
        intent=intent,
        confidence=float(confidence or 0.0),
        handled=bool(row["handled"]),
        handled_at=row["handled_at"],
        reply_post_id=row["reply_post_id"] if row["reply_state"] else None,
        reply_state=row["reply_state"],
        reply_url=row["reply_url"],
    )


def list_mentions(
    ws: Workspace,
    *,
    handled: bool | None = None,
    intents: Iterable[str] | None = None,
    suggest: bool = True,
    limit: int | None = None,
) -> list[InboxItem]:
    """Stored mentions, newest first, each with its intent and (with ``suggest``) a suggested reply.

    Parameters
    ----------
    handled
        Only handled (True) or unhandled (False) mentions; all when None.
    intents
        Only these intents; all when None (or empty).
    limit
        At most this many (the newest) after filtering; all when None.
    """
    if limit is not None and limit < 1:
        raise InboxError(f"limit={limit} must be at least 1")
    intents = set(intents or ())
    unknown = intents - set(INTENTS)
    if unknown:
        raise InboxError(f"intents {sorted(unknown)} are not among {', '.join(INTENTS)}")
    with ws.connect() as con:
        rows = con.execute(_SELECT + " ORDER BY m.created_at DESC, m.fetched_at DESC, m.id DESC").fetchall()
    guesses = _classify_missing(ws, rows)
    items = [_item(r, guesses.get(r["id"])) for r in rows]
    items = [i for i in items if (handled is None or i.handled == handled) and (not intents or i.intent in intents)]
    items = items[:limit] if limit is not None else items
    if not suggest or not items:
        return items
    context = _ReplyContext.load(ws)
    out = []
    for item in items:
        suggestion = suggest_reply(ws, item, _context=context)
        out.append(
            InboxItem(
                **{
                    **item.__dict__,
                    "suggested_reply": suggestion.text,
                    "faq_question": suggestion.faq_question,
                    "problems": suggestion.problems,
                }
            )
        )
    return out


def get_mention(ws: Workspace, mention_id: str, *, suggest: bool = False) -> InboxItem:
    """One stored mention.

    Raises
    ------
    InboxError
        When no mention has that id (the message lists a few that exist).
    """
    mention_id = str(mention_id).strip()
    with ws.connect() as con:
        row = con.execute(_SELECT + " WHERE m.id = ?", (mention_id,)).fetchone()
        if row is None:
            known = [r[0] for r in con.execute("SELECT id FROM mentions ORDER BY created_at DESC LIMIT 5")]
    if row is None:
        hint = f"known ids include {', '.join(known)}" if known else "the inbox is empty"
        raise InboxError(f"unknown mention id {mention_id!r} ({hint}; `python -m core inbox` lists them)")
    item = _item(row, _classify_missing(ws, [row]).get(row["id"]))
    if not suggest:
        return item
    suggestion = suggest_reply(ws, item)
    return InboxItem(
        **{
            **item.__dict__,
            "suggested_reply": suggestion.text,
            "faq_question": suggestion.faq_question,
            "problems": suggestion.problems,
        }
    )


def inbox_status(ws: Workspace) -> tuple[int, int]:
    """(mentions waiting for an answer, all mentions) — one cheap query for the Home page."""
    with ws.connect() as con:
        row = con.execute("SELECT SUM(CASE WHEN handled = 0 THEN 1 ELSE 0 END), COUNT(*) FROM mentions").fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def mark_handled(ws: Workspace, mention_id: str, *, handled: bool = True) -> InboxItem:
    """Mark a mention handled (or, with ``handled=False``, waiting again)."""
    item = get_mention(ws, mention_id)
    with ws.connect() as con:
        con.execute(
            "UPDATE mentions SET handled = ?, handled_at = ? WHERE id = ?",
            (int(handled), utc_now() if handled else None, item.id),
        )
        ws.audit("inbox.handled" if handled else "inbox.unhandled", {"mention_id": item.id}, con=con)
    return get_mention(ws, item.id)


def set_intent(ws: Workspace, mention_id: str, intent: str) -> InboxItem:
    """Correct a mention's intent (the suggested reply follows it); stored with confidence 1.

    Raises
    ------
    InboxError
        For an unknown mention id or intent.
    """
    if intent not in INTENTS:
        raise InboxError(f"intent {intent!r} is not one of {', '.join(INTENTS)}")
    item = get_mention(ws, mention_id)
    with ws.connect() as con:
        con.execute("UPDATE mentions SET intent = ?, intent_confidence = 1.0 WHERE id = ?", (intent, item.id))
        ws.audit("inbox.intent", {"mention_id": item.id, "from": item.intent, "to": intent}, con=con)
    return get_mention(ws, item.id)


def _store(ws: Workspace, mentions: Iterable[Mention], *, channel: str, is_demo: bool = False) -> int:
    """Insert mentions not stored yet; return how many were new."""
    new = 0
    with ws.connect() as con:
        for m in mentions:
            created = clock.iso(m.created_at) if m.created_at else utc_now()
            cur = con.execute(
                "INSERT INTO mentions (id, text, author_id, author_username, created_at, fetched_at, lang, channel, "
                "is_demo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    m.remote_id,
                    m.text,
                    m.author_id,
                    m.author_username,
                    created,
                    utc_now(),
                    m.lang,
                    channel,
                    int(is_demo),
                ),
            )
            new += cur.rowcount
    return new


def _newest(ids: Iterable[str]) -> str | None:
    ids = [i for i in ids if i]
    numeric = [i for i in ids if i.isdigit()]
    if numeric:  # X's ids grow with time; compare them as numbers, not text
        return max(numeric, key=int)
    return max(ids) if ids else None


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: new mentions stored, or why none were fetched."""

    fetched: int
    new: int
    message: str
    deferred_until: str | None = None


def refresh_mentions(ws: Workspace, *, publishers: PublisherFactory | None = None) -> RefreshReport:
    """Fetch the account's mentions newer than the last one seen and store them.

    Mentions come from the default channel; without keys for a live channel nothing is fetched
    (the dry run has no mentions). After a rate limit the time the channel gives is stored and no
    call is made before it.

    Parameters
    ----------
    publishers
        ``channel -> Channel`` (as for :func:`core.delivery.outbox.publish_now`); the registry's
        connected channel when None.

    Raises
    ------
    PublishError
        When X refuses the keys (kind ``auth``) or cannot be reached (``transient``); nothing is
        stored then and the next refresh asks again from the same id.
    """
    settings = PublishSettings.load(ws)
    source = registry.channel(registry.default_channel())
    if not source.live:
        networks = " or ".join(c.label for c in registry.live_channels())
        return RefreshReport(0, 0, f"No {networks} keys are set (dry run), so there are no mentions to fetch.")
    channel = source.name
    now = clock.now()
    hold = ws.get_setting(HOLD_SETTING)
    if hold and hold > clock.iso(now):
        when = clock.format_local(hold, settings.timezone)
        return RefreshReport(0, 0, f"{source.label} rate limit: mentions can be fetched again at {when}", hold)
    factory = publishers or (lambda ch: registry.publisher_for(ws, ch, timeout=settings.request_timeout_seconds))
    publisher = factory(channel)
    since_id = ws.get_setting(SINCE_SETTING)
    try:
        found = publisher.mentions(since_id=since_id)
    except PublishError as exc:
        if exc.kind != ErrorKind.RATE_LIMITED:
            raise
        until = clock.iso(exc.retry_at or now + RATE_LIMIT_FALLBACK)
        with ws.connect() as con:
            ws.set_setting(HOLD_SETTING, until, con=con)
            ws.audit("inbox.deferred", {"until": until}, con=con)
        when = clock.format_local(until, settings.timezone)
        return RefreshReport(0, 0, f"{source.label} rate limit: mentions can be fetched again at {when}", until)
    new = _store(ws, found, channel=channel)
    newest = _newest([since_id or "", *(m.remote_id for m in found)])
    with ws.connect() as con:
        if newest and newest != since_id:
            ws.set_setting(SINCE_SETTING, newest, con=con)
        con.execute("DELETE FROM settings WHERE key = ?", (HOLD_SETTING,))
        ws.audit("inbox.refresh", {"fetched": len(found), "new": new, "since_id": since_id}, con=con)
    log.info("inbox: %d mentions fetched, %d new", len(found), new)
    word = "mention" if new == 1 else "mentions"
    return RefreshReport(len(found), new, f"{new} new {word}." if new else "No new mentions.")


#: The demo's mentions: one of each intent, one complaint and one question in Chinese.
DEMO_MENTIONS: tuple[tuple[str, str, str], ...] = (
    ("demo_lily", "Hi @meadowpantry! How long does delivery to Chengdu usually take?", "en"),
    (
        "demo_mark",
        "@meadowpantry my order came with the honey jar broken, it leaked all over the box. Not impressed.",
        "en",
    ),
    ("demo_sophie", "@meadowpantry the herbal sleep tea is amazing, best night's sleep in weeks. Thank you!", "en"),
    ("demo_jason", "@meadowpantry I want to order 3 tubs of the vanilla collagen, where do I buy?", "en"),
    ("demo_xiaomei", "@meadowpantry 请问胶原蛋白粉孕妇可以吃吗？", "zh"),
    ("demo_laowang", "@meadowpantry 快递太慢了，下单五天了还没到", "zh"),
    ("demo_anna", "Happy Friday from Shanghai ☀️ @meadowpantry", "en"),
)


def seed_demo_mentions(ws: Workspace, *, now: datetime | None = None) -> int:
    """Store the demo's mentions (ids ``demo-1`` …, authors ``demo_…``, replies go to the dry run).

    Idempotent; returns how many were new.
    """
    now = now or clock.now()
    mentions = [
        Mention(f"demo-{n}", text, f"demo-user-{n}", handle, now - timedelta(hours=5 * n + 1), lang)
        for n, (handle, text, lang) in enumerate(DEMO_MENTIONS, start=1)
    ]
    return _store(ws, mentions, channel=registry.dry_run_channel(), is_demo=True)


# -- replies ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplyResult:
    """The reply post of a mention and what happened to it on this call."""

    mention_id: str
    post: Post
    created: bool  # False: the mention had its reply already; nothing new was made
    outcome: Outcome | None  # None when nothing was sent on this call
    message: str

    def as_json(self) -> dict:
        """``{"post_id", "state"}`` as ``python -m core inbox reply --json`` prints it."""
        return {"post_id": self.post.id, "state": str(self.post.state)}


def _claim_reply(ws: Workspace, mention_id: str) -> tuple[int | None, str | None]:
    """(existing reply post, None), (None, our claim token) or (None, None) while another call holds it."""
    now = clock.now()
    with ws.connect() as con:
        con.execute("BEGIN IMMEDIATE")  # one writer from the check to the claim
        row = con.execute(
            "SELECT reply_post_id, reply_claim, reply_claimed_at FROM mentions WHERE id = ?", (mention_id,)
        ).fetchone()
        linked = row["reply_post_id"]
        if linked is not None and con.execute("SELECT 1 FROM outbox WHERE id = ?", (linked,)).fetchone():
            return linked, None
        # a post made for this mention whose link was never written (the process died in between)
        orphan = con.execute(
            "SELECT id FROM outbox WHERE in_reply_to = ? ORDER BY id LIMIT 1", (mention_id,)
        ).fetchone()
        if orphan is not None:
            con.execute(
                "UPDATE mentions SET reply_post_id = ?, reply_claim = NULL WHERE id = ?", (orphan[0], mention_id)
            )
            return orphan[0], None
        fresh = clock.iso(now - timedelta(seconds=CLAIM_SECONDS))
        if row["reply_claim"] and (row["reply_claimed_at"] or "") > fresh:
            return None, None
        token = uuid.uuid4().hex
        con.execute(
            "UPDATE mentions SET reply_claim = ?, reply_claimed_at = ?, reply_post_id = NULL WHERE id = ?",
            (token, clock.iso(now), mention_id),
        )
    return None, token


def _release_claim(ws: Workspace, mention_id: str, token: str) -> None:
    with ws.connect() as con:
        con.execute(
            "UPDATE mentions SET reply_claim = NULL, reply_claimed_at = NULL WHERE id = ? AND reply_claim = ?",
            (mention_id, token),
        )


def _send_existing(ws: Workspace, mention: InboxItem, post_id: int, publishers: PublisherFactory | None) -> ReplyResult:
    """The mention has its reply post: publish it if it is still queued, otherwise just report it."""
    post = publish.get_post(ws, post_id)
    outcome = None
    if post.state in (OutboxState.APPROVED, OutboxState.SCHEDULED):
        outcome = publish.publish_now(ws, post.id, publishers=publishers)
        post = publish.get_post(ws, post.id)
    if outcome is not None and outcome.result != "skipped":
        message = f"Reply to {mention.id}: {outcome.message}"
    elif post.state == OutboxState.PUBLISHED:
        message = f"Mention {mention.id} was answered already (post {post.id}); nothing new was sent"
    elif post.state == OutboxState.FAILED:
        message = (
            f"The reply to {mention.id} (post {post.id}) failed: {post.last_error}. Retry it here or on "
            "the Publish page"
        )
    else:
        message = f"Mention {mention.id} has its reply already: post {post.id} is {post.state}"
    return ReplyResult(mention.id, post, False, outcome, message)


def reply(
    ws: Workspace, mention_id: str, *, text: str | None = None, publishers: PublisherFactory | None = None
) -> ReplyResult:
    """Answer a mention: queue the reply (approved, due now) in the outbox and publish it now.

    A mention gets one reply post. A second call — a double click, a repeated command, two
    processes at once — creates nothing: it returns that post (publishing it if it is still
    queued, e.g. after a 5xx). A failed reply is retried with :func:`retry_reply` or on the
    Publish page. The mention is marked handled.

    Parameters
    ----------
    text
        The reply as the operator wrote it; the suggested reply when None.
    publishers
        ``channel -> Channel`` passed on to :func:`core.delivery.outbox.publish_now`.

    Raises
    ------
    InboxError
        For an unknown mention id.
    InboxValidationError
        When the text fails the reply checks (length, banned words) or the outbox pre-flight;
        nothing is stored then.
    """
    mention = get_mention(ws, mention_id)
    deadline = time.monotonic() + WAIT_FOR_OTHER_SECONDS
    while True:
        post_id, token = _claim_reply(ws, mention.id)
        if post_id is not None:
            return _send_existing(ws, mention, post_id, publishers)
        if token is not None:
            break
        if time.monotonic() > deadline:
            raise InboxError(f"another reply to mention {mention.id} is being prepared right now; try again shortly")
        time.sleep(0.1)
    try:
        body = text if text is not None else suggest_reply(ws, mention).text
        problems = check_reply(ws, body)
        if problems:
            raise InboxValidationError([f"not sent: {p}" for p in problems])
        try:
            post = publish.add_post(ws, body, channel=mention.channel, approve=True, in_reply_to=mention.id)
        except publish.PreflightError as exc:
            raise InboxValidationError([f"not sent: {p}" for p in exc.problems]) from None
    except BaseException:
        _release_claim(ws, mention.id, token)
        raise
    with ws.connect() as con:
        con.execute(
            "UPDATE mentions SET reply_post_id = ?, reply_claim = NULL, reply_claimed_at = NULL, handled = 1, "
            "handled_at = ? WHERE id = ? AND reply_claim = ?",
            (post.id, utc_now(), mention.id, token),
        )
        ws.audit("inbox.reply", {"mention_id": mention.id, "post_id": post.id}, con=con)
    outcome = publish.publish_now(ws, post.id, publishers=publishers)
    return ReplyResult(
        mention.id, publish.get_post(ws, post.id), True, outcome, f"Reply to {mention.id}: {outcome.message}"
    )


def retry_reply(ws: Workspace, mention_id: str, *, publishers: PublisherFactory | None = None) -> ReplyResult:
    """Queue a mention's failed reply again and publish it now (a reply that may be on X is looked up first).

    Raises
    ------
    InboxError
        When the mention has no failed reply.
    """
    mention = get_mention(ws, mention_id)
    if mention.reply_post_id is None or mention.reply_state != OutboxState.FAILED:
        state = mention.reply_state or "not answered yet"
        raise InboxError(f"mention {mention.id} has no failed reply to retry ({state})")
    try:
        publish.retry(ws, mention.reply_post_id)
    except publish.PreflightError as exc:
        raise InboxValidationError([f"not sent: {p}" for p in exc.problems]) from None
    outcome = publish.publish_now(ws, mention.reply_post_id, publishers=publishers)
    return ReplyResult(
        mention.id,
        publish.get_post(ws, mention.reply_post_id),
        False,
        outcome,
        f"Reply to {mention.id}: {outcome.message}",
    )
