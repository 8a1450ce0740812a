"""The engagement CSV import: encodings, delimiters and Chinese headers; a bad file saves nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from core.feedback import results
from core.feedback.results import ResultsError
from core.workspace import Workspace


def test_import_utf8_bom_semicolon_csv(workspace: Workspace, write_file) -> None:
    path = write_file(
        "export.csv",
        "\ufefftext;created_at;favorites;retweets;replies;impressions;url\n"
        "Oats for breakfast;2026-03-01T08:30:00Z;12;3;1;1000;https://x.com/a/status/111\n"
        '"Kefir &amp; kale";2026-03-02T20:00:00Z;1,200;40;;;https://x.com/a/status/222\n'
        ";2026-03-03T08:00:00Z;1;1;1;10;\n"
        "Bad count;2026-03-04T08:00:00Z;lots;1;1;10;\n",
    )
    preview = results.inspect_engagement_csv(path)
    assert (preview.encoding, preview.delimiter) == ("utf-8-sig", ";")
    assert preview.mapping == {
        "text": "text",
        "posted_at": "created_at",
        "likes": "favorites",
        "reposts": "retweets",
        "replies": "replies",
        "impressions": "impressions",
        "url": "url",
    }
    report = results.import_engagement_csv(workspace, path)
    assert (report.imported, report.already_there, report.without_impressions) == (2, 0, 1)
    assert report.rejected == [(4, "empty text"), (5, "likes 'lots' is not a count")]
    assert "left out of engagement rates" in report.summary()
    posts = results.engagement_posts(workspace).set_index("remote_id")
    assert posts.loc["222", "text"] == "Kefir & kale" and posts.loc["222", "likes"] == 1200
    assert pd.isna(posts.loc["222", "engagement_rate"])
    assert posts.loc["111", "engagement_rate"] == pytest.approx(16 / 1000)
    assert (workspace.home / report.kept_as).read_bytes() == path.read_bytes()  # the original is kept
    assert results.import_engagement_csv(workspace, path).already_there == 2  # a second import adds nothing


def test_import_gbk_with_chinese_headers(workspace: Workspace, write_file) -> None:
    body = "内容,发布时间,点赞,转发,评论,阅读数\n早餐燕麦,2026-03-01 08:30:00,5,1,2,200\n无糖酸奶,2026-03-01 21:00:00,9,0,1,300\n"
    path = write_file("weibo.csv", body.encode("gbk"))
    report = results.import_engagement_csv(workspace, path)
    assert report.imported == 2 and not report.rejected
    posts = results.engagement_posts(workspace)
    assert list(posts["text"]) == ["早餐燕麦", "无糖酸奶"]
    assert list(posts["engagement_rate"]) == pytest.approx([8 / 200, 10 / 300])


def test_a_bad_file_names_the_missing_column_and_saves_nothing(workspace: Workspace, write_file) -> None:
    path = write_file("bad.csv", "caption,hearts,when\nhello,3,2026-01-01\n")
    with pytest.raises(ResultsError) as caught:
        results.import_engagement_csv(workspace, path)
    message = str(caught.value)
    assert "no text column" in message and "columns found: caption, hearts, when" in message
    assert "no likes column" in message
    assert results.engagement_posts(workspace).empty
    assert not (workspace.home / "uploads" / "engagement").exists()
    with pytest.raises(ResultsError, match=r"no column 'Likes' \(columns found: caption, hearts, when\)"):
        results.import_engagement_csv(workspace, path, mapping={"text": "caption", "likes": "Likes"})
    report = results.import_engagement_csv(
        workspace, path, mapping={"text": "caption", "likes": "hearts", "posted_at": "when"}
    )
    assert report.imported == 1
