"""storywire as an always-on service against a real Apache Kafka broker (started by the fixture)."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from replay import ArchiveRecord, check_outputs, demo_firehose_path, produce_archive, read_jsonl, score_clustering

from .conftest import ROOT, Service, free_port_pair, latest, read_topic, storywire, storywire_env

pytestmark = pytest.mark.slow

sys.path.insert(0, str(ROOT / "deploy" / "examples"))
from story_table import follow_story_table  # noqa: E402  (the documented consumer example)

DEMO = list(read_jsonl(demo_firehose_path()))
VALID = [r for r in DEMO if r.parsed and isinstance(r.parsed.get("id"), str) and r.parsed.get("event")]
LABELS = {r.parsed["id"]: r.parsed["event"] for r in VALID}


def produce(broker, topic: str, records: list[ArchiveRecord], rate: float | None = None) -> None:
    report = produce_archive(records, {"bootstrap.servers": broker.bootstrap}, topic, rate=rate)
    assert report.failed == 0, report.first_error


def init_topics(env: dict, partitions: int) -> None:
    result = storywire(["kafka", "init-topics", "--partitions", str(partitions)], env)
    assert result.stdout.count("created") == 4, result.stdout


def tags_cover(ids):
    return lambda records: ids <= {value["id"] for _, value in records if value}


def assert_one_final_record_per_article(tag_records):
    """Re-delivered (id, version) pairs are identical apart from processing time."""
    by_version: dict[tuple[str, int], set[str]] = {}
    for _, value in tag_records:
        body = {k: v for k, v in value.items() if k not in ("processed_at", "received_at")}
        by_version.setdefault((value["id"], value["version"]), set()).add(json.dumps(body, sort_keys=True))
    conflicting = {k: v for k, v in by_version.items() if len(v) > 1}
    assert not conflicting


def assert_story_sizes_match_tags(tag_records, story_records):
    final_tags = latest(tag_records)
    stories = latest(story_records, "cluster_id")
    members = Counter(t["story"]["id"] for t in final_tags.values())
    for story_id, story in stories.items():
        assert story["size"] == members.get(story_id, 0), (story_id, story["size"], members.get(story_id, 0))
    assert set(members) <= set(stories)


def test_round_trip_bad_input_edits_and_metrics(broker, topics, tmp_path):
    metrics_port = free_port_pair()
    env = storywire_env(broker, topics, STORYWIRE_LIMITS__MAX_RECORD_BYTES="4096", STORYWIRE_METRICS__PORT=str(metrics_port))
    init_topics(env, partitions=2)
    edited = dict(VALID[0].parsed, summary="Update: the tsunami warning was lifted an hour later.")
    bad = [
        b'{"id": "x1", "title": "cut off',  # not JSON
        b"\xff\xfe not utf-8",  # not UTF-8
        json.dumps({"title": "no id"}).encode(),  # missing field
        json.dumps({"id": 12, "title": "numeric id"}).encode(),  # wrong type
        json.dumps({"id": "big", "title": "huge", "body": "x" * 5000}).encode(),  # over the configured limit
    ]
    records = VALID[:60] + [ArchiveRecord(0, b, None) for b in bad] + VALID[60:] + [ArchiveRecord(0, json.dumps(edited).encode(), edited)]
    produce(broker, topics.articles, records)
    service = Service(env, log=tmp_path / "service.log")
    try:
        tags = read_topic(broker.bootstrap, topics.tags, until=lambda r: tags_cover(set(LABELS))(r) and any(v["version"] > 1 for _, v in r))
        dead = read_topic(broker.bootstrap, topics.dlq, until=lambda r: len(r) >= len(bad))
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5).read())
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    finally:
        assert service.terminate() == 0, (tmp_path / "service.log").read_text()[-3000:]
    stories = read_topic(broker.bootstrap, topics.stories)

    assert set(LABELS) <= {v["id"] for _, v in tags}
    final = latest(tags)
    first_version = min(v["version"] for _, v in tags if v["id"] == edited["id"])
    assert final[edited["id"]]["version"] > first_version and "edited" in final[edited["id"]]["flags"]
    assert_story_sizes_match_tags(tags, stories)
    assert_one_final_record_per_article(tags)
    assert score_clustering({i: t["story"]["id"] for i, t in final.items()}, LABELS).bcubed_f1 >= 0.85

    reasons = [v["reason"] for _, v in dead]
    for expected in ("not JSON", "not UTF-8", "missing required field 'id'", "field 'id': expected a non-empty string", "over the 4096-byte limit"):
        assert any(expected in r for r in reasons), (expected, reasons)
    not_utf8 = next(v for _, v in dead if v["reason"].startswith("not UTF-8"))
    assert base64.b64decode(not_utf8["raw_base64"]) == bad[1]
    assert not_utf8["raw_sha256"] == hashlib.sha256(bad[1]).hexdigest() and not_utf8["raw_length"] == len(bad[1])
    assert not_utf8["origin"] == f"kafka:{topics.articles}" and not_utf8["partition"] in (0, 1) and not_utf8["position"] >= 0

    table = follow_story_table(broker.bootstrap, topics.stories, group="test-table", idle_exit_s=3)
    deleted = {key for key, value in stories if value is None}
    expected = {k: v["version"] for k, v in latest(stories, "cluster_id").items() if k not in deleted}
    assert {k: v["version"] for k, v in table.items()} == expected

    assert health["status"] == "running"
    assert f"storywire_articles_in_total {float(len(records))}" in scraped
    assert "storywire_end_to_end_latency_seconds_bucket" in scraped


def test_unreachable_broker_fails_fast_naming_the_servers(topics):
    port = free_port_pair()
    env = storywire_env(type("B", (), {"bootstrap": f"localhost:{port}"})(), topics, STORYWIRE_KAFKA__CONNECT_TIMEOUT_S="3")
    started = time.monotonic()
    result = storywire(["run"], env, check=False, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert f"localhost:{port}" in result.stderr
    assert elapsed < 3 + 15  # the timeout plus interpreter start-up; never a hang


def test_processor_crash_resumes_from_recovery_and_supersedes_what_it_redoes(broker, topics, tmp_path):
    env = storywire_env(broker, topics)
    init_topics(env, partitions=1)
    recovery = ["-r", str(tmp_path / "recovery"), "-s", "1"]
    produce(broker, topics.articles, VALID[:10])
    service = Service(env, recovery, log=tmp_path / "first.log")
    producer = threading.Thread(target=produce, args=(broker, topics.articles, VALID[10:], 6.0))  # ~25 s of articles
    try:
        read_topic(broker.bootstrap, topics.tags, until=lambda r: len(r) >= 10, idle=0)  # models are loaded
        producer.start()
        before = read_topic(broker.bootstrap, topics.tags, until=lambda r: len(r) >= 40, idle=0)
    finally:
        service.kill()  # kill -9 mid-stream
    seen_before = latest(before)
    assert len(seen_before) < len(VALID), "the crash should come before the end of the stream"

    service = Service(env, recovery, log=tmp_path / "second.log")
    try:
        tags = read_topic(broker.bootstrap, topics.tags, until=tags_cover(set(LABELS)))
    finally:
        assert service.terminate() == 0
        producer.join()
    stories = read_topic(broker.bootstrap, topics.stories)
    final = latest(tags)
    assert set(LABELS) <= set(final)
    report = check_outputs(LABELS, tags, stories)
    assert not report.conflicting_versions and not report.ids_minted_twice and not report.not_in_a_live_story
    assert report.redelivered >= len(seen_before)  # the restored run re-published what it holds, under higher versions
    for article_id, tag in seen_before.items():
        assert final[article_id]["version"] > tag["version"]


def test_broker_down_longer_than_the_delivery_timeout_is_waited_out(broker, topics, tmp_path):
    metrics_port = free_port_pair()
    env = storywire_env(broker, topics, STORYWIRE_KAFKA__DELIVERY_TIMEOUT_S="3", STORYWIRE_METRICS__PORT=str(metrics_port))
    init_topics(env, partitions=1)
    first, second = VALID[:140], VALID[140:]
    produce(broker, topics.articles, first)
    service = Service(env, log=tmp_path / "service.log")
    problems = []
    try:
        read_topic(broker.bootstrap, topics.tags, until=lambda r: len(r) >= 1, idle=0)
        broker.kill()  # with most of `first` read and still in the flow
        for _ in range(12):  # four delivery timeouts
            time.sleep(1)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=2)
            except urllib.error.HTTPError as error:  # 503 while outputs wait
                problems += json.loads(error.read())["problems"]
        assert service.proc.poll() is None, "storywire exited during the outage"
        broker.start()
        produce(broker, topics.articles, second)
        tags = read_topic(broker.bootstrap, topics.tags, until=tags_cover(set(LABELS)))
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5).read())
    finally:
        assert service.terminate() == 0, (tmp_path / "service.log").read_text()[-3000:]
    assert set(LABELS) <= {v["id"] for _, v in tags}
    assert any(p.startswith("outputs wait for the Kafka broker since") for p in problems), problems
    assert health["problems"] == [] and health["broker_outage_since"] is None
    assert "waiting for the broker, the flow is paused" in (tmp_path / "service.log").read_text()


def test_two_processes_over_four_partitions(broker, topics, tmp_path):
    metrics_port = free_port_pair()
    ports = [free_port_pair(), free_port_pair()]
    addresses = ";".join(f"localhost:{p}" for p in ports)
    env = storywire_env(broker, topics, STORYWIRE_METRICS__PORT=str(metrics_port))
    init_topics(env, partitions=4)
    produce(broker, topics.articles, VALID)
    services = [Service(env, ["-i", str(i), "-a", addresses], log=tmp_path / f"p{i}.log") for i in range(2)]
    try:
        tags = read_topic(broker.bootstrap, topics.tags, until=tags_cover(set(LABELS)))
    finally:
        for service in services:
            service.signal_stop()
        codes = [s.terminate() for s in services]
    assert codes == [0, 0]
    stories = read_topic(broker.bootstrap, topics.stories)
    final = latest(tags)
    assert set(LABELS) <= set(final)
    assert_one_final_record_per_article(tags)
    assert_story_sizes_match_tags(tags, stories)
    # One clustering state for the shard, whichever process holds it: a story ID is never
    # minted twice (one body per (id, version)), and no story mixes events.
    bodies: dict[tuple[str, int], set[str]] = {}
    for _, story in stories:
        if story is not None:
            bodies.setdefault((story["cluster_id"], story["version"]), set()).add(json.dumps(story, sort_keys=True))
    assert all(len(b) == 1 for b in bodies.values())
    scores = score_clustering({i: t["story"]["id"] for i, t in final.items()}, LABELS)
    assert scores.bcubed_precision >= 0.95 and scores.bcubed_f1 >= 0.85


def test_export_from_kafka_holds_every_record_the_topics_hold(broker, topics, tmp_path):
    """`storywire export --from kafka`: every tag and story record (all versions) of a real run, as Parquet."""
    import pyarrow.dataset as ds

    env = storywire_env(broker, topics)
    init_topics(env, partitions=2)
    records = VALID[:40]
    produce(broker, topics.articles, records)
    service = Service(env, log=tmp_path / "service.log")
    try:
        read_topic(broker.bootstrap, topics.tags, until=tags_cover({r.parsed["id"] for r in records}), idle=0)
    finally:
        assert service.terminate() == 0, (tmp_path / "service.log").read_text()[-3000:]
    tags, stories = read_topic(broker.bootstrap, topics.tags), read_topic(broker.bootstrap, topics.stories)

    result = storywire(["export", "--from", "kafka", "--to", str(tmp_path / "export"), "--idle-exit", "3", "--no-progress"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    exported_tags = ds.dataset(tmp_path / "export" / "tags", format="parquet", partitioning="hive").to_table()
    exported_stories = ds.dataset(tmp_path / "export" / "stories", format="parquet", partitioning="hive").to_table()
    assert sorted(zip(exported_tags["id"].to_pylist(), exported_tags["version"].to_pylist())) == sorted((v["id"], v["version"]) for _, v in tags)
    assert sorted(
        zip(exported_stories["cluster_id"].to_pylist(), exported_stories["version"].to_pylist(), exported_stories["tombstone"].to_pylist())
    ) == sorted((key, value["version"], False) if value else (key, None, True) for key, value in stories)
    final = dict(zip(exported_tags["id"].to_pylist(), exported_tags["final_story_id"].to_pylist()))
    assert set(final) == {r.parsed["id"] for r in records} and all(final.values())
