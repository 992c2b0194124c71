"""A run's outputs as partitioned Parquet: the training-data layout for topic heads and same-story pairs.

    EXPORT/tags/day=YYYY-MM-DD/*.parquet     every tag record (all versions), by UTC day of published_at
    EXPORT/stories/day=YYYY-MM-DD/*.parquet  every story record (all versions, tombstones too), by day of last_seen
    EXPORT/labels/*.parquet                  true labels of the exported articles, where the archive has them
    EXPORT/run.json                          the run's metrics.json and what was exported

The schemas are below (README, "storywire export", lists them); readers get
columns by name, so later columns can be added without breaking them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

import pyarrow as pa

from replay import times
from replay.output_scores import resolve, top_topic

ENTITY = pa.struct([("text", pa.string()), ("label", pa.string()), ("canonical", pa.string()), ("count", pa.int32()), ("in_title", pa.bool_())])
TOPIC = pa.struct([("code", pa.string()), ("label", pa.string()), ("level", pa.int32()), ("score", pa.float64()), ("ancestors", pa.list_(pa.string()))])
TIME = pa.timestamp("ms", tz="UTC")
TAGS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("version", pa.int64()),
        ("published_at", TIME),
        ("processed_at", TIME),
        ("title", pa.string()),
        ("lang", pa.string()),
        ("flags", pa.list_(pa.string())),
        ("entities", pa.list_(ENTITY)),
        ("topics", pa.list_(TOPIC)),
        ("top_topic", pa.string()),
        ("top_topic_label", pa.string()),  # highest-scoring level-1 topic
        ("story_id", pa.string()),
        ("story_score", pa.float64()),
        ("story_is_new", pa.bool_()),
        ("final_story_id", pa.string()),  # story_id with merges followed to the survivor, over the whole export
        ("models", pa.map_(pa.string(), pa.string())),
        ("day", pa.string()),
    ]
)
STORIES_SCHEMA = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("version", pa.int64()),
        ("tombstone", pa.bool_()),
        ("status", pa.string()),
        ("merged_into", pa.string()),
        ("size", pa.int64()),
        ("first_seen", TIME),
        ("last_seen", TIME),
        ("late", pa.bool_()),
        ("representative_title", pa.string()),
        ("top_entities", pa.list_(pa.string())),
        ("top_topics", pa.list_(pa.string())),
        ("keywords", pa.list_(pa.string())),
        ("day", pa.string()),
    ]
)
LABELS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("event", pa.string()),  # the true story (the archive's --label-field)
        ("category", pa.string()),  # the archive's topic category (--topic-field), as written there
        ("topic_code", pa.string()),  # ... mapped to a taxonomy code (--topic-mapping)
    ]
)
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ExportReport:
    tags: int
    stories: int
    labels: int
    days: int


def _time(iso: str | None) -> datetime | None:
    return times.parse(iso) if iso else None


def _day(iso: str | None) -> str | None:
    return iso[:10] if iso else None


def tag_row(tag: dict[str, Any], merged_into: dict[str, str]) -> dict[str, Any]:
    best = top_topic(tag)
    story = tag["story"]
    return {
        "id": tag["id"],
        "version": tag["version"],
        "published_at": _time(tag.get("published_at")),
        "processed_at": _time(tag.get("processed_at")),
        "title": tag.get("title"),
        "lang": tag.get("lang"),
        "flags": tag.get("flags") or [],
        "entities": [{k: e.get(k) for k in ENTITY.names} for e in tag.get("entities", [])],
        "topics": [{k: t.get(k) for k in TOPIC.names} for t in tag.get("topics", [])],
        "top_topic": best[0] if best else None,
        "top_topic_label": best[1] if best else None,
        "story_id": story["id"],
        "story_score": story.get("score"),
        "story_is_new": story.get("is_new"),
        "final_story_id": resolve(story["id"], merged_into),
        "models": list((tag.get("models") or {}).items()),
        "day": _day(tag.get("published_at")),
    }


def story_rows(stories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Story records as rows; a tombstone takes the day of its story's last record."""
    last_day: dict[str, str | None] = {}
    rows = []
    for story in stories:
        if story.get("tombstone"):
            rows.append({"cluster_id": story["cluster_id"], "tombstone": True, "day": last_day.get(story["cluster_id"])})
            continue
        row = {k: story.get(k) for k in STORIES_SCHEMA.names if k not in ("first_seen", "last_seen", "day")}
        row.update(tombstone=False, first_seen=_time(story.get("first_seen")), last_seen=_time(story.get("last_seen")), day=_day(story.get("last_seen")))
        last_day[story["cluster_id"]] = row["day"]
        rows.append(row)
    return rows


