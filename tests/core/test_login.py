"""Login throttling: every failure audited, a growing wait per address and for everyone."""

from __future__ import annotations

from datetime import timedelta

from core import clock
from core.login import (
    FREE_TRIES_GLOBAL,
    FREE_TRIES_PER_CLIENT,
    LOGIN_TOKEN_SECONDS,
    issue_login_token,
    login_token_valid,
    login_wait,
    record_login,
)


def fail(ws, client: str, times: int) -> None:
    for _ in range(times):
        record_login(ws, client, ok=False)


def last_attempt(ws):
    """When the newest login attempt was recorded: the waits below are measured from it."""
    return clock.from_iso(ws.audit_entries(limit=1)[0]["at"])


def test_every_failure_is_audited_with_its_address_only(workspace) -> None:
    fail(workspace, "203.0.113.7", 2)
    record_login(workspace, "203.0.113.7", ok=True)
    entries = [e for e in workspace.audit_entries() if e["action"].startswith("login.")]
    assert [(e["action"], set(e) - {"at", "action"}) for e in entries] == [
        ("login.ok", {"client"}),
        ("login.failed", {"client"}),
        ("login.failed", {"client"}),
    ]


def test_the_wait_grows_with_each_failure_of_one_address(workspace) -> None:
    fail(workspace, "a", FREE_TRIES_PER_CLIENT - 1)
    assert login_wait(workspace, "a", now=last_attempt(workspace)).seconds == 0
    waits = []
    for _ in range(4):
        fail(workspace, "a", 1)
        now = last_attempt(workspace)
        waits.append(login_wait(workspace, "a", now=now).seconds)
    assert waits == [2, 4, 8, 16]
    wait = login_wait(workspace, "a", now=now)
    assert wait.message == "Too many attempts from this address; wait 16 s before trying again."
    assert login_wait(workspace, "a", now=now + timedelta(seconds=17)).seconds == 0  # time served
    assert login_wait(workspace, "b", now=now).seconds == 0  # another address is not held back


def test_a_success_starts_the_count_again(workspace) -> None:
    fail(workspace, "a", FREE_TRIES_PER_CLIENT + 1)
    now = last_attempt(workspace)
    assert login_wait(workspace, "a", now=now).seconds > 0
    record_login(workspace, "a", ok=True)
    assert login_wait(workspace, "a", now=now).seconds == 0


def test_guessing_from_many_addresses_makes_everyone_wait(workspace) -> None:
    for n in range(FREE_TRIES_GLOBAL + 1):
        fail(workspace, f"198.51.100.{n}", 1)  # one try each: no address alone is held back
    now = last_attempt(workspace)
    wait = login_wait(workspace, "fresh", now=now)
    assert wait.seconds == 4
    assert wait.message == "Too many attempts from every address; wait 4 s before trying again."


def test_a_login_token_holds_until_it_expires_and_only_for_its_password(workspace) -> None:
    now = clock.now()
    token = issue_login_token(workspace, "scrypt$hash-one", now=now)

    assert login_token_valid(workspace, token, "scrypt$hash-one", now=now)
    assert login_token_valid(workspace, token, "scrypt$hash-one", now=now + timedelta(seconds=LOGIN_TOKEN_SECONDS))
    assert not login_token_valid(
        workspace, token, "scrypt$hash-one", now=now + timedelta(seconds=LOGIN_TOKEN_SECONDS + 1)
    )
    assert not login_token_valid(workspace, token, "scrypt$hash-two", now=now)  # a new password ends it
    expires, signature = token.split(".")
    assert not login_token_valid(workspace, f"{int(expires) + 3600}.{signature}", "scrypt$hash-one", now=now)
    assert not login_token_valid(workspace, "garbage", "scrypt$hash-one", now=now)
