"""Column mapping: which column of an export holds Reach's user id, action, topic, ...

Header names are matched after folding (NFKC, lower case, no spaces, underscores, hyphens,
dots, brackets or slashes) against each canonical column's own name and its synonyms, English
and Chinese. The operator's overrides (the Data page's editor, ``--map`` on the command line)
win over what the names suggest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from core.intake.errors import IngestError

__all__ = [
    "CANONICAL_COLUMNS",
    "SYNONYMS",
    "auto_mapping",
    "mapping_problem",
    "parse_mapping_overrides",
]

CANONICAL_COLUMNS: dict[str, str] = {
    "user_id": "who acted (required for events)",
    "timestamp": "when (ISO text, common date formats, or unix seconds/milliseconds)",
    "action": "what they did: view, like, comment, share, click, purchase, follow, ...",
    "topic": "interest, category, hashtag or item",
    "platform": "where (optional)",
    "age": "user table: age in years",
    "gender": "user table: gender",
    "region": "user table: region or city",
    "transaction_id": "baskets: one id per basket / order",
    "item": "baskets: the item bought",
}

# Header names are compared after folding: lower case, no spaces, underscores or hyphens.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "user_id": (
        "userid",
        "user",
        "uid",
        "id",
        "customerid",
        "customer",
        "memberid",
        "member",
        "accountid",
        "account",
        "username",
        "screenname",
        "用户id",
        "用户",
        "用户名",
        "会员id",
        "账号",
        "客户id",
    ),
    "timestamp": (
        "timestamp",
        "time",
        "date",
        "datetime",
        "eventtime",
        "createdat",
        "created",
        "ts",
        "eventdate",
        "时间",
        "日期",
        "发布时间",
        "时间戳",
    ),
    "action": ("action", "event", "eventtype", "type", "interaction", "behaviour", "behavior", "行为", "动作", "事件"),
    "topic": (
        "topic",
        "category",
        "tag",
        "hashtag",
        "genre",
        "interest",
        "subject",
        "话题",
        "标签",
        "兴趣",
        "类别",
        "分类",
    ),
    "platform": ("platform", "channel", "source", "network", "平台", "渠道"),
    "age": ("age", "年龄"),
    "gender": ("gender", "sex", "性别"),
    "region": ("region", "city", "location", "province", "country", "area", "地区", "城市", "省份", "地域"),
    "transaction_id": (
        "transactionid",
        "transaction",
        "orderid",
        "order",
        "basketid",
        "basket",
        "invoiceno",
        "invoice",
        "receipt",
        "订单号",
        "订单id",
        "订单",
    ),
    "item": ("item", "product", "productname", "sku", "itemname", "article", "商品", "产品"),
}


def _fold(name: str) -> str:
    """A header name as synonyms are written: NFKC, lower case, no spaces, underscores, hyphens, dots, brackets or slashes."""
    return re.sub(r"[\s_\-.()/]+", "", unicodedata.normalize("NFKC", name).lower())


def auto_mapping(columns: Sequence[str], synonyms: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """Canonical column -> source column, from the header names alone.

    ``synonyms`` (default: the intake's) lists the folded names each canonical column is found by;
    the canonical name itself comes first, and a source column is used once.
    """
    folded = {_fold(c): c for c in reversed(columns)}  # first occurrence wins
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for canonical, names in (SYNONYMS if synonyms is None else synonyms).items():
        for candidate in (_fold(canonical), *names):
            source = folded.get(candidate)
            if source is not None and source not in used:
                mapping[canonical] = source
                used.add(source)
                break
    return mapping


def parse_mapping_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["user_id=UID", ...]`` from the command line into a mapping."""
    out: dict[str, str] = {}
    for pair in pairs:
        canonical, sep, column = pair.partition("=")
        canonical, column = canonical.strip(), column.strip()
        if not sep or not canonical or not column:
            raise IngestError(f"--map takes CANONICAL=COLUMN, got {pair!r}")
        if canonical not in CANONICAL_COLUMNS:
            raise IngestError(f"--map {pair!r}: {canonical!r} is not one of {', '.join(CANONICAL_COLUMNS)}")
        out[canonical] = column
    return out


def mapping_problem(
    kind: str, mapping: dict[str, str], per_line: bool, columns: Sequence[str], name: str
) -> str | None:
    """What a mapping lacks for ``kind``, as a message that says what to do, or None."""
    if kind == "events" and "user_id" not in mapping:
        return (
            f"{name}: no user column found (expected one named like user_id, uid, user or 用户ID); "
            f"columns seen: {', '.join(columns)}. Choose the user column in the mapping (--map user_id=COLUMN)"
        )
    if kind == "events" and "topic" not in mapping:
        return (
            f"{name}: no topic column found (expected one named like topic, category, tag, interest or 话题); "
            f"columns seen: {', '.join(columns)}. Choose it in the mapping (--map topic=COLUMN)"
        )
    if (
        kind == "baskets"
        and not per_line
        and not ("transaction_id" in mapping and ({"item", "topic"} & mapping.keys()))
    ):
        return (
            f"{name}: a basket file needs a transaction id column and an item column, or one basket per line; "
            f"columns seen: {', '.join(columns)}"
        )
    return None
