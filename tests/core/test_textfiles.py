"""Tests for core.textfiles: encodings, delimiters and headers of small hand-written files."""

from __future__ import annotations

import codecs
import re

import pytest

from core.textfiles import (
    SAMPLE_BYTES,
    TextFileError,
    clean_header,
    decode_sample,
    detect_encoding,
    non_blank_lines,
    read_sample,
    read_text_file,
    sample_and_encoding,
    sniff_delimiter,
    sniff_text_delimiter,
)

CHINESE = "用户ID;话题;时间\nu1;健身;2026-03-01\nu2;护肤;2026-03-02\n"


def test_utf8_with_bom_is_read_without_the_bom(write_file):
    path = write_file("bom.csv", codecs.BOM_UTF8 + b"user_id,topic\nu1,fitness\n")

    assert detect_encoding(path.read_bytes()) == "utf-8-sig"
    assert read_text_file(path, name="bom.csv", if_empty="-") == ("user_id,topic\nu1,fitness\n", "utf-8-sig")


def test_gb18030_export_with_chinese_header(write_file):
    path = write_file("weibo.csv", CHINESE.encode("gb18030"))

    assert detect_encoding(path.read_bytes()) == "gb18030"
    text, encoding = read_text_file(path, name="weibo.csv", if_empty="-")
    assert (text, encoding) == (CHINESE, "gb18030")
    assert sniff_text_delimiter(text) == ";"
    assert clean_header(text.splitlines()[0].split(";")) == ["用户ID", "话题", "时间"]


def test_utf16_with_and_without_a_bom(write_file):
    content = "user_id\ttopic\r\nu1\tyoga\r\n"
    with_bom = write_file("bom16.csv", content.encode("utf-16"))  # BOM, then the machine's byte order
    little = write_file("le.csv", content.encode("utf-16-le"))
    big = write_file("be.csv", content.encode("utf-16-be"))

    assert read_text_file(with_bom, name="bom16.csv", if_empty="-") == (content, "utf-16")
    assert read_text_file(little, name="le.csv", if_empty="-") == (content, "utf-16-le")
    assert read_text_file(big, name="be.csv", if_empty="-") == (content, "utf-16-be")
    assert sniff_text_delimiter(content) == "\t"


def test_plain_ascii_is_utf8_and_a_character_cut_by_the_sample_end_is_dropped():
    sample = "topic\n健身".encode()[:-1]

    assert detect_encoding(b"user_id,topic\n") == "utf-8"
    assert detect_encoding(sample) == "utf-8"
    assert decode_sample(sample, "utf-8", name="cut.csv") == "topic\n健"


def test_binary_input_is_refused_with_one_line():
    with pytest.raises(TextFileError) as caught:
        detect_encoding(b"PK\x03\x04\x00\x00\x08\x00\x00\x00\x00\x00\x21\x00\x00\x00", name="book.xlsx")

    assert str(caught.value) == (
        "book.xlsx looks like a binary file, not a CSV export (it contains NUL bytes); export it as CSV text"
    )


def test_text_full_of_replacement_characters_is_not_that_encoding():
    with pytest.raises(TextFileError) as caught:
        decode_sample(("a\ufffd" * 10).encode(), "utf-8", name="odd.csv")

    assert str(caught.value) == "odd.csv: the text does not decode as utf-8; save it as UTF-8 CSV"


def test_missing_and_empty_files_say_so(write_file, tmp_path):
    blank = write_file("blank.csv", " \n\n")

    with pytest.raises(TextFileError) as missing:
        read_text_file(tmp_path / "nowhere.csv", name="nowhere.csv", if_empty="-")
    with pytest.raises(TextFileError) as empty:
        sample_and_encoding(blank, name="blank.csv", if_empty="there are no posts in it")

    assert str(missing.value) == "nowhere.csv: no such file"
    assert str(empty.value) == "blank.csv is empty: there are no posts in it"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["user_id;topic;platform", "u1;yoga;weibo", "u2;tea, herbal;x"], ";"),
        (["user_id\ttopic", "u1\tyoga", "u2\tmeal prep, low sugar"], "\t"),
        (["user_id|topic|when", "u1|yoga|2026-03-01", "u2|tea|2026-03-02"], "|"),
        (["user_id,topic", "u1,yoga", "u2,tea"], ","),
        (["one column only", "no delimiter here"], ","),
        ([], ","),
    ],
)
def test_sniff_delimiter(lines, expected):
    assert sniff_delimiter(lines) == expected


def test_sniffing_ignores_blank_lines_and_a_last_line_cut_short():
    text = "\n\nuser_id;topic;when\n\nu1;yoga;2026-03-01\nu2;tea;2026-03-02\nu3,cut"

    assert sniff_text_delimiter(text) == ";"
    assert non_blank_lines(text) == ["user_id;topic;when", "u1;yoga;2026-03-01", "u2;tea;2026-03-02", "u3,cut"]
    assert non_blank_lines(text, limit=2) == ["user_id;topic;when", "u1;yoga;2026-03-01"]


def test_clean_header_names_every_column_once():
    assert clean_header(["\ufeffuser_id ", "", "topic", " topic", "  ", "topic"]) == [
        "user_id",
        "column_2",
        "topic",
        "topic_2",
        "column_5",
        "topic_3",
    ]


def test_sample_of_a_large_file_is_its_head_plus_whole_lines_from_later_on(write_file):
    lines = [f"u{i:07d},topic{i % 7}\n" for i in range(60_000)]  # 18 bytes a line, about 1 MB
    data = "".join(lines).encode()
    path = write_file("large.csv", data)
    small = write_file("small.csv", data[: SAMPLE_BYTES * 2])

    sample = read_sample(path)

    assert read_sample(small) == data[: SAMPLE_BYTES * 2]
    assert sample.startswith(data[:SAMPLE_BYTES])
    tail = sample[SAMPLE_BYTES:].decode().splitlines()
    assert all(re.fullmatch(r"u\d{7},topic\d", line) for line in tail)
    assert max(int(line[1:8]) for line in tail) > 48_000  # seen from the last fifth of the file
    assert len(sample) < len(data)


POSTS_LINE = "u{i},健身话题很好😀,2026-03-01 10:00\n"


@pytest.mark.parametrize(
    ("codec", "expected"),
    [("utf-8", "utf-8"), ("gb18030", "gb18030"), ("utf-16-le", "utf-16-le"), ("utf-16", "utf-16")],
)
def test_a_large_multibyte_file_is_recognised_wherever_the_sample_cut_falls(write_file, codec, expected):
    for shift in range(8):  # moves byte SAMPLE_BYTES through every position inside the characters around it
        text = "user_id,topic,time" + "x" * shift + "\n" + "".join(POSTS_LINE.format(i=i) for i in range(25_000))
        path = write_file(f"posts-{codec}-{shift}.csv", text.encode(codec))
        assert path.stat().st_size > 2 * SAMPLE_BYTES

        sample, encoding = sample_and_encoding(path, name=path.name, if_empty="-")
        decoded = decode_sample(sample, encoding, name=path.name)

        assert encoding == expected, shift
        lines = decoded.splitlines()
        assert lines[0] == "user_id,topic,time" + "x" * shift
        assert set(lines[1:]) <= set(text.splitlines()), shift
