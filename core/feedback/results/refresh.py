"""Refreshing metrics: one new point of each published post's time series.

:func:`refresh_metrics` reads the public metrics of every published post on its live channel (on X
``GET /2/tweets``, 100 ids a call, through the publisher) and stores one row per post per refresh
in ``post_metrics``; dry-run posts get simulated metrics (:mod:`~core.feedback.results.simulate`).
A 429 stores when the channel may be asked again (setting ``results.metrics_not_before``); until
then a refresh does not call it and says so. A channel out of paid credits is paused
(:mod:`core.delivery.outbox.credits`) and not asked until its next try.

Reads cost money on X, so a live channel's posts are read only for ``metrics_for_days`` after
publishing (they keep their last figures after that), and a scheduled refresh
(``respect_cadence``: what cron runs) reads live channels at most every ``metrics_every_hours``
(both cost settings); a refresh the operator asks for on the page reads at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core import clock
from core.delivery.channels import registry
from core.delivery.channels.base import Channel, ErrorKind, PublishError
from core.delivery.outbox import CostSettings, PublisherFactory, credits
from core.feedback.results.metrics import METRICS, SOURCE_SIMULATED
from core.feedback.results.simulate import simulated_metrics
from core.workspace import Workspace

log = logging.getLogger(__name__)

NOT_BEFORE_SETTING = "results.metrics_not_before"
READ_AT_SETTING = "results.metrics_read_at"  # when live channels were last read (for the cadence)
RATE_LIMIT_FALLBACK = timedelta(minutes=15)  # a 429 without x-rate-limit-reset
_COUNTS = ("likes", "reposts", "replies", "quotes", "bookmarks", "impressions")  # post_metrics column order


@dataclass(frozen=True)
class RefreshReport:
    """What :func:`refresh_metrics` did.

    ``updated`` posts got a new metrics row (``simulated`` of them dry-run posts); ``deferred_until``
    is set when a channel's rate limit stopped the refresh; ``problem`` says why it could not be
    read. ``network`` names the live channels asked (their labels).
    """

    updated: int
    simulated: int = 0
    deferred_until: str | None = None
    problem: str | None = None
    waiting: int = 0  # posts on live channels not refreshed this time
    network: str = ""
    next_read_at: str | None = None  # a scheduled refresh skipped live channels until then (the cadence)
    every_hours: float = 0.0  # the cadence, for the message
    paused: str | None = None  # a live channel is out of credits: the message to top up

    def as_json(self) -> dict:
        """``python -m core metrics-refresh --json``."""
        return {"updated": self.updated}

    def message(self, tz: str = "UTC") -> str:
        """One line for the page or the CLI."""
        parts = [f"{self.updated} post{'s' if self.updated != 1 else ''} updated"]
        if self.simulated:
            parts.append(f"{self.simulated} with simulated metrics (dry-run posts)")
        text = ", ".join(parts) + "."
        if self.deferred_until:
            text += (
                f" {self.network}'s rate limit was reached: metrics of {self.waiting} {self.network} "
                f"post{'s are' if self.waiting != 1 else ' is'} read again after {clock.format_local(self.deferred_until, tz)}."
            )
        if self.next_read_at:
            text += (
                f" {self.network} metrics are read at most every {self.every_hours:g} h because reads cost "
                f"money (a cost setting): next read after {clock.format_local(self.next_read_at, tz)}."
            )
        if self.paused:
            text += f" {self.paused}"
        if self.problem:
            text += f" {self.network} could not be read: {self.problem}"
        return text


def metrics_not_before(ws: Workspace, *, now: datetime | None = None) -> str | None:
    """When live channels may be asked for metrics again (UTC ISO), or None when they may be asked now."""
    until = ws.get_setting(NOT_BEFORE_SETTING)
    if until and datetime.fromisoformat(until) > (now or clock.now()):
        return until
    return None


def _measurable(ws: Workspace, *, live_since: datetime) -> list:
    """Published posts that can have metrics: not replies to mentions (those are conversation, not campaign),
    and on live channels only those published since ``live_since`` (reads cost money)."""
    names = registry.channel_names()
    with ws.connect() as con:
        rows = con.execute(
            "SELECT id, remote_id, channel, segment, template, published_at FROM outbox "
            "WHERE state = 'published' AND remote_id IS NOT NULL AND in_reply_to IS NULL "
            f"AND channel IN ({','.join('?' * len(names))}) ORDER BY id",
            names,
        ).fetchall()
    cutoff = clock.iso(live_since)
    return [r for r in rows if not registry.channel(r["channel"]).live or (r["published_at"] or "") >= cutoff]


def _store(ws: Workspace, rows: list[tuple]) -> None:
    if not rows:
        return
    with ws.connect() as con:
        con.executemany(
            "INSERT INTO post_metrics (post_id, remote_id, fetched_at, likes, reposts, replies, quotes, "
            "bookmarks, impressions, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def refresh_metrics(
    ws: Workspace,
    *,
    publishers: PublisherFactory | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    respect_cadence: bool = False,
) -> RefreshReport:
    """Read the metrics of every published post and store them as a new point of its time series.

    Posts on live channels are read from their channel; dry-run posts get simulated metrics.

    Parameters
    ----------
    publishers
        ``channel -> Channel`` (default: :func:`core.delivery.channels.registry.publisher_for`).
    now
        The refresh time (default: now); simulated metrics depend on it.
    progress
        Called with (live posts read so far, live posts to read) after each call to a channel.
    respect_cadence
        A scheduled run: read live channels only if ``metrics_every_hours`` passed since the last read.

    Returns
    -------
    RefreshReport
        How many posts were updated; whether a channel's rate limit deferred the rest (and until
        when) or another problem stopped reading. Simulated metrics are stored either way.
    """
    now = (now or clock.now()).astimezone(UTC).replace(microsecond=0)
    stamp = clock.iso(now)
    costs = CostSettings.load(ws)
    posts = _measurable(ws, live_since=now - timedelta(days=costs.metrics_for_days))
    simulated_rows = _simulated_rows(ws, [p for p in posts if not registry.channel(p["channel"]).live], now, stamp)
    _store(ws, simulated_rows)
    live = [p for p in posts if registry.channel(p["channel"]).live]
    if not live:
        return RefreshReport(len(simulated_rows), len(simulated_rows))
    names = [c.name for c in registry.live_channels() if any(p["channel"] == c.name for p in live)]
    network = " and ".join(registry.label(name) for name in names)
    until = metrics_not_before(ws, now=now)
    if until:
        log.info("metrics refresh: %s is rate limited until %s; not asked", network, until)
        return RefreshReport(len(simulated_rows), len(simulated_rows), until, waiting=len(live), network=network)
    last = ws.get_setting(READ_AT_SETTING)
    due = clock.iso(datetime.fromisoformat(last) + timedelta(hours=costs.metrics_every_hours)) if last else None
    if respect_cadence and due and due > stamp:
        log.info("metrics refresh: %s was read at %s; next read after %s", network, last, due)
        return RefreshReport(
            len(simulated_rows),
            len(simulated_rows),
            waiting=len(live),
            network=network,
            next_read_at=due,
            every_hours=costs.metrics_every_hours,
        )
    pauses = {name: credits.waiting(ws, name, now=now) for name in names}
    paused = next((p.message_in(clock.operator_timezone(ws)) for p in pauses.values() if p), None)
    names = [name for name in names if pauses[name] is None]
    live_rows, deferred, problem, out_of_credits = _read_live(ws, live, names, now, stamp, publishers, progress)
    paused = out_of_credits or paused
    _store(ws, live_rows)
    counts = {name: sum(1 for row in live_rows if row[-1] == name) for name in names}
    with ws.connect() as con:
        ws.audit("results.refresh", {**counts, "simulated": len(simulated_rows), "deferred_until": deferred}, con=con)
    refreshed = {row[0] for row in live_rows}
    return RefreshReport(
        len(simulated_rows) + len(live_rows),
        len(simulated_rows),
        deferred,
        problem,
        waiting=sum(1 for p in live if p["id"] not in refreshed),
        network=network,
        paused=paused,
    )


def _read_live(
    ws: Workspace,
    live: list,
    names: list[str],
    now: datetime,
    stamp: str,
    publishers: PublisherFactory | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[tuple], str | None, str | None, str | None]:
    """(rows read, rate limited until, problem, out-of-credits message) from each live channel in ``names``.

    A rate limit stores when the channels may be asked again, a 402 pauses the channel; the rows
    read before any stop are kept.
    """
    rows: list[tuple] = []  # filled as calls succeed, so a 429 midway keeps what was read
    deferred = problem = paused = None
    current = None
    try:
        factory = publishers or (lambda channel: registry.publisher_for(ws, channel))
        done = 0
        for name in names:
            current = name
            mine = [p for p in live if p["channel"] == name]
            _read_metrics(factory(name), mine, stamp, rows, progress, done=done, total=len(live))
            credits.lift(ws, name)
            done += len(mine)
        if names:
            ws.set_setting(READ_AT_SETTING, stamp)
    except PublishError as exc:
        if exc.kind == ErrorKind.RATE_LIMITED:
            deferred = clock.iso(exc.retry_at or now + RATE_LIMIT_FALLBACK)
            ws.set_setting(NOT_BEFORE_SETTING, deferred)
        elif exc.kind == ErrorKind.CREDITS:
            pause = credits.pause(ws, current or names[0], exc.message, now=now)
            paused = pause.message_in(clock.operator_timezone(ws))
        else:
            problem = exc.message
        log.warning("metrics refresh stopped: %s", exc.message)
    return rows, deferred, problem, paused


def _simulated_rows(ws: Workspace, posts: list, now: datetime, stamp: str) -> list[tuple]:
    """``post_metrics`` rows of simulated metrics at ``now`` for dry-run posts."""
    tz = ZoneInfo(clock.operator_timezone(ws))
    rows = []
    for p in posts:
        published = datetime.fromisoformat(p["published_at"])
        m = simulated_metrics(
            p["id"],
            segment=p["segment"],
            template=p["template"],
            published_at=published,
            now=now,
            local_hour=published.astimezone(tz).hour,
        )
        rows.append((p["id"], p["remote_id"], stamp, *(m[name] for name in _COUNTS), SOURCE_SIMULATED))
    return rows


def _read_metrics(
    channel: Channel,
    posts: list,
    stamp: str,
    into: list[tuple],
    progress: Callable[[int, int], None] | None,
    *,
    done: int,
    total: int,
) -> None:
    """Append ``post_metrics`` rows read from ``channel`` to ``into``, one call per 100 posts.

    Raises :class:`PublishError` as the channel does; rows of the calls before stay in ``into``.
    """
    for start in range(0, len(posts), 100):
        chunk = posts[start : start + 100]
        found = channel.public_metrics([p["remote_id"] for p in chunk])
        if progress is not None:
            progress(done + start + len(chunk), total)
        for p in chunk:
            values = found.get(str(p["remote_id"]))
            if values is not None:
                counts = (int(values.get(METRICS[name], 0) or 0) for name in _COUNTS)
                into.append((p["id"], p["remote_id"], stamp, *counts, channel.name))
