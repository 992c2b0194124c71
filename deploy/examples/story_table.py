"""Keep the current story table from the compacted `story-clusters` topic.

A downstream consumer in a consumer group: it reads the topic from the start
(compaction keeps the latest record per story), keeps the highest version per
story (re-deliveries are harmless), drops stories on tombstones, and commits
its offsets so a restart continues where it stopped.

    python deploy/examples/story_table.py --bootstrap localhost:9092 --group newsroom-ui
"""

from __future__ import annotations

import argparse
import json
import time

from confluent_kafka import Consumer


def follow_story_table(bootstrap: str, topic: str, group: str, idle_exit_s: float | None = None, table: dict | None = None) -> dict:
    """Apply every story record to `table` (cluster id -> latest story); returns it when idle."""
    table = {} if table is None else table
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": True})
    consumer.subscribe([topic])
    last_message = time.monotonic()
    try:
        while idle_exit_s is None or time.monotonic() - last_message < idle_exit_s:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            last_message = time.monotonic()
            story_id = message.key().decode()
            if message.value() is None:  # tombstone: the story was retired or merged a while ago
                table.pop(story_id, None)
                continue
            story = json.loads(message.value())
            if story_id not in table or story["version"] > table[story_id]["version"]:
                table[story_id] = story
    finally:
        consumer.close()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--topic", default="story-clusters")
    parser.add_argument("--group", default="story-table-example")
    parser.add_argument("--idle-exit", type=float, default=5.0, help="print the table after this many idle seconds")
    args = parser.parse_args()
    table = follow_story_table(args.bootstrap, args.topic, args.group, args.idle_exit)
    live = sorted((s for s in table.values() if s["status"] == "active"), key=lambda s: -s["size"])
    for story in live:
        print(f"{story['cluster_id']}  size {story['size']:>4}  {story['representative_title']}")
    print(f"{len(live)} active stories ({len(table)} known)")


if __name__ == "__main__":
    main()
