"""The story service's Kafka source against the real broker: it fills the view with a consumer group,
and after a restart on the same database it catches up from where it stopped, without reading twice."""

from __future__ import annotations

import base64
import json
import threading
import time

import numpy as np
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from service.ingest import KafkaSource
from service.queries import story_detail
from service.store import Store
from service.view import View

pytestmark = pytest.mark.slow  # starts a broker


class CountingView(View):
    """A view that counts the records its source hands it."""

    consumed = 0

    def apply(self, items, positions=None):
        self.consumed += len(items)
        return super().apply(items, positions)


def story(cluster_id: str, version: int, status: str = "active", merged_into: str | None = None) -> dict:
    return {
        "cluster_id": cluster_id,
        "version": version,
        "status": status,
        "merged_into": merged_into,
        "size": 1,
        "first_seen": "2026-03-01T00:00:00Z",
        "last_seen": "2026-03-01T01:00:00Z",
        "representative_title": cluster_id,
        "top_entities": [],
        "top_topics": [],
        "keywords": [],
    }


def article(article_id: str, story_id: str) -> dict:
    return {
        "id": article_id,
        "version": 1,
        "published_at": "2026-03-01T01:00:00Z",
        "title": article_id,
        "flags": [],
        "entities": [],
        "topics": [],
        "story": {"id": story_id, "score": 1.0, "is_new": True},
    }


def vector(article_id: str, seed: int) -> dict:
    values = np.random.default_rng(seed).normal(size=384)
    scale = float(np.abs(values).max()) / 127
    data = base64.b64encode(np.round(values / scale).astype(np.int8).tobytes()).decode()
    return {"id": article_id, "content_hash": str(seed), "published_at": "2026-03-01T01:00:00Z", "dtype": "int8", "scale": scale, "vector": data}


def produce(bootstrap: str, messages: list[tuple[str, str, dict | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for topic, key, value in messages:
        producer.produce(topic, key=key.encode(), value=None if value is None else json.dumps(value).encode())
    assert producer.flush(30) == 0


def follow_until(view: View, source: KafkaSource, done, settle_s: float = 0.0, timeout_s: float = 60) -> None:
    """Follow until `done()`, then `settle_s` longer (for anything that would arrive twice)."""
    stop = threading.Event()
    thread = threading.Thread(target=source.follow, args=(view, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(settle_s if done() else 0.0)
    finally:
        stop.set()
        thread.join(30)
    assert done(), "the view did not catch up in time"


def test_service_fills_from_kafka_and_resumes_after_a_restart_without_duplicates(broker, topics, tmp_path):
    names = {f"{topics.prefix}.article-tags": "article", f"{topics.prefix}.story-clusters": "story", f"{topics.prefix}.article-vectors": "vector"}
    tags, stories, vectors = names
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1) for t in names]).values():
        future.result(30)
    first = [(stories, f"s{i}", story(f"s{i}", 1)) for i in range(1, 4)]
    first += [(tags, f"a{i}", article(f"a{i}", f"s{i}")) for i in range(1, 4)]
    first += [(vectors, f"a{i}", vector(f"a{i}", i)) for i in range(1, 4)]
    first += [(stories, "s1", story("s1", 1))]  # an at-least-once re-delivery
    produce(broker.bootstrap, first)
    client = {"bootstrap.servers": broker.bootstrap}
    database = tmp_path / "view.sqlite"

    view = CountingView(Store(database))
    follow_until(view, KafkaSource(client, "service-test", names), lambda: view.consumed == len(first))
    assert view.store.one("SELECT COUNT(*) FROM stories")[0] == 3 and len(view.index) == 3

    second = [
        (stories, "s2", story("s2", 2, "merged", "s1")),
        (stories, "s3", None),
        (stories, "s1", story("s1", 1)),
        (tags, "a4", article("a4", "s1")),
        (vectors, "a4", vector("a4", 4)),
    ]
    produce(broker.bootstrap, second)
    again = CountingView(Store(database))  # a restart: same database, same group
    assert len(again.index) == 3
    follow_until(again, KafkaSource(client, "service-test", names), lambda: again.consumed >= len(second), settle_s=3)
    assert again.consumed == len(second)
    assert story_detail(again.store, "s2")["id"] == "s1"
    assert again.store.one("SELECT deleted FROM stories WHERE id = 's3'")[0] == 1
    assert again.store.one("SELECT COUNT(*) FROM articles")[0] == 4 and len(again.index) == 4
