"""Fetching mentions: every connected channel's mentions newer than the last id seen, stored once per channel and id; the demo's.

The last id seen is kept in the setting ``inbox.since_id`` (``inbox.since_id.<channel>`` for the
channels after X). A 429 stores ``inbox.not_before`` (likewise per channel) and no call is made
before it; a channel out of paid credits is paused (:mod:`core.delivery.outbox.credits`) and not
asked until its next try. Reads cost money on X, so a scheduled fetch (``respect_cadence``: what
cron runs) asks X at most every ``mentions_every_minutes`` (a cost setting); a fetch the operator
asks for reads at once. Without keys for any channel (dry run) there is nothing to fetch; the demo
seeds a few mentions (:func:`seed_demo_mentions`, authors ``demo_…``) whose replies go to the dry run.
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
from core.delivery.outbox.costs import PRICED_CHANNEL
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
                "is_demo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, id) DO NOTHING",
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
    if numeric:  # X's and Mastodon's ids grow with time; compare them as numbers, not text
        return max(numeric, key=int)
    return max(ids) if ids else None


def _newest_seen(since_id: str | None, ids: list[str]) -> str | None:
    """The id to ask from next time: the largest numeric id, else (at:// URIs) the first, the channel
    answering newest first."""
    if ids and all(i.isdigit() for i in ids):
        return _newest([since_id or "", *ids])
    return ids[0] if ids else since_id


def _setting(base: str, channel: str) -> str:
    """X keeps the settings' first names; every other channel has its own."""
    return base if channel == "x" else f"{base}.{channel}"


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
    """Fetch the mentions newer than the last one seen on every connected channel and store them.

    Each mention keeps the channel it came from (its reply goes back through it). Without keys for
    any live channel nothing is fetched (the dry run has no mentions). After a channel's rate limit
    the time it gives is stored and that channel is not asked before it.

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
        When the only connected channel refuses the keys (kind ``auth``) or cannot be reached
        (``transient``); nothing is stored then and the next refresh asks again from the same id.
        With several channels, one that cannot be read is named in the message and the others are read.
    """
    settings = PublishSettings.load(ws)
    sources = registry.connected_channels()
    if not sources:
        return RefreshReport(
            0, 0, f"No {registry.live_labels()} keys are set (dry run), so there are no mentions to fetch."
        )
    factory = publishers or (lambda ch: registry.publisher_for(ws, ch, timeout=settings.request_timeout_seconds))
    reports = []
    for source in sources:
        try:
            reports.append((source, _refresh_one(ws, source, factory, settings, respect_cadence=respect_cadence)))
        except PublishError as exc:
            if len(sources) == 1:
                raise
            log.warning("inbox: %s could not be read: %s", source.label, exc.message)
            reports.append((source, RefreshReport(0, 0, f"{source.label} could not be read: {exc.message}")))
    if len(reports) == 1:
        return reports[0][1]
    fetched = sum(r.fetched for _, r in reports)
    new = sum(r.new for _, r in reports)
    word = "mention" if new == 1 else "mentions"
    counts = ", ".join(f"{source.label} {r.new}" for source, r in reports if r.new)
    head = f"{new} new {word} ({counts})." if new else "No new mentions."
    notes = [r.message for _, r in reports if r.deferred_until or "could not be read" in r.message]
    holds = [r.deferred_until for _, r in reports if r.deferred_until]
    return RefreshReport(fetched, new, " ".join([head, *notes]), min(holds) if holds else None)


def _refresh_one(
    ws: Workspace, source, factory: PublisherFactory, settings: PublishSettings, *, respect_cadence: bool = False
) -> RefreshReport:
    """Fetch and store one channel's new mentions (see :func:`refresh_mentions`)."""
    channel = source.name
    since_key, hold_key = _setting(SINCE_SETTING, channel), _setting(HOLD_SETTING, channel)
    now = clock.now()
    hold = ws.get_setting(hold_key)
    if hold and hold > clock.iso(now):
        when = clock.format_local(hold, settings.timezone)
        return RefreshReport(0, 0, f"{source.label} rate limit: mentions can be fetched again at {when}", hold)
    pause = credits.waiting(ws, channel, now=now)
    if pause is not None:
        return RefreshReport(0, 0, pause.message_in(settings.timezone), pause.retry_at)
    read_key = _setting(READ_AT_SETTING, channel)
    last = ws.get_setting(read_key)
    every = CostSettings.load(ws).mentions_every_minutes
    due = clock.iso(clock.from_iso(last) + timedelta(minutes=every)) if last else None
    if respect_cadence and channel == PRICED_CHANNEL and due and due > clock.iso(now):
        when = clock.format_local(due, settings.timezone)
        return RefreshReport(
            0, 0, f"Mentions are fetched at most every {every:g} min because reads cost money: next after {when}."
        )
    publisher = factory(channel)
    since_id = ws.get_setting(since_key)
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
            ws.set_setting(hold_key, until, con=con)
            ws.audit("inbox.deferred", {"channel": channel, "until": until}, con=con)
        when = clock.format_local(until, settings.timezone)
        return RefreshReport(0, 0, f"{source.label} rate limit: mentions can be fetched again at {when}", until)
    new = _store(ws, found, channel=channel)
    newest = _newest_seen(since_id, [m.remote_id for m in found])
    with ws.connect() as con:
        if newest and newest != since_id:
            ws.set_setting(since_key, newest, con=con)
        con.execute("DELETE FROM settings WHERE key = ?", (hold_key,))
        ws.set_setting(read_key, clock.iso(now), con=con)
        ws.audit(
            "inbox.refresh", {"channel": channel, "fetched": len(found), "new": new, "since_id": since_id}, con=con
        )
    credits.lift(ws, channel)
    log.info("inbox: %d mentions fetched from %s, %d new", len(found), source.label, new)
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
