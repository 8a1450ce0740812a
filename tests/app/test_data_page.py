"""The Data page through Streamlit's AppTest: upload, mapping, report, delete."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.demo import open_workspace

EXPORT = (
    "UID,Board,Verb,When\n"
    "a1,fitness,like,2026-09-01 08:00:00\n"
    "a1,fitness,like,2026-09-01 08:00:00\n"
    "a2,yoga,view,2026-09-02 09:30:00\n"
    "a3,yoga,view,not a date\n"
)


def _open_data_page(app: AppTest) -> AppTest:
    app.switch_page("pages/data.py").run()
    assert not app.exception, app.exception
    return app


def _metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_home_shows_the_demo_status(app: AppTest) -> None:
    texts = " ".join(m.value for m in app.caption)
    assert "Demo · health-food shop: 245,703 events, 6,000 users" in texts


def test_data_page_shows_demo_report(app: AppTest) -> None:
    _open_data_page(app)
    assert _metric(app, "Rows read") == "252,563"
    assert _metric(app, "Rejected") == "123"
    assert _metric(app, "Duplicates removed") == "737"
    assert app.download_button[0].label == "Download all rejected rows (CSV)"


def test_upload_with_mapping_editor(app: AppTest, workspace_home: Path) -> None:
    _open_data_page(app)
    app.file_uploader[0].set_value(("board_export.csv", EXPORT.encode(), "text/csv")).run()
    assert not app.exception, app.exception
    # "UID" maps automatically; "Board", "Verb" and "When" do not: the page says so with an error
    assert any("no topic column found" in e.value for e in app.error)
    by_label = {s.label: s for s in app.selectbox}
    assert by_label["user_id"].value == "UID"
    by_label["topic"].set_value("Board").run()
    by_label = {s.label: s for s in app.selectbox}
    by_label["action"].set_value("Verb").run()
    by_label = {s.label: s for s in app.selectbox}
    by_label["timestamp"].set_value("When").run()
    import_button = next(b for b in app.button if b.label.startswith("Import"))
    import_button.click().run()
    assert not app.exception, app.exception
    assert any("Imported **board_export** as dataset #2: 2 events, 2 users" in s.value for s in app.success)
    assert _metric(app, "Rows read") == "4"
    assert _metric(app, "Accepted") == "2"
    assert _metric(app, "Duplicates removed") == "1"
    ws = open_workspace(workspace_home, with_demo=False)
    assert ws.active_dataset_id() == 2
    assert ws.dataset(2).report["mapping"] == {
        "user_id": "UID",
        "topic": "Board",
        "action": "Verb",
        "timestamp": "When",
    }
    assert sorted(ws.load_events(2)["topic"]) == ["fitness", "yoga"]


def test_broken_upload_shows_error_and_keeps_workspace(app: AppTest, workspace_home: Path) -> None:
    before = [d.id for d in open_workspace(workspace_home, with_demo=False).datasets()]
    _open_data_page(app)
    app.file_uploader[0].set_value(("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "text/csv")).run()
    assert any("binary file" in e.value for e in app.error)
    import_button = next(b for b in app.button if b.label.startswith("Import"))
    assert import_button.disabled
    assert [d.id for d in open_workspace(workspace_home, with_demo=False).datasets()] == before


def test_delete_asks_first(app: AppTest, workspace_home: Path) -> None:
    _open_data_page(app)
    delete = app.button(key="delete_button")
    assert delete.label == "Delete Demo · health-food shop (#1)…"  # the active dataset, as the sidebar names it
    delete.click().run()
    assert [d.id for d in open_workspace(workspace_home, with_demo=False).datasets()] == [1]
    app.button(key="confirm_delete_yes").click().run()
    assert not app.exception, app.exception
    assert open_workspace(workspace_home, with_demo=False).datasets() == []
    assert any("No dataset yet" in i.value for i in app.info)


def test_an_over_long_field_is_rejected_not_a_crash(app: AppTest, workspace_home: Path) -> None:
    _open_data_page(app)
    content = "user_id,topic\nu2," + "y" * 300_000 + "\nu3,z\n"
    app.file_uploader[0].set_value(("long.csv", content.encode(), "text/csv")).run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    next(b for b in app.button if b.label.startswith("Import")).click().run()
    assert not app.exception, app.exception
    assert open_workspace(workspace_home, with_demo=False).dataset().report["rows_rejected"] == 1
