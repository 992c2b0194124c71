"""The live view: applies batches of output records to the store and keeps the vector index in step.

Every source (replay files, Kafka) hands `View.apply` a batch of
`(kind, key, record)` with kind "story", "article" or "vector"; one
transaction applies the batch and the source's new positions together, so a
restart resumes exactly after the last batch it stored. The vector index
holds the articles of the live window (`window_hours` of event time before
the newest article), and is rebuilt from the database at start-up.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
from dataclasses import dataclass

from service.centroids import StoryCentroids
from service.store import Change, Store, apply_article, apply_story, apply_vector, next_seq
from service.vectors import VectorIndex, dequantize

log = logging.getLogger(__name__)

KINDS = ("story", "article", "vector")


@dataclass(frozen=True)
class Item:
    """One record from a source: kind, key, and the JSON body (None: a tombstone)."""

    kind: str
    key: str
    record: dict | None


class View:
    """The store, the vector index over the live window, and a change counter readers can wait on."""

    def __init__(self, store: Store, dimension: int = 384, window_hours: float = 72.0) -> None:
        self.store = store
        self.window_s = window_hours * 3600
        self.index = VectorIndex(dimension)
        self.centroids = StoryCentroids()
        self._expiry: list[tuple[float, str]] = []  # (published_at, article id), a min-heap over the index's members
        self._published: dict[str, float] = {}
        self.changed = threading.Condition()
        self.generation = 0
        self.rejected = 0
        self._load_index()

    def _load_index(self) -> None:
        newest = self.watermark()
        rows = self.store.query("SELECT v.article_id, v.scale, v.data, a.published_at FROM vectors v LEFT JOIN articles a ON a.id = v.article_id")
        for row in rows:
            self._index_vector(row["article_id"], dequantize(row["scale"], row["data"]), row["published_at"])
        self._expire(newest)

    def watermark(self) -> float | None:
        """The view's clock: the newest published_at it holds (event time, so replays of old archives look live)."""
        row = self.store.one("SELECT MAX(published_at) AS t FROM articles")
        return None if row is None or row["t"] is None else float(row["t"])

    def apply(self, items: list[Item], positions: dict[str, int] | None = None) -> list[Change]:
        """Apply a batch and the sources' positions after it, in one transaction."""
        changes: list[Change] = []
        vectors: list[tuple[str, dict | None]] = []
        with self.store.writing() as db:
            for item in items:
                try:
                    change = self._apply_one(db, item)
                except (KeyError, TypeError, ValueError) as exc:
                    self.rejected += 1
                    log.warning("skipping a malformed %s record %r: %s", item.kind, item.key, exc)
                    continue
                if change is not None:
                    changes.append(change)
                    if item.kind == "vector":
                        vectors.append((item.key, item.record))
            for source, position in (positions or {}).items():
                db.execute("INSERT OR REPLACE INTO positions (source, position) VALUES (?, ?)", (source, position))
        for change in changes:
            if change.kind == "article" and change.deleted:
                self._unindex(change.key)
            elif change.kind == "article" and change.story_id is not None and change.key in self.index:
                self.centroids.move(change.key, change.story_id, self.index.vector(change.key))
        for key, record in vectors:
            if record is None:
                self._unindex(key)
            else:
                published = self.store.one("SELECT published_at FROM articles WHERE id = ?", (key,))
                stored = self.store.one("SELECT scale, data FROM vectors WHERE article_id = ?", (key,))
                when = published["published_at"] if published else _record_time(record)
                self._index_vector(key, dequantize(stored["scale"], stored["data"]), when)
        self._expire(self.watermark())
        if changes:
            with self.changed:
                self.generation += 1
                self.changed.notify_all()
        return changes

    def _apply_one(self, db, item: Item) -> Change | None:
        if item.kind == "story":
            return apply_story(db, item.key, item.record, next_seq(db))
        if item.kind == "article":
            return apply_article(db, item.key, item.record)
        if item.kind == "vector":
            return apply_vector(db, item.key, item.record)
        raise ValueError(f"unknown record kind {item.kind!r}; expected one of {', '.join(KINDS)}")

    def _index_vector(self, article_id: str, vector, published_at: float | None) -> None:
        if vector.shape[0] != self.index.dimension:
            log.warning("article %s: vector of %d dimensions, the index has %d; not indexed", article_id, vector.shape[0], self.index.dimension)
            return
        when = float(published_at) if published_at is not None else 0.0
        self._unindex(article_id)
        self.index.upsert(article_id, vector)
        story = self.store.one("SELECT story_id FROM articles WHERE id = ?", (article_id,))
        self.centroids.add(article_id, story["story_id"] if story else None, self.index.vector(article_id))
        self._published[article_id] = when
        heapq.heappush(self._expiry, (when, article_id))

    def _unindex(self, article_id: str) -> None:
        if article_id in self.index:
            self.centroids.remove(article_id, self.index.vector(article_id))
        self.index.remove(article_id)
        self._published.pop(article_id, None)

    def _expire(self, newest: float | None) -> None:
        """Drop articles older than the window from the index (the database keeps them)."""
        if newest is None:
            return
        horizon = newest - self.window_s
        while self._expiry and self._expiry[0][0] < horizon:
            when, article_id = heapq.heappop(self._expiry)
            if self._published.get(article_id) == when:
                self._unindex(article_id)

    def wait_for_change(self, generation: int, timeout_s: float) -> int:
        """Block until the generation passes `generation` or the timeout; returns the current one."""
        with self.changed:
            self.changed.wait_for(lambda: self.generation > generation, timeout_s)
            return self.generation


def _record_time(record: dict) -> float | None:
    from replay.times import epoch_seconds

    value = record.get("published_at")
    return epoch_seconds(value) if isinstance(value, str) else None


def parse_line(kind: str, line: str) -> Item:
    """One line of tags.jsonl, stories.jsonl or article-vectors.jsonl as an Item."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    key = record.get("cluster_id") if kind == "story" else record.get("id")
    if not isinstance(key, str):
        raise ValueError(f"{kind} record without its key")
    return Item(kind, key, None if record.get("tombstone") else record)
