"""Kafka plumbing for the flow: connectivity check, recovery-store check, articles source, our own sink.

Bytewax's KafkaSource is used for consuming (manual partition assignment,
offsets in the recovery store) but wrapped: it hangs forever on an unreachable
broker, so `check_connectivity` runs first with a timeout; its messages become
RawRecords; broker errors are decided here (transient ones are logged while
librdkafka reconnects, fatal ones stop the flow); and a shutdown request (the run's stop event) ends
the partitions so the dataflow drains, flushes and snapshots.

Bytewax's KafkaSink registers no delivery callback, so `KafkaRecordSink` is our
own: idempotent producer, acks=all, waits when the local queue is full. When
the broker is away longer than `kafka.delivery_timeout_s` it keeps the batch
and sends it again until the broker is back (the dataflow waits meanwhile, so
memory stays bounded; /healthz reports the outage); a delivery that can never
succeed (too large, not authorised) raises so the epoch is not committed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from bytewax.connectors.kafka import KafkaError, KafkaSource, KafkaSourceMessage
from bytewax.inputs import StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, Producer, TopicCollection, TopicPartition
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka.admin import AdminClient

from flows import logs, monitoring
from flows.config import ConfigError, KafkaConfig
from flows.schema import RawRecord

log = logging.getLogger(__name__)

IDLE_POLL = timedelta(milliseconds=20)  # how long an idle partition sleeps between polls


class BrokerUnreachable(RuntimeError):
    pass


class RecoveryMismatch(ConfigError):
    """The recovery store describes another input than the one Kafka holds now."""


SOURCE_IDENTITY = "kafka-source.json"  # in the recovery directory: which cluster and topic its offsets belong to


def source_identity(config: KafkaConfig) -> dict[str, str]:
    """The cluster id and the articles topic's id: both change when a broker's data or the topic is recreated."""
    admin = AdminClient(config.client_config())
    cluster = admin.describe_cluster(request_timeout=config.connect_timeout_s).result()
    (topic,) = admin.describe_topics(TopicCollection([config.articles_topic]), request_timeout=config.connect_timeout_s).values()
    return {"cluster_id": cluster.cluster_id, "topic": config.articles_topic, "topic_id": str(topic.result().topic_id)}


def check_recovery_store(config: KafkaConfig, directory: Path) -> None:
    """Refuse a recovery store written against another cluster or an earlier incarnation of the topic.

    Its offsets would point into a different log: records would be skipped, or
    read again and taken for duplicates. A store without the record (new, or
    older than this check) is stamped with the current identity.
    """
    path = Path(directory) / SOURCE_IDENTITY
    current = source_identity(config)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(current, indent=1) + "\n", encoding="utf-8")
        return
    recorded = json.loads(path.read_text(encoding="utf-8"))
    if recorded != current:
        raise RecoveryMismatch(
            f"recovery store {directory} was written reading topic {recorded.get('topic')} (id {recorded.get('topic_id')}) "
            f"on Kafka cluster {recorded.get('cluster_id')}, but {config.bootstrap_servers} now has topic {current['topic']} "
            f"(id {current['topic_id']}) on cluster {current['cluster_id']}: the topic or the broker's data was recreated, "
            f"or this is another cluster, so the store's offsets and state do not describe this input. Move the recovery "
            f"directory away to start afresh (story IDs and versions of the new run never collide with published ones), "
            f"or point kafka.bootstrap_servers at the cluster the store belongs to."
        )


def check_connectivity(config: KafkaConfig, topics: Iterable[str] = ()) -> None:
    """Fail fast, naming the bootstrap servers, if the cluster or a topic is not there."""
    admin = AdminClient(config.client_config())
    try:
        metadata = admin.list_topics(timeout=config.connect_timeout_s)
    except KafkaException as exc:
        raise BrokerUnreachable(
            f"cannot reach Kafka at {config.bootstrap_servers} within {config.connect_timeout_s:g}s "
            f"(kafka.bootstrap_servers / kafka.connect_timeout_s): {exc.args[0].str() if exc.args else exc}"
        ) from None
    missing = [t for t in topics if t not in metadata.topics]
    if missing:
        raise BrokerUnreachable(f"Kafka at {config.bootstrap_servers} has no topic(s) {', '.join(missing)}; create them with `storywire kafka init-topics`")


class _ArticlesPartition(StatefulSourcePartition[RawRecord, int | None]):
    """One Kafka partition as RawRecords; errors decided, shutdown honoured, no busy polling,
    and offsets that were never read (retention deleted them first) logged and counted."""

    def __init__(self, inner: StatefulSourcePartition, topic: str, partition: int, next_offset: int | None, stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop
        self._topic = topic
        self._partition = partition
        self._idle = False
        self._next = next_offset  # the offset expected next, when known

    def next_batch(self) -> list[RawRecord]:
        if self._stop.is_set():
            raise StopIteration
        now = time.time()
        batch = []
        for message in self._inner.next_batch():
            if isinstance(message, KafkaError):
                _decide(message.err, self._topic, self._partition)
                continue
            assert isinstance(message, KafkaSourceMessage)
            if self._next is not None and message.offset > self._next:
                skipped(self._topic, self._partition, self._next, message.offset)
            self._next = message.offset + 1
            batch.append(RawRecord(message.value or b"", f"kafka:{message.topic}", message.offset, now, message.partition))
        self._idle = not batch
        return batch

    def next_awake(self) -> datetime | None:
        return datetime.now(timezone.utc) + IDLE_POLL if self._idle else None

    def snapshot(self) -> int | None:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


def skipped(topic: str, partition: int, start: int, end: int) -> None:
    """Offsets start..end-1 were not read: log the range and count it."""
    log.warning(
        "%s/%d: offsets %d..%d were deleted (retention) before storywire read them: %d records skipped; reading on at %d (source.offset_reset)",
        topic,
        partition,
        start,
        end - 1,
        end - start,
        end,
    )
    monitoring.SKIPPED_OFFSETS.labels(str(partition)).inc(end - start)


def _decide(error: ConfluentError, topic: str, partition: int) -> None:
    """Retry (librdkafka reconnects by itself) unless the error is fatal."""
    if error.fatal() or error.code() in (ConfluentError.UNKNOWN_TOPIC_OR_PART, ConfluentError.TOPIC_AUTHORIZATION_FAILED):
        raise RuntimeError(f"Kafka error on {topic}/{partition}, stopping: {error.str()}")
    log.warning("Kafka error on %s/%d, retrying: %s", topic, partition, error.str())


class ArticlesSource(KafkaSource):
    """Bytewax's KafkaSource over the articles topic, yielding RawRecords; its partitions end once `stop` is set."""

    def __init__(
        self,
        config: KafkaConfig,
        starting_offset: str = "earliest",
        partition_offsets: dict[int, int] | None = None,
        offset_reset: str = "earliest",
        stop: threading.Event | None = None,
    ):
        self.config = config
        self.stop = stop or threading.Event()
        self.offset_reset = offset_reset
        self.starting_offset = starting_offset
        client = config.client_config()
        brokers = client.pop("bootstrap.servers").split(",")
        super().__init__(
            brokers,
            [config.articles_topic],
            tail=True,
            starting_offset=OFFSET_BEGINNING if starting_offset == "earliest" else OFFSET_END,
            add_config=client,
            batch_size=config.consumer_batch_size,
            raise_on_errors=False,
        )
        self.partition_offsets = partition_offsets or {}

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _ArticlesPartition:
        index, topic = for_part.split("-", 1)
        if resume_state is None and int(index) in self.partition_offsets:
            resume_state = self.partition_offsets[int(index)]  # explicit start, only without a snapshot
        elif resume_state is not None:
            resume_state = self._checked(topic, int(index), resume_state)
        shared = self._add_config  # bytewax 0.21.1 (pinned) also gives these to its admin client, a producer:
        self._add_config = {**shared, "auto.offset.reset": self.offset_reset}  # the consumer alone gets this one
        try:
            inner = super().build_part(step_id, for_part, resume_state)
        finally:
            self._add_config = shared
        start = f"offset {resume_state}" if resume_state is not None and resume_state >= 0 else f"the {self.starting_offset} offset"
        logs.lifecycle.info("consuming %s partition %s from %s", topic, index, start)
        return _ArticlesPartition(inner, topic, int(index), resume_state if resume_state is not None and resume_state >= 0 else None, self.stop)

    def _checked(self, topic: str, partition: int, offset: int) -> int:
        """A snapshotted offset against the log: past its end is refused, before its start is a skipped range."""
        consumer = Consumer({**self.config.client_config(), "group.id": "storywire-offset-check", "enable.auto.commit": False})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=self.config.connect_timeout_s)
        finally:
            consumer.close()
        if offset > high:
            raise RecoveryMismatch(
                f"the recovery store resumes {topic}/{partition} at offset {offset}, but the log ends at {high}: the topic "
                f"or the broker's data was recreated. Move the recovery directory away to start afresh, or point "
                f"kafka.bootstrap_servers at the cluster the store belongs to."
            )
        if offset < low:
            resume = low if self.offset_reset == "earliest" else high
            skipped(topic, partition, offset, resume)
            return resume
        return offset


