"""Fetching mentions: X's mentions newer than the last id seen, stored once per id; the demo's mentions.

The last id seen is kept in the setting ``inbox.since_id``. A 429 stores ``inbox.not_before`` and
no call is made before it; a channel out of paid credits is paused (:mod:`core.delivery.outbox.credits`)
and not asked until its next try. Reads cost money on X, so a scheduled fetch (``respect_cadence``:
what cron runs) asks at most every ``mentions_every_minutes`` (a cost setting); a fetch the operator
asks for reads at once. Without X keys (dry run) there is nothing to fetch; the demo seeds a
few mentions (:func:`seed_demo_mentions`, authors ``demo_…``) whose replies go to the dry run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import clock
from core.clock import utc_now
from core.delivery.channels import registry
from core.delivery.channels.base import ErrorKind, Mention, PublishError
from core.delivery.outbox import CostSettings, PublisherFactory, PublishSettings, credits
from core.workspace import Workspace

log = logging.getLogger(__name__)

RATE_LIMIT_FALLBACK = timedelta(minutes=15)
SINCE_SETTING, HOLD_SETTING = "inbox.since_id", "inbox.not_before"
READ_AT_SETTING = "inbox.read_at"  # when mentions were last asked for (for the cadence)


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


def refresh_mentions(
    ws: Workspace, *, publishers: PublisherFactory | None = None, respect_cadence: bool = False
) -> RefreshReport:
    """Fetch the account's mentions newer than the last one seen and store them.

    Mentions come from the default channel; without keys for a live channel nothing is fetched
    (the dry run has no mentions). After a rate limit the time the channel gives is stored and no
    call is made before it.

    Parameters
    ----------
    publishers
        ``channel -> Channel`` (as for :func:`core.delivery.outbox.publish_now`); the registry's
        connected channel when None.
    respect_cadence
        A scheduled run: ask only if ``mentions_every_minutes`` passed since the last fetch.

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
    pause = credits.waiting(ws, channel, now=now)
    if pause is not None:
        return RefreshReport(0, 0, pause.message_in(settings.timezone), pause.retry_at)
    last = ws.get_setting(READ_AT_SETTING)
    every = CostSettings.load(ws).mentions_every_minutes
    due = clock.iso(clock.from_iso(last) + timedelta(minutes=every)) if last else None
    if respect_cadence and due and due > clock.iso(now):
        when = clock.format_local(due, settings.timezone)
        return RefreshReport(
            0, 0, f"Mentions are fetched at most every {every:g} min because reads cost money: next after {when}."
        )
    factory = publishers or (lambda ch: registry.publisher_for(ws, ch, timeout=settings.request_timeout_seconds))
    publisher = factory(channel)
    since_id = ws.get_setting(SINCE_SETTING)
    try:
        found = publisher.mentions(since_id=since_id)
    except PublishError as exc:
        if exc.kind == ErrorKind.CREDITS:
            pause = credits.pause(ws, channel, exc.message, now=now)
            return RefreshReport(0, 0, pause.message_in(settings.timezone), pause.retry_at)
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
        ws.set_setting(READ_AT_SETTING, clock.iso(now), con=con)
        ws.audit("inbox.refresh", {"fetched": len(found), "new": new, "since_id": since_id}, con=con)
    credits.lift(ws, channel)
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
