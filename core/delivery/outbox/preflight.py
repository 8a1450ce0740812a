"""Pre-flight: why a text cannot go out yet (an unfilled placeholder or other unpublishable text, too long
for its channel, nearly the same as a recent post)."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import timedelta

from core import clock
from core.content.checks import publishing_problems, similar
from core.delivery.channels import registry
from core.delivery.outbox.posts import OutboxState as S
from core.delivery.outbox.settings import PublishSettings
from core.workspace import Workspace

__all__ = [
    "NEAR_DUPLICATE_DAYS",
    "NEAR_DUPLICATE_RATIO",
    "char_limit",
    "length_problem",
    "normalise",
    "preflight",
    "weighted_length",
]

NEAR_DUPLICATE_RATIO = 0.9
NEAR_DUPLICATE_DAYS = 30

_URL = re.compile(r"https?://\S+")


def normalise(text: str) -> str:
    """``text`` as compared for duplicates: unescaped, NFC, links as ``<url>``, spaces collapsed, casefolded."""
    # networks answer with HTML entities, shortened links and normalised Unicode; compare what is left
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(_URL.sub("<url>", text).split()).casefold()


def preflight(
    ws: Workspace,
    text: str,
    *,
    exclude_post_id: int | None = None,
    settings: PublishSettings | None = None,
    queued_too: bool = True,
    in_reply_to: str | None = None,
    channel: str | None = None,
) -> list[str]:
    """Why ``text`` cannot go out (empty list when it can): length, near-duplicates.

    Parameters
    ----------
    channel
        Whose length rule applies (default: :func:`~core.delivery.channels.registry.default_channel`).
    exclude_post_id
        The post being checked, so it is not compared with itself.
    queued_too
        Compare with approved and scheduled posts as well as with published ones.
    in_reply_to
        For a reply: compare only with other replies to the same post (two customers may both get
        "thanks!"); posts are compared only with posts that are not replies.

    Near-duplicates are looked for on the same channel only: one post for two channels is the
    same words twice, once on each.
    """
    settings = settings or PublishSettings.load(ws)
    rules = registry.channel(channel or registry.default_channel())
    problems = []
    if not text.strip():
        problems.append("the text is empty")
        return problems
    # the same checks as every draft (what the owner typed is theirs to word: no style rules)
    problems += publishing_problems(text, style=False)
    too_long = length_problem(ws, text, rules.name, settings)
    if too_long:
        problems.append(too_long)
    states = [S.PUBLISHED, S.PUBLISHING] + ([S.APPROVED, S.SCHEDULED] if queued_too else [])
    since = clock.iso(clock.now() - timedelta(days=NEAR_DUPLICATE_DAYS))
    marks = ",".join("?" * len(states))
    with ws.connect() as con:
        rows = con.execute(
            f"SELECT id, text, state FROM outbox WHERE state IN ({marks}) AND id != ? "
            "AND COALESCE(published_at, updated_at) >= ? AND COALESCE(in_reply_to, '') = ? AND channel = ? "
            "ORDER BY id DESC",
            (*states, exclude_post_id or -1, since, in_reply_to or "", rules.name),
        ).fetchall()
    mine = normalise(text)
    for row in rows:
        if similar(mine, normalise(row["text"]), NEAR_DUPLICATE_RATIO):
            problems.append(f"nearly the same as post {row['id']} ({row['state']}); {rules.duplicate_rule}")
            break
    return problems


def length_problem(
    ws: Workspace, text: str, channel: str | None = None, settings: PublishSettings | None = None
) -> str | None:
    """Why ``text`` is too long for ``channel`` by that channel's own count and limit (None when it fits)."""
    rules = registry.channel(channel or registry.default_channel())
    length = rules.weighted_length(text)
    limit = char_limit(ws, rules.name, settings)
    if length <= limit:
        return None
    return f"{length:,} characters by {rules.length_rule} — over the limit of {limit:,} by {length - limit:,}"


def char_limit(ws: Workspace, channel: str | None = None, settings: PublishSettings | None = None) -> int:
    """How long a post on ``channel`` (default: the default channel) may be: the channel's own setting
    where it has one (a Mastodon instance's limit), else the ``char_limit`` setting when it is one of
    the channel's limits (X: 280 or 25,000), else the channel's standard limit."""
    rules = registry.channel(channel or registry.default_channel())
    own = getattr(rules, "char_limit", None)
    if callable(own):
        return int(own(ws))
    settings = settings or PublishSettings.load(ws)
    return settings.char_limit if settings.char_limit in rules.char_limits else rules.char_limits[0]


def weighted_length(text: str, *, channel: str | None = None) -> int:
    """The length of ``text`` as ``channel`` (default: the default channel) counts it against the limit."""
    return registry.channel(channel or registry.default_channel()).weighted_length(text)
