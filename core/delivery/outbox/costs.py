"""What X costs: prices per call, how often Reach reads, the month's spend and a week's estimate.

X's API is pay-per-use (credits bought in the Developer Console): a post created is billed per
request (dearer when it holds a link), a read per resource returned (each post, each user), and a
read of the same resource within one UTC day is billed once. Reach writes down its own billable
calls as they are answered (:mod:`core.delivery.channels.usage`); this module prices them.

The prices are settings (``costs.*``) with the defaults below, as X's pricing page listed them on
:data:`PRICES_CHECKED`; X changes them, so the operator should compare them with the Developer
Console. How often metrics and mentions are read is a setting too, because reads cost money:
scheduled runs never read more often than asked.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from core import clock
from core.delivery.channels.usage import KINDS, POST_CREATE, POST_CREATE_WITH_URL, POST_READ, USER_READ, create_kind
from core.delivery.outbox.posts import OutboxError
from core.workspace import Workspace

__all__ = [
    "PRICED_CHANNEL",
    "PRICES_CHECKED",
    "CostSettings",
    "MonthCosts",
    "WeekEstimate",
    "month_costs",
    "parse_month",
    "week_estimate",
]

#: The one pay-per-use channel Reach prices.
PRICED_CHANNEL = "x"
#: When the default prices were compared with https://docs.x.com/x-api/getting-started/pricing.
PRICES_CHECKED = "2026-12-03"


@dataclass(frozen=True)
class CostSettings:
    """X's prices per billable unit (US dollars) and how often Reach reads, under ``costs.*``."""

    x_post_create_usd: float = 0.015  # "Content: Create", per request
    x_post_create_with_url_usd: float = 0.200  # "Content: Create (with URL)", per request
    x_post_read_usd: float = 0.005  # "Posts: Read", per post returned
    x_user_read_usd: float = 0.010  # "User: Read", per user returned
    prices_checked: str = PRICES_CHECKED  # when the operator (or Reach's defaults) last compared them
    metrics_every_hours: float = 24.0  # scheduled metric refreshes read X at most this often
    metrics_for_days: int = 30  # X posts are measured this long after publishing, then keep their last figures
    mentions_every_minutes: float = 60.0  # scheduled mention fetches read X at most this often
    credits_retry_minutes: float = 30.0  # out of credits: how long X waits before the next try

    @classmethod
    def load(cls, ws: Workspace) -> CostSettings:
        """The stored settings (defaults for unset ones)."""
        with ws.connect() as con:
            rows = dict(con.execute("SELECT key, value FROM settings WHERE key LIKE 'costs.%'").fetchall())
        values = {}
        for name, default in asdict(cls()).items():
            raw = rows.get(f"costs.{name}")
            if raw is not None:
                values[name] = type(default)(raw)
        return cls(**values)

    def validate(self) -> None:
        """Raise :class:`OutboxError` naming the bad value."""
        for name in ("x_post_create_usd", "x_post_create_with_url_usd", "x_post_read_usd", "x_user_read_usd"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise OutboxError(f"{name}={value} must be between 0 and 100 dollars")
        try:
            date.fromisoformat(self.prices_checked)
        except ValueError:
            raise OutboxError(f"prices_checked={self.prices_checked!r} must be a date (YYYY-MM-DD)") from None
        if not 0.25 <= self.metrics_every_hours <= 24 * 30:
            raise OutboxError(f"metrics_every_hours={self.metrics_every_hours} must be between 0.25 and 720")
        if not 1 <= self.metrics_for_days <= 3650:
            raise OutboxError(f"metrics_for_days={self.metrics_for_days} must be between 1 and 3650")
        if not 1 <= self.mentions_every_minutes <= 60 * 24 * 7:
            raise OutboxError(f"mentions_every_minutes={self.mentions_every_minutes} must be between 1 and 10080")
        if not 1 <= self.credits_retry_minutes <= 60 * 24:
            raise OutboxError(f"credits_retry_minutes={self.credits_retry_minutes} must be between 1 and 1440")

    def save(self, ws: Workspace, **changes: object) -> CostSettings:
        """Validate and store changed settings; return the new settings."""
        new = CostSettings(**{**asdict(self), **changes})
        new.validate()
        with ws.connect() as con:
            for name, value in asdict(new).items():
                if value != getattr(self, name) or name in changes:
                    ws.set_setting(f"costs.{name}", str(value), con=con)
            ws.audit("costs.settings", {k: str(v) for k, v in changes.items()}, con=con)
        return new

    def prices(self) -> dict[str, float]:
        """Price per billable unit, by kind."""
        return {
            POST_CREATE: self.x_post_create_usd,
            POST_CREATE_WITH_URL: self.x_post_create_with_url_usd,
            POST_READ: self.x_post_read_usd,
            USER_READ: self.x_user_read_usd,
        }

    def prices_json(self) -> dict:
        """The ``prices`` object of ``python -m core costs --json``."""
        return {PRICED_CHANNEL: {**self.prices(), "currency": "USD", "checked": self.prices_checked}}

    def price_of_post(self, text: str) -> float:
        """What creating ``text`` costs (a link makes it the dearer kind)."""
        return self.prices()[create_kind(text)]


@dataclass(frozen=True)
class MonthCosts:
    """Reach's own billable X calls in one UTC month, priced at the current settings."""

    month: str  # YYYY-MM
    counts: dict[str, int]  # by kind
    settings: CostSettings = field(default_factory=CostSettings)

    @property
    def posts(self) -> int:
        """Posts created (with or without a link)."""
        return self.counts[POST_CREATE] + self.counts[POST_CREATE_WITH_URL]

    @property
    def reads(self) -> int:
        """Resources read (posts and users), each once per UTC day."""
        return self.counts[POST_READ] + self.counts[USER_READ]

    @property
    def estimated_usd(self) -> float:
        """The month's spend at the current prices, to the cent's tenth."""
        prices = self.settings.prices()
        return round(sum(prices[kind] * n for kind, n in self.counts.items()), 3)

    def as_json(self) -> dict:
        """``python -m core costs --json``."""
        return {
            "month": self.month,
            "channels": {
                PRICED_CHANNEL: {"posts": self.posts, "reads": self.reads, "estimated_usd": self.estimated_usd}
            },
            "prices": self.settings.prices_json(),
        }

    def line(self) -> str:
        """One line for the pages and the CLI."""
        return (
            f"X in {self.month}: {self.posts} post{'s' if self.posts != 1 else ''} and {self.reads} "
            f"read{'s' if self.reads != 1 else ''} by Reach ≈ ${self.estimated_usd:,.2f} "
            f"(prices checked {self.settings.prices_checked})"
        )


def parse_month(text: str | None) -> str:
    """``YYYY-MM`` (default: this UTC month); :class:`OutboxError` naming the value otherwise."""
    if text is None:
        return clock.now().strftime("%Y-%m")
    if not re.fullmatch(r"\d{4}-\d{2}", text.strip()) or not 1 <= int(text.strip()[5:]) <= 12:
        raise OutboxError(f"--month {text!r} must be YYYY-MM, e.g. 2026-03")
    return text.strip()


def month_costs(ws: Workspace, month: str | None = None, *, settings: CostSettings | None = None) -> MonthCosts:
    """Reach's billable X calls in ``month`` (``YYYY-MM``, default this UTC month), priced."""
    month = parse_month(month)
    with ws.connect() as con:
        rows = con.execute(
            "SELECT kind, COUNT(*) FROM api_usage WHERE channel = ? AND day LIKE ? GROUP BY kind",
            (PRICED_CHANNEL, f"{month}-%"),
        ).fetchall()
    counts = dict.fromkeys(KINDS, 0) | {kind: n for kind, n in rows if kind in KINDS}
    return MonthCosts(month, counts, settings or CostSettings.load(ws))


@dataclass(frozen=True)
class WeekEstimate:
    """What a week's plan would cost on X: posts, metric reads and mentions, in dollars."""

    posts: int
    posts_usd: float
    metric_reads: int
    metrics_usd: float
    mention_reads: int  # mentions and their authors, and the account's own user read once a day
    mentions_usd: float

    @property
    def total_usd(self) -> float:
        """Everything together."""
        return round(self.posts_usd + self.metrics_usd + self.mentions_usd, 2)

    def line(self) -> str:
        """One line for the Targeting page and the plan CLI."""
        return (
            f"≈ ${self.total_usd:,.2f} on X this week: {self.posts} post{'s' if self.posts != 1 else ''} "
            f"(${self.posts_usd:,.2f}), {self.metric_reads} metric reads (${self.metrics_usd:,.2f}), "
            f"about {self.mention_reads} reads of mentions and the account (${self.mentions_usd:,.2f})"
        )


def _refresh_days(published: datetime, start: datetime, end: datetime, settings: CostSettings) -> int:
    """Billed reads of one post's metrics between ``start`` and ``end``: one per UTC day it is read on."""
    first = max(published, start)
    last = min(end, published + timedelta(days=settings.metrics_for_days))
    if last <= first:
        return 0
    days = (last.date() - first.date()).days + 1
    every_days = settings.metrics_every_hours / 24
    return days if every_days <= 1 else math.ceil(days / every_days)


def week_estimate(
    ws: Workspace,
    posts: list[tuple[str, datetime]],
    *,
    start: datetime,
    end: datetime,
    settings: CostSettings | None = None,
) -> WeekEstimate:
    """The X cost of a week with ``posts`` (text, UTC time) queued on X, from ``start`` to ``end``.

    Posts cost their create price; metrics are read once per UTC day at most (X bills a post read
    once a day, however often it is read), on the days the cadence reads them, for the new posts
    and for X posts already published that are still measured; mentions cost a post read and a
    user read each (as many as arrived in the last seven days), plus the account's own user read
    once a day.
    """
    settings = settings or CostSettings.load(ws)
    prices = settings.prices()
    posts_usd = sum(settings.price_of_post(text) for text, _ in posts)
    since = start - timedelta(days=settings.metrics_for_days)
    with ws.connect() as con:
        published = [
            datetime.fromisoformat(r[0])
            for r in con.execute(
                "SELECT published_at FROM outbox WHERE channel = ? AND state = 'published' AND remote_id IS NOT NULL "
                "AND in_reply_to IS NULL AND published_at >= ?",
                (PRICED_CHANNEL, clock.iso(since)),
            ).fetchall()
        ]
        mentions = con.execute(
            "SELECT COUNT(*) FROM mentions WHERE channel = ? AND created_at >= ?",
            (PRICED_CHANNEL, clock.iso(start - timedelta(days=7))),
        ).fetchone()[0]
    times = published + [at.astimezone(UTC) for _, at in posts]
    metric_reads = sum(_refresh_days(at, start, end, settings) for at in times)
    days = max(1, (end.date() - start.date()).days)
    mention_reads = 2 * int(mentions) + days  # each mention and its author; the account once a day
    return WeekEstimate(
        posts=len(posts),
        posts_usd=round(posts_usd, 3),
        metric_reads=metric_reads,
        metrics_usd=round(metric_reads * prices[POST_READ], 3),
        mention_reads=mention_reads,
        mentions_usd=round(int(mentions) * (prices[POST_READ] + prices[USER_READ]) + days * prices[USER_READ], 3),
    )
