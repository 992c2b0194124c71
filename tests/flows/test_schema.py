import json

import pytest

from flows.schema import Article, InvalidArticle, RawRecord, decode_article


def decode(payload, max_record_bytes=1024 * 1024, max_body_chars=100):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode_article(RawRecord(raw, "file:x", 7, 1_700_000_000.0), max_record_bytes, max_body_chars)


def test_valid_article_with_rfc3339_and_epoch_ms_times():
    a = decode({"id": "a1", "title": "Quake", "published_at": "2026-03-02T06:10:00Z", "extra": 1})
    assert isinstance(a, Article) and a.published_at == 1772431800.0
    b = decode({"id": "a2", "title": "Quake", "published_at": 1772431800000})
    assert b.published_at == 1772431800.0


def test_missing_published_at_defaults_to_receive_time():
    assert decode({"id": "a", "title": "t"}).published_at == 1_700_000_000.0


@pytest.mark.parametrize(
    "payload, message",
    [
        (b'{"id": "x", "title": "cut', "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        ([1, 2], "expected a JSON object, got an array"),
        ({"title": "no id"}, "missing required field 'id'"),
        ({"id": 5, "title": "t"}, "field 'id': expected a non-empty string, got a number"),
        ({"id": "x", "title": ["t"]}, "field 'title': expected a string, got an array"),
        ({"id": "x"}, "needs a non-empty 'title' or 'body'"),
        ({"id": "x", "title": "t", "published_at": "yesterday"}, "is not an RFC 3339 timestamp"),
        ({"id": "x", "title": "t", "published_at": "2026-03-02T06:10:00"}, "has no UTC offset"),
        ({"id": "x", "title": "t", "published_at": True}, "expected an RFC 3339 string or epoch ms"),
        ({"id": "x", "title": "t", "published_at": -5}, "between 1970 and 2100"),
    ],
)
def test_invalid_records_say_what_is_wrong(payload, message):
    with pytest.raises(InvalidArticle, match=message):
        decode(payload)


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