def _batches(rows: Iterable[dict], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(chunk, schema=schema)
            chunk = []
    if chunk:
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)


def write_table(rows: Iterable[dict], schema: pa.Schema, directory: Path, partitioned: bool = True) -> None:
    """Rows as Parquet files under `directory` (hive-partitioned by `day` when asked); replaces what was there."""
    import pyarrow.dataset as ds

    ds.write_dataset(
        _batches(rows, schema),
        directory,
        schema=schema,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("day", pa.string())]), flavor="hive") if partitioned else None,
        existing_data_behavior="delete_matching",
        max_rows_per_group=BATCH_ROWS,
    )


def write_export(
    tags: Iterable[dict[str, Any]], stories: list[dict[str, Any]], labels: dict[str, dict[str, str | None]], out: Path, run: dict[str, Any]
) -> ExportReport:
    """Write the three tables and run.json; `tags` is streamed, `stories` (all versions) and `labels` (by id) fit in memory."""
    out.mkdir(parents=True, exist_ok=True)
    merged_into = {s["cluster_id"]: s["merged_into"] for s in stories if s.get("merged_into")}
    ids: set[str] = set()
    days: set[str] = set()

    def rows() -> Iterator[dict]:
        for tag in tags:
            row = tag_row(tag, merged_into)
            ids.add(row["id"])
            days.add(row["day"])
            yield row

    write_table(rows(), TAGS_SCHEMA, out / "tags")
    write_table(story_rows(stories), STORIES_SCHEMA, out / "stories")
    label_rows = [{"id": i, **labels[i]} for i in sorted(ids) if i in labels]
    write_table(label_rows, LABELS_SCHEMA, out / "labels", partitioned=False)
    report = ExportReport(len(ids), len(stories), len(label_rows), len(days))
    (out / "run.json").write_text(json.dumps({**run, "export": report.__dict__}, indent=2) + "\n")
    return report


def read_training_rows(export: Path) -> Iterator[dict[str, Any]]:
    """Each exported article once (its latest version) joined with its labels: title, published_at (epoch ms),
    final_story_id, top_topic, event, category, topic_code; what `taxonomy train` and `encoder finetune` read."""
    import pyarrow.dataset as ds

    tags = ds.dataset(export / "tags", format="parquet", partitioning="hive").to_table(
        columns=["id", "version", "title", "published_at", "final_story_id", "top_topic"]
    )
    labels_dir = export / "labels"
    labels = {}
    if labels_dir.exists():
        labels = {r["id"]: r for r in ds.dataset(labels_dir, format="parquet").to_table().to_pylist()}
    latest: dict[str, dict] = {}
    for row in tags.to_pylist():
        if row["id"] not in latest or row["version"] >= latest[row["id"]]["version"]:
            latest[row["id"]] = row
    for article in sorted(latest, key=lambda i: (latest[i]["published_at"] is None, latest[i]["published_at"], i)):
        row = latest[article]
        published = row["published_at"]
        yield {**labels.get(article, {}), **row, "published_at": int(published.timestamp() * 1000) if published else None}


def archive_labels(
    records: Iterable[dict | None], label_field: str | None, topic_field: str | None, mapping: dict[str, str | None]
) -> dict[str, dict[str, str | None]]:
    """event, category and topic_code by article id, for the archive's records that carry any of them."""
    labels = {}
    for doc in records:
        if doc is None or doc.get("id") is None:
            continue
        event = doc.get(label_field) if label_field else None
        category = doc.get(topic_field) if topic_field else None
        if event is None and category is None:
            continue
        category = None if category is None else str(category)
        labels[str(doc["id"])] = {
            "event": None if event is None else str(event),
            "category": category,
            "topic_code": mapping.get(category) if category is not None else None,
        }
    return labels
