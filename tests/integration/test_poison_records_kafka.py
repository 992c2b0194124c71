"""The operator's ways past bad records on a real broker, after a snapshot exists: skip an offset, re-drive dead letters."""

from __future__ import annotations

import json

import pytest

from replay import ArchiveRecord

from .conftest import Service, latest, read_topic, storywire, storywire_env
from .test_kafka_service import LABELS, VALID, init_topics, produce, tags_cover

pytestmark = pytest.mark.slow


def test_skip_offsets_and_dlq_redrive_after_a_snapshot(broker, topics, tmp_path):
    recovery = ["-r", str(tmp_path / "recovery"), "-s", "1"]
    strict = storywire_env(broker, topics, STORYWIRE_LIMITS__MAX_RECORD_BYTES="4096")
    init_topics(strict, partitions=1)
    big = dict(VALID[0].parsed, id="long-read", body="A long report on the tsunami warning. " * 200)
    first = VALID[:30] + [ArchiveRecord(0, json.dumps(big).encode(), big)] + VALID[30:60]
    produce(broker, topics.articles, first)
    service = Service(strict, recovery, log=tmp_path / "first.log")
    try:
        read_topic(broker.bootstrap, topics.tags, until=tags_cover({r.parsed["id"] for r in VALID[:60]}))
        read_topic(broker.bootstrap, topics.dlq, until=lambda r: len(r) >= 1)
    finally:
        assert service.terminate() == 0, (tmp_path / "first.log").read_text()[-3000:]

    # the next record on the topic is one the operator wants skipped; its offset is the count so far
    poison_offset = len(first)
    poison = dict(VALID[60].parsed, id="poison", title="a record the operator decided to skip")
    produce(broker, topics.articles, [ArchiveRecord(0, json.dumps(poison).encode(), poison)] + VALID[61:])

    # after the fix (a larger limit), the dead letter's original bytes go back to the articles topic
    redrive = storywire(["dlq", "redrive", "--from-topic", "--reason", "byte limit|bytes", "--to-kafka", "--idle-exit", "3"], strict)
    assert "re-driven: 1" in redrive.stdout + redrive.stderr, redrive.stdout + redrive.stderr

    relaxed = dict(strict, STORYWIRE_LIMITS__MAX_RECORD_BYTES=str(1024 * 1024), STORYWIRE_KAFKA__SKIP_OFFSETS=f"0:{poison_offset}")
    service = Service(relaxed, recovery, log=tmp_path / "second.log")
    try:
        expected = set(LABELS) - {VALID[60].parsed["id"]} | {"long-read"}  # VALID[60]'s place went to the poison record
        tags = read_topic(broker.bootstrap, topics.tags, until=tags_cover(expected))
        dead = read_topic(broker.bootstrap, topics.dlq, until=lambda r: len(r) >= 2)
    finally:
        assert service.terminate() == 0, (tmp_path / "second.log").read_text()[-3000:]

    final = latest(tags)
    assert "long-read" in final and "duplicate" not in " ".join(final["long-read"]["flags"])  # re-driven and tagged
    assert "poison" not in final
    skipped = [v for _, v in dead if v.get("article_id") == "poison" or v.get("position") == poison_offset]
    assert len(skipped) == 1 and "skipped unread" in skipped[0]["reason"], [v["reason"] for _, v in dead]
    assert skipped[0]["partition"] == 0 and skipped[0]["position"] == poison_offset
    # the restart resumed from the snapshot: the first run's records were not read again (no second dead letter)
    assert len(dead) == 2, [v["reason"] for _, v in dead]
