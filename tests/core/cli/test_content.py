"""``python -m core train | score | generate`` keep their JSON contract."""

from __future__ import annotations

import json
import re

import pytest

from core.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("REACH_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("REACH_DEMO", "0")
    return tmp_path / "ws"


OPENERS = [
    "Herbal tea for a calm evening.",
    "Chamomile before bed helps.",
    "Mint tea after a big dinner.",
    "Lemon balm tea with honey.",
    "Ginger tea on a cold morning.",
    "Rooibos has no caffeine at all.",
]
CLOSERS = [
    "Sip it slowly tonight.",
    "Our tea shelf is full again.",
    "Warm, simple and kind.",
    "Try a cup with honey.",
    "Your evening will thank you.",
    "Good tea takes five minutes.",
]
POSTS = [f"{OPENERS[i % 6]} {CLOSERS[(i // 6 + i) % 6]} Day {i}." for i in range(30)]


def _corpus(write_file):
    rows = ["text,segment,topic"] + [f'"{post}",seniors,herbal tea' for post in POSTS]
    return write_file("posts.csv", "\n".join(rows) + "\n")


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_score_generate(home, write_file, capsys) -> None:
    path = _corpus(write_file)
    assert main(["train", "--corpus", str(path), "--epochs", "1", "--seed", "1", "--json"]) == 0
    trained = _json(capsys)
    assert trained.keys() == {
        "model_id",
        "val_bits_per_char",
        "baseline_bits_per_char",
        "n_posts",
        "seconds",
        "left_out",
    }
    assert trained["n_posts"] == 30 and trained["val_bits_per_char"] > 0
    assert trained["left_out"] == {}

    assert main(["score", "--model", trained["model_id"], "--corpus", str(path), "--json"]) == 0
    scored = _json(capsys)
    assert scored.keys() == {"bits_per_char", "n_chars"}
    assert scored["n_chars"] == sum(len(post) + 1 for post in POSTS)

    assert main(["generate", "--segment", "seniors", "--n", "3", "--seed", "4", "--temperature", "0.7", "--json"]) == 0
    drafts = _json(capsys)["drafts"]
    assert len(drafts) == 3
    assert all(d.keys() == {"text", "weighted_length", "passes", "reasons"} for d in drafts)
    # only publishable drafts come back, each new: none is one of the posts it learnt from
    assert all(d["passes"] and not d["reasons"] for d in drafts)
    assert not {d["text"] for d in drafts} & set(POSTS)
    assert (
        main(
            [
                "generate",
                "--model",
                trained["model_id"],
                "--n",
                "3",
                "--seed",
                "4",
                "--temperature",
                "0.7",
                "--segment",
                "5",
                "--json",
            ]
        )
        == 0
    )
    assert _json(capsys)["drafts"] == drafts  # the newest model by default; segment by id or name


def test_without_json_people_get_readable_lines(home, write_file, capsys) -> None:
    path = _corpus(write_file)
    assert main(["train", "--corpus", str(path), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("model ") and re.search(r"bits/char on \d+ held-out posts \(n-gram baseline", out)
    assert main(["generate", "--n", "2", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1. [") and any(line.startswith("2. [") for line in lines)


def test_user_errors_exit_2_with_one_line(home, write_file, capsys) -> None:
    assert main(["generate", "--json"]) == 2
    assert capsys.readouterr().err.startswith("error: no model yet: train one in the Studio")
    assert main(["score", "--model", "nope", "--corpus", str(_corpus(write_file))]) == 2
    assert "error: model 'nope' does not exist (models: none)" in capsys.readouterr().err
    assert main(["train", "--corpus", str(home / "missing.csv")]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err


def test_a_one_column_export_is_read_as_csv_and_counted(home, write_file, capsys) -> None:
    # one tweet_text column, latin-1, quoted multi-line posts, entities, retweets and link-only posts
    posts = [f'"Day {i}: oats &amp; berries,\nthen a walk. Keep it simple."' for i in range(24)]
    extra = ['"RT @mention Google to Launch Major New #Social #SXSW"', "{link}", '"@madebymany: it\'s not a rumor"']
    path = write_file("export.csv", ("tweet_text\n" + "\n".join(posts + extra) + "\n").encode("latin-1"))
    assert main(["train", "--corpus", str(path), "--epochs", "1", "--seed", "2", "--json"]) == 0
    trained = _json(capsys)
    assert trained["n_posts"] == 24
    assert trained["left_out"] == {"retweet": 1, "only links or mentions": 1, "quote of another account": 1}
    assert trained["n_posts"] + sum(trained["left_out"].values()) == len(posts) + len(extra)
