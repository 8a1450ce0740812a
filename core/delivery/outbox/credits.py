"""A channel out of paid credits (X's ``402 credits-depleted``): its work pauses, then resumes on its own.

When a call answers with kind ``credits``, :func:`pause` stores the channel's pause (settings
``credits.<channel>.*``): since when, the message for the operator, and when to try again
(``credits_retry_minutes`` later, a cost setting). Until then nothing is asked of the channel —
queued posts stay approved or scheduled with the message as their last error, metric refreshes
and mention fetches wait. The first call after that time is the probe: it goes out as usual, and
another 402 pauses the channel again, while any answered call ends the pause (:func:`lift`), so
work resumes by itself once the operator has topped up. :func:`try_now` makes the next call the
probe at once (the "I topped up" button).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core import clock
from core.delivery.channels import registry
from core.delivery.channels.base import ErrorKind
from core.delivery.outbox.costs import CostSettings
from core.workspace import Workspace

__all__ = ["CreditsPause", "lift", "pause", "paused", "try_now", "waiting"]


@dataclass(frozen=True)
class CreditsPause:
    """A channel paused for credits: since when, until when nothing is asked, and what to tell the operator."""

    channel: str
    since: str  # UTC ISO: the first 402
    retry_at: str  # UTC ISO: the next try
    reason: str  # the channel's own words ("X is out of credits …: top up …")

    @property
    def message(self) -> str:
        """The one line the pages and the CLI show, in UTC (:meth:`message_in` for a time zone)."""
        return self.message_in("UTC")

    def message_in(self, tz: str) -> str:
        """The one line the pages and the CLI show, with the next try in ``tz``."""
        return (
            f"{self.reason}. Reach tries {registry.label(self.channel)} again at "
            f"{clock.format_local(self.retry_at, tz)} and then resumes on its own; queued posts stay "
            "approved and nothing is lost."
        )


def _key(channel: str, name: str) -> str:
    return f"credits.{channel}.{name}"


def paused(ws: Workspace, channel: str) -> CreditsPause | None:
    """The channel's pause, whether or not its next try is due; None when it has credits."""
    with ws.connect() as con:
        rows = dict(con.execute("SELECT key, value FROM settings WHERE key LIKE ?", (_key(channel, "%"),)).fetchall())
    if _key(channel, "since") not in rows:
        return None
    return CreditsPause(
        channel,
        rows[_key(channel, "since")],
        rows.get(_key(channel, "retry_at"), ""),
        rows.get(_key(channel, "reason"), ""),
    )


def waiting(ws: Workspace, channel: str, *, now: datetime | None = None) -> CreditsPause | None:
    """The pause when its next try is not due yet (so no call may be made), else None."""
    found = paused(ws, channel)
    if found is None or found.retry_at <= clock.iso(now or clock.now()):
        return None
    return found


def pause(ws: Workspace, channel: str, reason: str, *, now: datetime | None = None) -> CreditsPause:
    """Pause ``channel`` (or pause it again after a failed try) until the retry period has passed."""
    now = now or clock.now()
    retry_at = clock.iso(now + timedelta(minutes=CostSettings.load(ws).credits_retry_minutes))
    earlier = paused(ws, channel)
    since = earlier.since if earlier else clock.iso(now)
    with ws.connect() as con:
        ws.set_setting(_key(channel, "since"), since, con=con)
        ws.set_setting(_key(channel, "retry_at"), retry_at, con=con)
        ws.set_setting(_key(channel, "reason"), reason.rstrip(". "), con=con)
        ws.audit("credits.paused", {"channel": channel, "since": since, "retry_at": retry_at}, con=con)
    return CreditsPause(channel, since, retry_at, reason.rstrip(". "))


def lift(ws: Workspace, channel: str) -> bool:
    """End the pause after a call the channel answered (queued posts lose the out-of-credits note);
    True if there was one."""
    with ws.connect() as con:
        cur = con.execute("DELETE FROM settings WHERE key LIKE ?", (_key(channel, "%"),))
        if not cur.rowcount:
            return False
        con.execute(
            "UPDATE outbox SET last_error = NULL, error_kind = NULL WHERE channel = ? AND error_kind = ? "
            "AND state IN ('approved', 'scheduled')",
            (channel, str(ErrorKind.CREDITS)),
        )
        ws.audit("credits.resumed", {"channel": channel}, con=con)
    return True


def try_now(ws: Workspace, channel: str) -> None:
    """Make the next call to a paused channel its try (after the operator topped up)."""
    if paused(ws, channel) is None:
        return
    with ws.connect() as con:
        ws.set_setting(_key(channel, "retry_at"), clock.iso(clock.now()), con=con)
        ws.audit("credits.try_now", {"channel": channel}, con=con)
