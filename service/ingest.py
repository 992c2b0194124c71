"""Sources that fill the view: the files a replay wrote, or the Kafka output topics.

Both deliver batches to `View.apply` together with their positions (byte
offsets of complete lines; Kafka offsets per partition), which are stored in
the same transaction. On restart a source resumes from the stored positions,
so nothing is applied twice; applying twice would be harmless anyway
(versions).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from service.view import Item, View, parse_line

log = logging.getLogger(__name__)

FILES = {"story": "stories.jsonl", "article": "tags.jsonl", "vector": "article-vectors.jsonl"}
BATCH_LINES = 2000


@dataclass
class FileSource:
    """Follows tags.jsonl, stories.jsonl and article-vectors.jsonl in a replay's output folder."""

    directory: Path
    poll_s: float = 0.5

    def positions_key(self, kind: str) -> str:
        return f"file:{(self.directory / FILES[kind]).resolve()}"

    def read_once(self, view: View) -> int:
        """Apply what the files gained since the stored positions; returns how many records."""
        total = 0
        for kind in ("story", "article", "vector"):
            path = self.directory / FILES[kind]
            if not path.exists():
                continue
            source = self.positions_key(kind)
            position = view.store.position(source)
            if path.stat().st_size < position:
                log.warning("%s is shorter than what was read (a new replay?); reading it again from the start", path)
                position = 0
            with path.open("rb") as handle:
                handle.seek(position)
                while True:
                    items, position = _read_lines(kind, handle, position)
                    if not items and view.store.position(source) == position:
                        break
                    view.apply(items, {source: position})
                    total += len(items)
                    if len(items) < BATCH_LINES:
                        break
        return total

    def follow(self, view: View, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.read_once(view)
            except OSError as exc:
                log.warning("reading %s: %s", self.directory, exc)
            stop.wait(self.poll_s)


def _read_lines(kind: str, handle, position: int) -> tuple[list[Item], int]:
    """Up to BATCH_LINES complete lines from `position`; a partial last line waits for its newline."""
    items: list[Item] = []
    while len(items) < BATCH_LINES:
        line = handle.readline()
        if not line.endswith(b"\n"):
            break
        position += len(line)
        text = line.decode("utf-8").strip()
        if not text:
            continue
        try:
            items.append(parse_line(kind, text))
        except (ValueError, json.JSONDecodeError) as exc:
            log.warning("skipping a bad line of %s: %s", FILES[kind], exc)
    return items, position


@dataclass
class KafkaSource:
    """A consumer group over the output topics; offsets live in the database with the view.

    Partitions assigned to this consumer start where the database says (else
    at the beginning), so a restart catches up without duplicates even if the
    database was restored from a copy; offsets are also committed to Kafka, so
    the group's lag shows in the usual tools.
    """

    client: dict[str, str]
    group: str
    topics: dict[str, str]  # topic -> record kind (article, story, vector)
    batch_size: int = 500

    def _consumer(self, view: View):
        from confluent_kafka import OFFSET_BEGINNING, Consumer

        consumer = Consumer(
            {**self.client, "group.id": self.group, "enable.auto.commit": False, "auto.offset.reset": "earliest", "allow.auto.create.topics": False}
        )

        def on_assign(c, partitions) -> None:
            for p in partitions:
                stored = view.store.one("SELECT position FROM positions WHERE source = ?", (_source(p.topic, p.partition),))
                p.offset = int(stored["position"]) if stored else OFFSET_BEGINNING
            c.assign(partitions)

        consumer.subscribe(list(self.topics), on_assign=on_assign)
        return consumer

    def follow(self, view: View, stop: threading.Event) -> None:
        consumer = self._consumer(view)
        try:
            while not stop.is_set():
                messages = consumer.consume(self.batch_size, timeout=0.5)
                items, positions = [], {}
                for message in messages:
                    if message.error():
                        log.warning("kafka: %s", message.error())
                        continue
                    positions[_source(message.topic(), message.partition())] = message.offset() + 1
                    item = self._item(message)
                    if item is not None:
                        items.append(item)
                if positions:
                    view.apply(items, positions)
                    consumer.commit(asynchronous=True)
        finally:
            consumer.close()

    def _item(self, message) -> Item | None:
        kind = self.topics[message.topic()]
        key = message.key().decode("utf-8") if message.key() else None
        if key is None:
            log.warning("kafka: a %s record without a key at %s/%d", message.topic(), message.partition(), message.offset())
            return None
        if message.value() is None:
            return Item(kind, key, None)
        try:
            return parse_line(kind, message.value().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("kafka: skipping a bad %s record at %s/%d: %s", message.topic(), message.partition(), message.offset(), exc)
            return None


def _source(topic: str, partition: int) -> str:
    return f"kafka:{topic}:{partition}"
