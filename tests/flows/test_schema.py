import json

import pytest

from flows.config import LimitsConfig
from flows.schema import Article, DeadLetter, InvalidArticle, RawRecord, decode_record, nesting_depth


def decode(payload, max_record_bytes=1024 * 1024, max_body_chars=100, **limits):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    config = LimitsConfig(max_record_bytes=max_record_bytes, max_body_chars=max_body_chars, **limits)
    return decode_record(RawRecord(raw, "file:x", 7, 1_700_000_000.0), config)


def test_valid_article_with_rfc3339_and_epoch_ms_times():
    a = decode({"id": "a1", "title": "Quake", "published_at": "2026-03-02T06:10:00Z", "extra": 1})
    assert isinstance(a, Article) and a.published_at == 1772431800.0
    b = decode({"id": "a2", "title": "Quake", "published_at": 1772431800000})
    assert b.published_at == 1772431800.0


def test_missing_published_at_defaults_to_receive_time_and_marks_the_article_undated():
    undated = decode({"id": "a", "title": "t"})
    assert undated.published_at == 1_700_000_000.0 and not undated.dated
    assert decode({"id": "b", "title": "t", "published_at": 1772431800000}).dated


@pytest.mark.parametrize(
    "payload, message",
    [
        (b'{"id": "x", "title": "cut', "not JSON"),
        (b'{"id": "x", "title": "\xff"}', "not UTF-8"),
        ([1, 2], "expected a JSON object, got an array"),
        ("text", "expected a JSON object, got a string"),
        (None, "expected a JSON object, got null"),
        ({"title": "no id"}, "missing required field 'id'"),
        ({"id": 5, "title": "t"}, "field 'id': expected a non-empty string, got a number"),
        ({"id": {"a": 1}, "title": "t"}, "field 'id': expected a non-empty string, got an object"),
        ({"id": " ", "title": "t"}, "field 'id': expected a non-empty string"),
        ({"id": "x", "title": ["t"]}, "field 'title': expected a string, got an array"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        ({"id": "a\u0000b", "title": "t"}, r"field 'id': contains a control character \(U\+0000\)"),
        ({"id": "x" * 2000, "title": "t"}, "field 'id': 2000 characters, over the limit of 1024"),
        ({"id": "x", "title": "t", "lang": "english please"}, "field 'lang': 'english please' is not a language tag"),
        (b'{"id": "x", "title": "t", "published_at": NaN}', "not JSON"),
        (b'{"id": "x", "title": "t", "published_at": 1e999}', "field 'published_at': number out of range"),
        ({"id": "x"}, "needs a non-empty 'title' or 'body'"),
        ({"id": "x", "title": "t", "published_at": "yesterday"}, "is not an RFC 3339 timestamp"),
        ({"id": "x", "title": "t", "published_at": "2026-03-02T06:10:00"}, "has no UTC offset"),
        ({"id": "x", "title": "t", "published_at": True}, "field 'published_at': expected an RFC 3339 string or epoch ms, got a boolean"),
        ({"id": "x", "title": "t", "published_at": -5}, "between 1970 and 2100"),
        ({"id": "x", "title": "t", "published_at": 10**19}, "10000000000000000000 is not epoch milliseconds between 1970 and 2100"),
        ({"id": "x", "title": "t", "published_at": 4102444800000.5}, "4102444800000.5 is not epoch milliseconds between 1970 and 2100"),
        ({"id": "x", "title": "t", "published_at": "2026-03-02T06:10:00Z" + " " * 60}, "field 'published_at': 80 characters is not an RFC 3339"),
        ({"id": "", "title": "t"}, "field 'id': expected a non-empty string"),
        ({"id": "x", "title": "t", "lang": "e" * 36}, "field 'lang': 'eeee.* is not a language tag"),
    ],
)
def test_invalid_records_say_what_is_wrong(payload, message):
    with pytest.raises(InvalidArticle, match=message):
        decode(payload)


def test_the_id_limit_follows_the_configuration():
    assert decode({"id": "x" * 20, "title": "t"}, max_id_chars=20).id == "x" * 20
    with pytest.raises(InvalidArticle, match="field 'id': 21 characters, over the limit of 20"):
        decode({"id": "x" * 21, "title": "t"}, max_id_chars=20)


def test_oversized_record_is_rejected_with_its_size():
    with pytest.raises(InvalidArticle, match=r"record is \d+ bytes, over the 1024-byte limit"):
        decode({"id": "x", "title": "t", "body": "b" * 2000}, max_record_bytes=1024)


def test_long_body_is_truncated_and_flagged():
    a = decode({"id": "x", "title": "t", "body": "b" * 500}, max_body_chars=100)
    assert a.body_truncated and len(a.body) == 100


def test_content_hash_changes_with_content_only():
    a = decode({"id": "x", "title": "t", "body": "b"})
    assert a.content_hash == decode({"id": "x", "title": "t", "body": "b", "url": "u"}).content_hash
    assert a.content_hash != decode({"id": "x", "title": "t", "body": "c"}).content_hash


# The four records that used to stop the flow (issue 15), each now a precise dead-letter reason.


def test_lone_surrogate_escape_in_title_id_or_lang_is_rejected_as_invalid_json():
    for field in ("title", "id", "lang"):
        raw = b'{"id": "x", "title": "t", "lang": "en", "%s": "bad \\ud800 value"}' % field.encode()
        with pytest.raises(InvalidArticle, match="not JSON: .*surrogate"):
            decode(raw)


def test_a_5000_digit_integer_in_an_unread_field_is_skipped():
    raw = b'{"id": "x", "title": "Quake", "views": ' + b"9" * 5000 + b"}"
    assert decode(raw).title == "Quake"
    with pytest.raises(InvalidArticle, match="field 'published_at': integer value out of range"):
        decode(b'{"id": "x", "title": "t", "published_at": ' + b"9" * 5000 + b"}")


def test_100000_nested_brackets_are_refused_before_parsing():
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"id": "x", "title": "t", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"):
        with pytest.raises(InvalidArticle, match=r"JSON nested 10000\d levels deep, over the limit of 32"):
            decode(raw)


def test_a_far_future_date_is_outside_the_schema_range():
    with pytest.raises(InvalidArticle, match="'9999-12-31T23:00:00Z' is not between 1970 and 2100"):
        decode({"id": "x", "title": "t", "published_at": "9999-12-31T23:00:00Z"})
    with pytest.raises(InvalidArticle, match="not between 1970 and 2100"):
        decode({"id": "x", "title": "t", "published_at": "9999-12-31T23:00:00-05:00"})  # past year 9999 in UTC


def test_nesting_depth_ignores_brackets_inside_strings():
    assert nesting_depth(b'{"a": "[[[[[[[[[[[[[[[[", "b": [[1]]}', 2) == 3
    assert nesting_depth(b'{"a": "\\"[[[[[[[[[[["}', 2) == 1


def test_control_characters_are_cleaned_from_text_and_a_bom_is_skipped():
    a = decode(b'\xef\xbb\xbf{"id": "x", "title": "a\\u0000b\\u001bc", "body": "line\\nnext\\tend"}')
    assert a.title == "a b c" and a.body == "line\nnext\tend"


def test_long_title_is_truncated_and_flagged():
    a = decode({"id": "x", "title": "t" * 50}, max_title_chars=10)
    assert a.title_truncated and a.title == "t" * 10


def test_duplicate_keys_take_the_last_value():
    assert decode(b'{"id": "x", "title": "first", "title": "second"}').title == "second"


def test_article_keeps_its_raw_record_for_later_dead_letters():
    raw = b'{"id": "x", "title": "t", "published_at": 1772431800000}'
    article = decode(raw)
    assert article.record.payload == raw and article.record.position == 7


def test_dead_letter_reason_is_bounded():
    letter = DeadLetter.from_raw(RawRecord(b"x", "file:x", 1, 0.0), "r" * 5000)
    assert len(letter.reason) == 1000


def test_kafka_skip_offsets_dead_letters_the_listed_records_unread():
    from flows.config import RunConfig
    from flows.dataflow import decode as decode_step

    config = RunConfig().with_values({"kafka": {"skip_offsets": "3:977, 0:5"}})
    skip = config.kafka.skipped_offsets()
    poison = RawRecord(b'{"id": "x", "title": "t"}', "kafka:articles", 977, 0.0, 3)
    letter = decode_step(config, poison, skip)
    assert isinstance(letter, DeadLetter) and letter.reason == "skipped unread: kafka.skip_offsets lists 3:977"
    assert letter.raw == poison.payload
    assert isinstance(decode_step(config, RawRecord(poison.payload, "kafka:articles", 977, 0.0, 2), skip), Article)
    assert isinstance(decode_step(config, RawRecord(poison.payload, "file:x.jsonl", 977, 0.0, 3), skip), Article)
