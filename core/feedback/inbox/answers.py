"""What the shop answers with: its FAQ and a reply template per intent and language.

Both start from the demo health-food shop's starters (:data:`STARTER_FAQ`,
:data:`STARTER_REPLY_TEMPLATES`) and are edited by the operator on the Inbox page; edits are
checked before they are stored (an FAQ answer must leave room for the greeting, a template must
render with and without an FAQ answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.clock import utc_now
from core.content.checks import weighted_length
from core.content.templates import TemplateError, render_template
from core.feedback.inbox.errors import InboxValidationError
from core.feedback.inbox.intents import INTENT_LABELS, INTENTS, LANGS
from core.workspace import Workspace

MAX_FAQ_ANSWER = 200  # weighted characters: a reply needs room for the greeting and handle
FAQ_SEEDED_SETTING = "inbox.faq_seeded"


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
