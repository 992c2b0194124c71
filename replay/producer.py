"""Replaying an archive into Kafka, paced by a fixed rate or by the articles' own clock.

Uses its own idempotent producer (replay never imports flows); takes a plain
librdkafka config dict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from replay import times
from replay.readers import ArchiveRecord


@dataclass(frozen=True)
class ProduceReport:
    sent: int
    failed: int
    seconds: float
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def published_ms(record: ArchiveRecord) -> float | None:
    """The record's published_at in epoch ms, when it has a readable one (a time without an offset is UTC)."""
    value = (record.parsed or {}).get("published_at")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return times.epoch_seconds(value) * 1000
        except ValueError:
            return None
    return None


def produce_archive(
    records: Iterable[ArchiveRecord],
    client_config: dict[str, str],
    topic: str,
    rate: float | None = None,
    speed: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ProduceReport:
    """Produce every record (raw bytes, keyed by id when it has one) and wait for delivery.

    `rate`: records per second. `speed`: K times the archive's own pace, from
    published_at (a record without a readable time is sent right away).
    """
    if rate is not None and speed is not None:
        raise ValueError("give either rate or speed, not both")
    from confluent_kafka import Producer

    producer = Producer({**client_config, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    failures: list[str] = []

    def delivered(error, message) -> None:
        if error is not None:
            failures.append(error.str())

    started, first_ms, count = clock(), None, 0
    for n, record in enumerate(records):
        first_ms = first_ms if first_ms is not None else published_ms(record)
        count = n + 1
        due = _due(n, record, rate, speed, first_ms)
        if due is not None:
            wait = started + due - clock()
            if wait > 0:
                sleep(wait)
        key = (record.parsed or {}).get("id")
        while True:
            try:
                producer.produce(topic, value=record.payload, key=str(key).encode() if key is not None else None, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        if on_progress is not None:
            on_progress(1)
    remaining = producer.flush(60)
    return ProduceReport(count - len(failures) - remaining, len(failures) + remaining, clock() - started, failures[0] if failures else None)


def _due(n: int, record: ArchiveRecord, rate: float | None, speed: float | None, first_ms: float | None) -> float | None:
    """Seconds after the start at which record n is due, or None for 'now'."""
    if rate:
        return n / rate
    if speed and first_ms is not None:
        t = published_ms(record)
        return None if t is None else max(0.0, (t - first_ms) / 1000 / speed)
    return None
