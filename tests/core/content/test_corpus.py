"""Reading a corpus of past posts: any encoding, chosen columns, clean-up, a stable split."""

from __future__ import annotations

import math

import pytest

from core.content.corpus import (
    EOS,
    MENTION,
    UNK,
    URL,
    Corpus,
    CorpusError,
    SpanModel,
    Vocabulary,
    corpus_columns,
    demo_corpus_path,
    read_corpus,
    restore_placeholders,
    to_units,
)


def test_gbk_semicolon_csv_with_chinese_headers(write_file) -> None:
    text = "正文;话题;点赞\n早上一杯菊花茶;herbal tea;12\n\n早上一杯菊花茶;herbal tea;3\n  练完记得补充蛋白质  ;protein;7\n;;\n"
    path = write_file("weibo.csv", text.encode("gbk"))
    corpus = read_corpus(path)
    assert corpus.texts == ["早上一杯菊花茶", "练完记得补充蛋白质"]
    assert corpus.topics == ["herbal tea", "protein"]
    assert corpus.engagement is None  # 点赞 is not a known engagement name; it can be chosen
    assert (corpus.rows_read, corpus.blank, corpus.duplicates) == (4, 1, 1)
    assert corpus_columns(path) == ["正文", "话题", "点赞"]


def test_a_chosen_text_column_and_a_missing_one(write_file) -> None:
    path = write_file("posts.csv", "id,body,notes\n1,Hello from the farm today,x\n2,Oats are back in stock,y\n")
    assert read_corpus(path, text_column="body").texts == ["Hello from the farm today", "Oats are back in stock"]
    with pytest.raises(CorpusError, match=r"there is no text column 'text'; columns: id, body, notes"):
        read_corpus(path, text_column="text")


def test_a_text_file_is_one_post_per_line_and_nfc(write_file) -> None:
    path = write_file("posts.txt", "Cafe\u0301 au lait with oat milk\n\nCafé au lait with oat milk\nSecond post\n")
    corpus = read_corpus(path)
    assert corpus.texts == ["Café au lait with oat milk", "Second post"]
    assert corpus.duplicates == 1 and corpus.blank == 1


def test_empty_file_is_refused(write_file) -> None:
    with pytest.raises(CorpusError, match="is empty"):
        read_corpus(write_file("empty.csv", b""))


def test_the_split_is_deterministic_and_disjoint() -> None:
    texts = [f"post number {i} about oats" for i in range(200)]
    corpus = Corpus(texts, [""] * 200, [""] * 200)
    train, val = corpus.split(val_fraction=0.1)
    assert set(train.texts).isdisjoint(val.texts) and len(train) + len(val) == 200
    assert 5 <= len(val) <= 40
    reversed_corpus = Corpus(texts[::-1], [""] * 200, [""] * 200)
    assert set(reversed_corpus.split(val_fraction=0.1)[1].texts) == set(val.texts)


def test_demo_corpus_covers_every_group() -> None:
    from core.demo import GROUPS

    corpus = read_corpus(demo_corpus_path())
    assert len(corpus) >= 300 and corpus.duplicates == 0
    assert set(corpus.segments) == set(GROUPS)
    assert any("\u4e00" <= c <= "\u9fff" for t in corpus.texts for c in t)


def test_urls_and_mentions_become_placeholders_and_come_back() -> None:
    text = "Thanks @lin_runs! New oats at https://shop.example/oats?x=1 — email a@b.com"
    units = to_units(text)
    assert units == f"Thanks {MENTION}! New oats at {URL} — email a@b.com"
    assert (
        restore_placeholders(units, link="https://meadow.example", mentions=["@meadowpantry"])
        == "Thanks @meadowpantry! New oats at https://meadow.example — email a@b.com"
    )
    assert restore_placeholders(units, link=None, mentions=[]) == "Thanks! New oats at — email a@b.com"


def test_vocabulary_round_trip_and_unknown_characters() -> None:
    corpus = Corpus(["aab", "abba", "ab @x"], ["young men", "", ""], ["protein", "", ""])
    vocab = Vocabulary.build(corpus, min_count=2)
    ids, unknown = vocab.encode("abz")
    assert ids[-1] == EOS and ids[2] == UNK and unknown == 1
    assert vocab.decode(vocab.encode("abba")[0]) == "abba"
    assert vocab.decode(vocab.encode("ab ba")[0]) == "ab\ufffdba"  # a space was seen once: unknown
    assert vocab.control_ids("young men", "protein") != vocab.control_ids("", "")
    assert vocab.oov_bits == pytest.approx(math.log2(0x110000 - len(vocab.chars)))


def test_span_model_is_a_probability_distribution_over_seen_spans() -> None:
    spans = SpanModel.build(["see https://a.example", "see https://a.example", "hi @bo"])
    assert spans.bits("https://a.example") < spans.bits("https://b.example")
    seen = sum(2 ** -spans.bits(s) for s in ("https://a.example", "@bo"))
    assert 0.5 < seen < 1.0


def test_a_one_column_export_keeps_quoted_multi_line_posts_whole(write_file) -> None:
    raw = (
        'tweet_text\n"Line one &amp; more,\nline two with ""quotes""."\nA plain post. http://t.co/abc\n'
        'RT @mention something of theirs\n"{link} @mention"\n'
    )
    corpus = read_corpus(write_file("export.csv", raw.encode("latin-1")))
    assert corpus.texts == ['Line one & more,\nline two with "quotes".', "A plain post. http://t.co/abc"]
    assert corpus.columns == {"text": "tweet_text"}
    assert corpus.left_out == {"retweet": 1, "only links or mentions": 1}
    assert corpus.rows_read == len(corpus) + sum(corpus.left_out.values())
    assert read_corpus(write_file("export.csv", raw.encode("latin-1")), keep_all=True).left_out == {}
