"""Crash consistency against a real broker: kill -9, SIGTERM, broker outages, lost and mismatched recovery stores.

The long version is benchmarks/chaos.py (20 kills, UCI headlines); these are
its short runs over the demo firehose, checked with replay.consistency.
"""

from __future__ import annotations

import os
import time
import urllib.request

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks.chaos import Plan, run
from replay import check_outputs, demo_firehose_path, read_jsonl

from .conftest import Service, free_port_pair, latest, read_topic, storywire, storywire_env

pytestmark = pytest.mark.slow

DEMO = [r for r in read_jsonl(demo_firehose_path()) if r.parsed and isinstance(r.parsed.get("id"), str) and r.parsed.get("event")]


def _plan(**overrides) -> Plan:
    # re-clustering every 40 articles; the sink's delivery timeout lowered to 4 s so an 10 s outage outlasts it
    return Plan(DEMO, **{"rate": 6.0, "max_alive_s": 8.0, "outage_s": 10.0, "delivery_timeout_s": 4.0, "recluster_every": 40, **overrides})


@pytest.mark.parametrize("processes, kills", [(1, 4), (2, 2)], ids=["one-process", "two-processes"])
def test_killed_at_random_moments_every_promise_to_consumers_holds(tmp_path, processes, kills):
    result = run(_plan(kills=kills, processes=processes), tmp_path, log=lambda line: None)
    checks = result["checks"]
    assert checks["articles"] == len(DEMO) and checks["untagged"]["count"] == 0
    assert checks["conflicting_versions"]["count"] == 0, checks["conflicting_versions"]
    assert checks["ids_minted_twice"]["count"] == 0, checks["ids_minted_twice"]
    assert checks["not_in_a_live_story"]["count"] == 0, checks["not_in_a_live_story"]
    assert result["kills"] == kills and checks["redelivered"] > 0  # the kills did make it re-deliver
    assert result["final_exit_codes"] == [0] * processes
    assert [c["exit_codes"] for c in result["cycles"] if c["event"] == "sigterm"] == [[0] * processes]


def test_a_recreated_topic_is_refused_and_a_new_store_never_reuses_published_ids(broker, topics, tmp_path):
    env = storywire_env(broker, topics)
    assert storywire(["kafka", "init-topics", "--partitions", "2"], env).returncode == 0
    first, second = DEMO[:80], DEMO[80:]
    from replay import produce_archive

    produce_archive(first, {"bootstrap.servers": broker.bootstrap}, topics.articles)
    store = tmp_path / "store"
    service = Service(env, ["-r", str(store), "-s", "1"], log=tmp_path / "first.log")
    try:
        before = read_topic(broker.bootstrap, topics.tags, until=lambda r: {v["id"] for _, v in r} >= {a.parsed["id"] for a in first})
    finally:
        assert service.terminate() == 0

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_topics([topics.articles])[topics.articles].result()
    for _ in range(60):  # deletion completes in the background
        try:
            admin.create_topics([NewTopic(topics.articles, 2, 1)])[topics.articles].result()
            break
        except Exception:  # noqa: BLE001 - still marked for deletion
            time.sleep(1)

    refused = storywire(["run", "-r", str(store)], env, check=False, timeout=120)
    assert refused.returncode == 2
    assert f"recovery store {store} was written reading topic {topics.articles}" in refused.stderr
    assert "Move the recovery directory away to start afresh" in refused.stderr
    (store / "kafka-source.json").unlink()  # a store from before the identity record: its offsets still give it away
    refused = storywire(["run", "-r", str(store)], env, check=False, timeout=300)
    assert refused.returncode == 2
    assert f"the recovery store resumes {topics.articles}/" in refused.stderr and "but the log ends at 0" in refused.stderr

    produce_archive(second, {"bootstrap.servers": broker.bootstrap}, topics.articles)

    os.rename(store, tmp_path / "store.old")  # the recovery store is lost
    service = Service(env, ["-r", str(store), "-s", "1"], log=tmp_path / "second.log")
    try:
        tags = read_topic(broker.bootstrap, topics.tags, until=lambda r: {v["id"] for _, v in r} >= {a.parsed["id"] for a in DEMO})
    finally:
        assert service.terminate() == 0
    stories = read_topic(broker.bootstrap, topics.stories)
    report = check_outputs([a.parsed["id"] for a in DEMO], tags, stories)
    assert not report.conflicting_versions and not report.ids_minted_twice and not report.untagged
    old_ids = {v["story"]["id"] for _, v in before}
    new_ids = {v["story"]["id"] for _, v in tags if v["id"] in {a.parsed["id"] for a in second}} - old_ids
    assert new_ids, "the second run opened stories of its own"
    old_generation = {i.split("-")[1] for i in old_ids}
    assert all(i.split("-")[1] not in old_generation for i in new_ids)
    assert set(latest(tags)) >= {a.parsed["id"] for a in DEMO}


def test_offsets_deleted_by_retention_before_they_were_read_are_logged_and_counted(broker, topics, tmp_path):
    from confluent_kafka import TopicPartition

    from replay import produce_archive

    metrics_port = free_port_pair()
    env = storywire_env(broker, topics, STORYWIRE_METRICS__PORT=str(metrics_port))
    assert storywire(["kafka", "init-topics", "--partitions", "1"], env).returncode == 0
    produce_archive(DEMO[:20], {"bootstrap.servers": broker.bootstrap}, topics.articles)
    store = ["-r", str(tmp_path / "store"), "-s", "1"]
    service = Service(env, store, log=tmp_path / "first.log")
    try:
        read_topic(broker.bootstrap, topics.tags, until=lambda r: len(r) >= 20)
    finally:
        assert service.terminate() == 0
    produce_archive(DEMO[20:60], {"bootstrap.servers": broker.bootstrap}, topics.articles)  # offsets 20..59
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_records([TopicPartition(topics.articles, 0, 45)])[TopicPartition(topics.articles, 0, 45)].result()  # retention
    service = Service(env, store, log=tmp_path / "second.log")
    try:
        tags = read_topic(broker.bootstrap, topics.tags, until=lambda r: {a.parsed["id"] for a in DEMO[45:60]} <= {v["id"] for _, v in r})
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    finally:
        assert service.terminate() == 0
    log = (tmp_path / "second.log").read_text()
    assert f"{topics.articles}/0: offsets 20..44 were deleted (retention) before storywire read them: 25 records skipped" in log
    assert 'storywire_source_skipped_offsets_total{partition="0"} 25.0' in scraped
    assert not {a.parsed["id"] for a in DEMO[20:45]} & {v["id"] for _, v in tags}  # gone, and said so
