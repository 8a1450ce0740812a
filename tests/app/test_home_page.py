"""Home under AppTest: the fortnight's posts, counted per day and listed, the coming ones first."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import clock
from core.delivery import outbox as publish
from core.delivery.outbox import PublishSettings
from core.demo import open_workspace


def test_the_fortnight_counts_and_lists_the_coming_posts(workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    tz = PublishSettings.load(ws).timezone
    tomorrow = clock.now() + timedelta(days=1)
    publish.add_post(ws, "Chia pudding, three ways, for busy mornings", at=tomorrow)
    publish.add_post(ws, "Our green tea comes from one small farm", at=tomorrow + timedelta(hours=2))
    publish.add_post(ws, "Oat bars are back in stock", at=clock.now() + timedelta(days=20))  # past the fortnight

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception

    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert chart["layout"]["title"]["text"] == "Posts per day: the last week and the next"
    (drafts,) = [t for t in chart["data"] if t["name"] == "draft"]
    per_day = dict(zip(drafts["x"], drafts["y"], strict=True))
    assert sum(per_day.values()) == 2  # the two drafts of tomorrow; the one in 20 days is past the fortnight
    assert per_day[clock.to_local(tomorrow, tz).date().isoformat()] >= 1
    listed = at.dataframe[0].value
    assert list(listed["text"]) == [
        "Chia pudding, three ways, for busy mornings",
        "Our green tea comes from one small farm",
    ]
    assert set(listed["state"]) == {"✎ draft"}
    assert any(c.value.startswith("2 posts in the coming week") for c in at.caption)
