"""One clock: UTC now, ISO text, and the operator's time zone.

Times are stored in UTC as ISO 8601 text with seconds resolution (``2026-03-05T01:00:00+00:00``)
and shown and entered in the operator's time zone, which the Publishing settings keep under
``publish.timezone``. Part of the shared base: it imports no pipeline step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "TIMEZONE_SETTING",
    "TimeError",
    "format_local",
    "from_iso",
    "iso",
    "now",
    "operator_timezone",
    "parse_local_time",
    "to_local",
    "to_utc",
    "utc_now",
    "validate_timezone",
]

TIMEZONE_SETTING = "publish.timezone"


class TimeError(ValueError):
    """A time or time zone the operator must change; the message names the value."""


class _Settings(Protocol):
    def get_setting(self, key: str, default: str | None = None) -> str | None: ...


def now() -> datetime:
    """The current time in UTC, seconds resolution."""
    return datetime.now(UTC).replace(microsecond=0)


def utc_now() -> str:
    """The current UTC time as ISO text, seconds resolution."""
    return iso(now())


def iso(moment: datetime) -> str:
    """``moment`` as UTC ISO text, seconds resolution."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def from_iso(text: str | None) -> datetime | None:
    """Stored ISO text (``Z`` accepted) as a datetime; None for empty text."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def validate_timezone(tz: str) -> str:
    """``tz`` if it is a known IANA time zone; else :class:`TimeError` naming it."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeError(f"timezone={tz!r} is not a known time zone (e.g. Asia/Shanghai)") from None
    return tz


def operator_timezone(settings: _Settings) -> str:
    """The operator's time zone as stored in the workspace (UTC until they choose one)."""
    return settings.get_setting(TIMEZONE_SETTING) or "UTC"


def to_utc(moment: datetime, tz: str) -> datetime:
    """A wall-clock time in ``tz`` (or an aware time) as UTC.

    Raises
    ------
    TimeError
        When the wall-clock time does not exist in ``tz`` (skipped by a daylight-saving change).
    """
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    zone = ZoneInfo(tz)
    utc = moment.replace(tzinfo=zone).astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != moment:
        raise TimeError(f"{moment:%Y-%m-%d %H:%M} does not exist in {tz} (the clocks skip it); pick another time")
    return utc


def to_local(moment: str | datetime, tz: str) -> datetime:
    """A stored UTC time in the operator's time zone."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz))


def format_local(moment: str | datetime | None, tz: str) -> str:
    """``2026-03-05 09:00 CST`` — how times are shown."""
    if moment is None or moment == "":
        return ""
    return to_local(moment, tz).strftime("%Y-%m-%d %H:%M %Z")


def parse_local_time(text: str, tz: str) -> datetime:
    """ISO 8601 text as UTC; text without an offset is read in ``tz``."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TimeError(
            f"--at {text!r} is not an ISO 8601 time such as 2026-09-01T09:30 or 2026-09-01T09:30+08:00"
        ) from None
    return to_utc(moment, tz)
