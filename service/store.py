"""The materialised view: stories, article tags, lineage and vectors in SQLite (WAL).

Records are applied as they come from `story-clusters`, `article-tags` and
`article-vectors` (files or Kafka), in any order and any number of times:
each key keeps its highest version, an older or repeated version changes
nothing. A story tombstone marks the story deleted (it then answers 404, or
its survivor when it was merged) and keeps its version, so a late
re-delivery cannot bring it back. Lineage edges (merged into, split from) are
kept for good: they are a few bytes per story.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replay.times import epoch_seconds

SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, merged_into TEXT,
    size INTEGER NOT NULL, first_seen REAL, last_seen REAL, title TEXT, search TEXT,
    record TEXT, deleted INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_last_seen ON stories(last_seen);
CREATE TABLE IF NOT EXISTS story_versions (
    id TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL, size INTEGER NOT NULL,
    last_seen REAL, merged_into TEXT, PRIMARY KEY (id, version)
);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, version INTEGER NOT NULL, story_id TEXT, published_at REAL,
    title TEXT, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_story ON articles(story_id, published_at);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE TABLE IF NOT EXISTS article_entities (article_id TEXT NOT NULL, name TEXT NOT NULL, label TEXT);
CREATE INDEX IF NOT EXISTS article_entities_article ON article_entities(article_id);
CREATE INDEX IF NOT EXISTS article_entities_name ON article_entities(name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS article_topics (article_id TEXT NOT NULL, code TEXT NOT NULL, label TEXT, direct INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS article_topics_article ON article_topics(article_id);
CREATE INDEX IF NOT EXISTS article_topics_code ON article_topics(code);
CREATE TABLE IF NOT EXISTS lineage (
    story_id TEXT NOT NULL, parent_id TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (story_id, parent_id, kind)
);
CREATE INDEX IF NOT EXISTS lineage_parent ON lineage(parent_id);
CREATE TABLE IF NOT EXISTS vectors (article_id TEXT PRIMARY KEY, content_hash TEXT, scale REAL NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS positions (source TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Change:
    """What one applied record changed, for the event stream and the vector index."""

    kind: str  # story | article | vector
    key: str
    story_id: str | None = None
    deleted: bool = False


class Store:
    """One SQLite database in WAL mode: a writer (the ingest thread) and readers (the API).

    Each thread gets its own connection; writes are serialised by a lock and
    committed per batch of records, so readers never see half a batch.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._write_lock:
            self.connection().executescript(SCHEMA)

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def writing(self) -> "_Transaction":
        return _Transaction(self)

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        return self.connection().execute(sql, params).fetchone()

    def position(self, source: str) -> int:
        row = self.one("SELECT position FROM positions WHERE source = ?", (source,))
        return 0 if row is None else int(row["position"])

    def journal_mode(self) -> str:
        return str(self.one("PRAGMA journal_mode")[0])


