"""With a password set: no upload from a browser session until it has logged in; a login survives a reload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.auth import hash_password
from core.demo import open_workspace
from tests.e2e.conftest import streamlit_app, wait_for_app

pytestmark = pytest.mark.e2e

UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# What an attacker's page does: PUT a file to the upload endpoint of a session, with the XSRF token.
PUT_UPLOADS = """async (ids) => {
    const xsrf = (document.cookie.match(/_streamlit_xsrf=([^;]+)/) || [])[1] || "";
    const statuses = [];
    for (const id of ids) {
        const form = new FormData();
        form.append("file", new Blob(["user_id,topic\\nu1,x\\n"]), "probe.csv");
        const answer = await fetch(`/_stcore/upload_file/${id}/probe`, {
            method: "PUT", body: form, headers: {"X-Xsrftoken": xsrf},
        });
        statuses.push(answer.status);
    }
    return statuses;
}"""


def test_no_upload_before_login_and_a_login_that_survives_a_reload(page: Page, tmp_path: Path) -> None:
    home = tmp_path / "workspace"
    open_workspace(home, with_demo=False)
    env = {"REACH_PASSWORD_HASH": hash_password("open sesame"), "REACH_DEMO": "0"}
    # the browser's session id arrives in the server's first messages on the WebSocket
    seen: set[str] = set()
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived", lambda frame: seen.update(m.decode() for m in UUID.findall(_as_bytes(frame)))
        ),
    )
    with streamlit_app(home, env, script="serve.py") as url:
        page.goto(url)
        wait_for_app(page)
        expect(page.get_by_label("Password", exact=True)).to_be_visible()
        ids = sorted(seen)
        assert ids

        before = page.evaluate(PUT_UPLOADS, ids)
        assert all(status >= 400 for status in before), before
        assert 403 in before

        page.get_by_label("Password", exact=True).fill("open sesame")
        page.get_by_role("button", name="Sign in").click()
        wait_for_app(page)
        expect(page.get_by_label("Password", exact=True)).to_have_count(0)
        after = page.evaluate(PUT_UPLOADS, ids)
        assert 204 in after, after  # the same session, now logged in, may upload

        # a reload (a new session) is still logged in: no password asked, uploads taken
        seen.clear()
        page.reload()
        wait_for_app(page)
        expect(page.get_by_role("heading", name="Reach", exact=True)).to_be_visible()
        expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
        expect(page.get_by_label("Password", exact=True)).to_have_count(0)
        assert 204 in page.evaluate(PUT_UPLOADS, sorted(seen))


def _as_bytes(frame: str | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.encode()
