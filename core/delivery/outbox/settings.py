"""Publishing settings (time zone, length limit, daily budget, retries, timeouts), stored in the workspace."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from zoneinfo import available_timezones

from core import clock
from core.delivery.channels import registry
from core.delivery.outbox.posts import OutboxError
from core.workspace import Workspace

__all__ = ["PublishSettings", "known_timezones"]


@dataclass(frozen=True)
class PublishSettings:
    """Publishing settings, stored in the workspace under ``publish.*``."""

    timezone: str = "UTC"
    char_limit: int = 280  # one of the channels' limits (X: 280, or 25,000 for premium accounts)
    daily_budget: int = 17  # X's daily cap: posts per rolling 24 h (other channels': see budget.daily_cap)
    retry_base_seconds: float = 30.0  # backoff after a 5xx or timeout: base, 2·base, 4·base, …
    max_attempts: int = 5  # 5xx/timeouts before a post is failed
    request_timeout_seconds: float = 20.0
    claim_lease_seconds: float = 120.0

    @classmethod
    def load(cls, ws: Workspace) -> PublishSettings:
        """The stored settings (defaults for unset ones)."""
        with ws.connect() as con:
            rows = dict(con.execute("SELECT key, value FROM settings WHERE key LIKE 'publish.%'").fetchall())
        values = {}
        for name, default in asdict(cls()).items():
            raw = rows.get(f"publish.{name}")
            if raw is not None:
                values[name] = type(default)(raw)
        return cls(**values)

    def validate(self) -> None:
        """Raise :class:`OutboxError` naming the bad value."""
        try:
            clock.validate_timezone(self.timezone)
        except clock.TimeError as exc:
            raise OutboxError(str(exc)) from None
        limits = registry.char_limits()
        if self.char_limit not in limits:
            allowed = " or ".join(str(n) for n in limits)
            raise OutboxError(f"char_limit={self.char_limit} must be {allowed}")
        if not 1 <= self.daily_budget <= 10_000:
            raise OutboxError(f"daily_budget={self.daily_budget} must be between 1 and 10000")
        if self.retry_base_seconds < 0 or self.max_attempts < 1:
            raise OutboxError(
                f"retry_base_seconds={self.retry_base_seconds} must be ≥ 0 and max_attempts={self.max_attempts} ≥ 1"
            )
        if self.request_timeout_seconds <= 0 or self.claim_lease_seconds <= self.request_timeout_seconds:
            raise OutboxError(
                f"claim_lease_seconds={self.claim_lease_seconds} must exceed "
                f"request_timeout_seconds={self.request_timeout_seconds} > 0"
            )

    def save(self, ws: Workspace, **changes: object) -> PublishSettings:
        """Validate and store changed settings; return the new settings."""
        new = PublishSettings(**{**asdict(self), **changes})
        new.validate()
        with ws.connect() as con:
            for name, value in asdict(new).items():
                if value != getattr(self, name) or name in changes:
                    ws.set_setting(f"publish.{name}", str(value), con=con)
            ws.audit("publish.settings", {k: v for k, v in changes.items()}, con=con)
        return new


def known_timezones() -> list[str]:
    """IANA time-zone names, sorted, for the settings picker."""
    return sorted(available_timezones())