class _Transaction:
    """`with store.writing() as db:` one transaction under the writer lock."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._write_lock.acquire()
        db = self.store.connection()
        db.execute("BEGIN IMMEDIATE")
        return db

    def __exit__(self, exc_type, exc, tb) -> None:
        db = self.store.connection()
        try:
            if exc_type is None:
                db.execute("COMMIT")
            else:
                db.execute("ROLLBACK")
        finally:
            self.store._write_lock.release()


def _seconds(value: Any) -> float | None:
    return None if value is None else float(epoch_seconds(value))


def apply_story(db: sqlite3.Connection, key: str, record: dict | None, seq: int) -> Change | None:
    """A `story-clusters` record (None or {"tombstone": true}: delete the story)."""
    current = db.execute("SELECT version, deleted FROM stories WHERE id = ?", (key,)).fetchone()
    if record is None or record.get("tombstone"):
        if current is None or current["deleted"]:
            return None
        db.execute("UPDATE stories SET deleted = 1, seq = ? WHERE id = ?", (seq, key))
        db.execute("DELETE FROM story_versions WHERE id = ?", (key,))
        return Change("story", key, key, deleted=True)
    version = int(record["version"])
    if current is not None and (current["deleted"] or current["version"] >= version):
        return None
    search = " ".join(
        [record.get("representative_title") or "", *record.get("top_entities", []), *record.get("top_topics", []), *record.get("keywords", [])]
    ).lower()
    db.execute(
        "INSERT OR REPLACE INTO stories (id, version, status, merged_into, size, first_seen, last_seen, title, search, record, deleted, seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        (
            key,
            version,
            record["status"],
            record.get("merged_into"),
            int(record["size"]),
            _seconds(record.get("first_seen")),
            _seconds(record.get("last_seen")),
            record.get("representative_title"),
            search,
            json.dumps(record),
            seq,
        ),
    )
    db.execute(
        "INSERT OR IGNORE INTO story_versions (id, version, status, size, last_seen, merged_into) VALUES (?, ?, ?, ?, ?, ?)",
        (key, version, record["status"], int(record["size"]), _seconds(record.get("last_seen")), record.get("merged_into")),
    )
    if record.get("merged_into"):
        db.execute("INSERT OR IGNORE INTO lineage (story_id, parent_id, kind) VALUES (?, ?, 'merged')", (record["merged_into"], key))
    return Change("story", key, key)


def apply_article(db: sqlite3.Connection, key: str, record: dict | None) -> Change | None:
    """An `article-tags` record: the highest version per article wins (None: delete the article)."""
    current = db.execute("SELECT version, story_id FROM articles WHERE id = ?", (key,)).fetchone()
    if record is None:
        if current is None:
            return None
        _delete_article(db, key)
        return Change("article", key, current["story_id"], deleted=True)
    version = int(record["version"])
    if current is not None and current["version"] >= version:
        return None
    story = record.get("story") or {}
    story_id = story.get("id")
    _delete_article(db, key)
    db.execute(
        "INSERT INTO articles (id, version, story_id, published_at, title, record) VALUES (?, ?, ?, ?, ?, ?)",
        (key, version, story_id, _seconds(record.get("published_at")), record.get("title"), json.dumps(record)),
    )
    db.executemany(
        "INSERT INTO article_entities (article_id, name, label) VALUES (?, ?, ?)",
        {(key, e["canonical"], e.get("label")) for e in record.get("entities", [])},
    )
    topics = {}
    for topic in record.get("topics", []):
        topics[topic["code"]] = (topic.get("label"), 1)
        for ancestor in topic.get("ancestors", []):
            topics.setdefault(ancestor, (None, 0))
    db.executemany(
        "INSERT INTO article_topics (article_id, code, label, direct) VALUES (?, ?, ?, ?)",
        [(key, code, label, direct) for code, (label, direct) in topics.items()],
    )
    previous = story.get("previous_id")
    if previous and "story-split" in record.get("flags", []):
        db.execute("INSERT OR IGNORE INTO lineage (story_id, parent_id, kind) VALUES (?, ?, 'split')", (story_id, previous))
    return Change("article", key, story_id)


def apply_vector(db: sqlite3.Connection, key: str, record: dict | None) -> Change | None:
    """An `article-vectors` record: the article's embedding as int8 with its scale (None: delete)."""
    from service.vectors import decode_record

    if record is None:
        deleted = db.execute("DELETE FROM vectors WHERE article_id = ?", (key,)).rowcount
        return Change("vector", key, deleted=True) if deleted else None
    scale, data = decode_record(record)
    same = db.execute("SELECT 1 FROM vectors WHERE article_id = ? AND content_hash IS ?", (key, record.get("content_hash"))).fetchone()
    if same is not None:
        return None
    db.execute(
        "INSERT OR REPLACE INTO vectors (article_id, content_hash, scale, data) VALUES (?, ?, ?, ?)",
        (key, record.get("content_hash"), scale, data),
    )
    return Change("vector", key)


def _delete_article(db: sqlite3.Connection, key: str) -> None:
    for table, column in (("articles", "id"), ("article_entities", "article_id"), ("article_topics", "article_id")):
        db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))


def next_seq(db: sqlite3.Connection) -> int:
    """A counter that orders story changes (the event stream's ids)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
    seq = 1 + (int(row["value"]) if row else 0)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('seq', ?)", (str(seq),))
    return seq
