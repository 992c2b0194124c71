"""Kafka topics from the command line: create storywire's topics, follow one, tail it readably.

`storywire kafka init-topics` and `storywire tail`; `follow` is also how `export --from kafka` and
`dlq redrive --from-topic` read the output topics.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from typing import Iterator

from confluent_kafka import Consumer, KafkaException
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from flows.config import KafkaConfig
from flows.kafka import check_connectivity

log = logging.getLogger(__name__)


def init_topics(config: KafkaConfig, partitions: int | None = None) -> dict[str, str]:
    """Create the four topics where missing (idempotent); returns what happened per topic."""
    check_connectivity(config)
    admin = AdminClient(config.client_config())
    existing = admin.list_topics(timeout=config.connect_timeout_s).topics
    count = partitions or config.partitions
    wanted = {
        config.articles_topic: {},
        config.tags_topic: {},
        config.stories_topic: {"cleanup.policy": "compact"},
        config.dlq_topic: {},
    }
    result = {}
    new = [
        NewTopic(name, num_partitions=count, replication_factor=config.replication_factor, config=settings)
        for name, settings in wanted.items()
        if name not in existing
    ]
    for name, future in (admin.create_topics(new) if new else {}).items():
        try:
            future.result()
            result[name] = f"created ({count} partitions)"
        except KafkaException as exc:
            if exc.args[0].code() != ConfluentError.TOPIC_ALREADY_EXISTS:
                raise
            result[name] = "exists"
    for name in wanted:
        if name not in result:
            result[name] = f"exists ({len(existing[name].partitions)} partitions)"
    policy = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, config.stories_topic)])
    for future in policy.values():
        if future.result()["cleanup.policy"].value != "compact":
            result[config.stories_topic] += " WARNING: cleanup.policy is not compact"
    return result


def follow(
    config: KafkaConfig,
    topic: str,
    from_beginning: bool = True,
    group: str | None = None,
    idle_timeout_s: float | None = None,
    stop: threading.Event | None = None,
) -> Iterator[tuple[str | None, dict | None]]:
    """Yield (key, decoded JSON or None for a tombstone) from a topic, following it.

    Without `group` the consumer reads every partition from the chosen end and
    commits nothing; stops after `idle_timeout_s` without messages when given,
    or once `stop` is set.
    """
    check_connectivity(config, [topic])
    consumer = Consumer(
        {
            **config.client_config(),
            "group.id": group or f"storywire-tail-{time.time_ns()}",
            "enable.auto.commit": group is not None,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
        }
    )
    consumer.subscribe([topic])
    last = time.monotonic()
    try:
        while stop is None or not stop.is_set():
            message = consumer.poll(0.5)
            if message is None:
                if idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                    return
                continue
            if message.error():
                log.warning("Kafka error while following %s: %s", topic, message.error().str())
                continue
            last = time.monotonic()
            key = message.key().decode("utf-8", "replace") if message.key() else None
            yield key, json.loads(message.value()) if message.value() is not None else None
    finally:
        consumer.close()


def tail(config: KafkaConfig, topic: str, from_beginning: bool, group: str | None, idle_exit_s: float | None, raw_json: bool) -> None:
    """`storywire tail`: one line per record of `topic` (JSON with `raw_json`) until idle or SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for key, value in follow(config, topic, from_beginning, group, idle_exit_s, stop):
        print(json.dumps({"key": key, "value": value}, ensure_ascii=False) if raw_json else describe(key, value), flush=True)


def describe(key: str | None, value: dict | None) -> str:
    """One readable line for a tags, story or dead-letter record."""
    if value is None:
        return f"{key}  (tombstone: deleted)"
    if "cluster_id" in value:
        return (
            f"{value['cluster_id']} v{value['version']} {value['status']:<7} size {value['size']:>4}  "
            f"{value['representative_title']}  [{', '.join(value['top_entities'][:3])}]" + (f" -> {value['merged_into']}" if value.get("merged_into") else "")
        )
    if "story" in value:
        entities = ", ".join(e["canonical"] for e in value["entities"][:3])
        topics = ", ".join(t["label"] for t in value["topics"] if t["level"] == 1)
        return f"{value['id']} v{value['version']} story {value['story']['id']}  {value['title']}  [{entities}] ({topics})"
    return f"dead letter {key}: {value.get('reason')}"