class _ProducerPartition(StatelessSinkPartition[tuple[str, str | None]]):
    def __init__(self, config: KafkaConfig, topic: str, stop: threading.Event) -> None:
        self._topic = topic
        self._stop = stop
        self._timeout = config.delivery_timeout_s
        settings = config.client_config()
        settings.update(
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                "delivery.timeout.ms": int(config.delivery_timeout_s * 1000),
            }
        )
        self._producer = Producer(settings)
        self._failures: list[str] = []

    def _on_delivery(self, error, message) -> None:
        if error is not None:
            self._failures.append((message.key(), message.value(), error))

    def _produce(self, items: list[tuple[bytes, bytes | None]]) -> None:
        for key, payload in items:
            while True:
                try:
                    self._producer.produce(self._topic, key=key, value=payload, on_delivery=self._on_delivery)
                    break
                except BufferError:  # local queue full: wait for deliveries instead of crashing
                    self._producer.poll(0.1)

    def write_batch(self, items: list[tuple[str, str | None]]) -> None:
        started = time.time()
        self._produce([(key.encode("utf-8"), value.encode("utf-8") if value is not None else None) for key, value in items])
        outage_since = None
        while True:
            remaining = self._producer.flush(self._timeout)
            failures, self._failures = self._failures, []
            permanent = [f"key={k!r}: {e.str()}" for k, _, e in failures if _permanent(e)]
            if permanent:
                raise RuntimeError(
                    f"Kafka delivery to {self._topic} failed ({len(permanent)} records, first: {permanent[0]}); stopping so the epoch is not committed"
                )
            if not remaining and not failures:
                break
            if outage_since is None:
                outage_since = started
                monitoring.broker_outage(self._topic, outage_since)
            log.warning(
                "Kafka delivery to %s: %d records not delivered for %.0f s (%s); waiting for the broker, the flow is paused",
                self._topic,
                remaining + len(failures),
                time.time() - outage_since,
                failures[0][2].str() if failures else "in flight",
            )
            if self._stop.is_set():
                raise RuntimeError(f"stopping during a Kafka outage: this epoch's output to {self._topic} is not committed and is redone at the next start")
            self._produce([(k, v) for k, v, _ in failures])  # timed out: the same records again, in their order
        if outage_since is not None:
            log.warning("Kafka delivery to %s resumed after %.0f s", self._topic, time.time() - outage_since)
            monitoring.broker_outage(self._topic, None)

    def close(self) -> None:
        self._producer.flush(self._timeout)


def _permanent(error: ConfluentError) -> bool:
    """Errors that waiting for the broker cannot cure."""
    return error.fatal() or error.code() in (
        ConfluentError.MSG_SIZE_TOO_LARGE,
        ConfluentError.TOPIC_AUTHORIZATION_FAILED,
        ConfluentError.CLUSTER_AUTHORIZATION_FAILED,
        ConfluentError.INVALID_RECORD,
        ConfluentError._INVALID_ARG,
    )


class KafkaRecordSink(DynamicSink[tuple[str, str | None]]):
    """Writes (key, JSON or None) pairs to a topic with delivery guarantees (one producer per worker).

    During a broker outage it retries until delivered, unless `stop` (the run's shutdown request) is set.
    """

    def __init__(self, config: KafkaConfig, topic: str, stop: threading.Event | None = None) -> None:
        self.config = config
        self.topic = topic
        self.stop = stop or threading.Event()

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self.config, self.topic, self.stop)
