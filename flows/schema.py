"""Message contracts (schema version 1): input article, tagged article, story, dead letter.

Everything that crosses a process boundary is defined here, so producers and
consumers have one place to read. Validation is strict on the fields we use and
says exactly what is wrong; unknown fields are ignored so producers can add
fields without breaking us.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA_VERSION = 1
STRING_FIELDS = ("url", "source", "summary", "body", "lang")
MIN_EPOCH_MS = 0  # 1970; anything earlier is almost certainly a unit mistake
MAX_EPOCH_MS = 4102444800000  # 2100-01-01


class InvalidArticle(ValueError):
    """An input record that breaks the contract; the message names the field and the problem."""


@dataclass(frozen=True)
class RawRecord:
    """Bytes as a source delivered them, with where they came from (for dead letters)."""

    payload: bytes
    origin: str  # "file:<name>" or "kafka:<topic>"
    position: int  # line number in a file, offset in a Kafka partition
    received_at: float  # epoch seconds when the source read it
    partition: int | None = None  # Kafka partition


@dataclass(frozen=True)
class Article:
    """A validated input article."""

    id: str
    title: str
    published_at: float  # epoch seconds, UTC
    received_at: float
    origin: str
    position: int
    url: str | None = None
    source: str | None = None
    summary: str | None = None
    body: str | None = None
    lang: str | None = None
    body_truncated: bool = False

    @property
    def content_hash(self) -> str:
        """Hash of what the models see: a re-delivery with the same hash is a duplicate."""
        text = "\x1f".join(x or "" for x in (self.title, self.summary, self.body))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def text(self, max_chars: int | None = None) -> str:
        """Title, summary and body joined; what NER and the encoder read."""
        parts = [p for p in (self.title, self.summary, self.body) if p]
        joined = ". ".join(p.rstrip(". ") for p in parts)
        return joined[:max_chars] if max_chars else joined


@dataclass(frozen=True)
class DeadLetter:
    """A record we could not process, with the reason and enough to find and replay it.

    The raw bytes travel base64-encoded and capped (so the dead letter itself
    fits the broker's message size), with their full length and SHA-256.
    """

    reason: str
    origin: str
    position: int
    partition: int | None
    raw_base64: str
    raw_length: int
    raw_sha256: str
    raw_truncated: bool
    received_at: float
    article_id: str | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_raw(cls, record: RawRecord, reason: str, cap: int = 64 * 1024, article_id: str | None = None) -> "DeadLetter":
        return cls(
            reason=reason,
            origin=record.origin,
            position=record.position,
            partition=record.partition,
            raw_base64=base64.b64encode(record.payload[:cap]).decode("ascii"),
            raw_length=len(record.payload),
            raw_sha256=hashlib.sha256(record.payload).hexdigest(),
            raw_truncated=len(record.payload) > cap,
            received_at=record.received_at,
            article_id=article_id,
        )

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.raw_base64)

    @property
    def key(self) -> str:
        where = f"{self.origin}/{self.partition}" if self.partition is not None else self.origin
        return self.article_id or f"{where}@{self.position}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def decode_article(record: RawRecord, max_record_bytes: int, max_body_chars: int) -> Article:
    """Parse and validate one raw record, or raise InvalidArticle saying why."""
    size = len(record.payload)
    if size > max_record_bytes:
        raise InvalidArticle(f"record is {size} bytes, over the {max_record_bytes}-byte limit")
    try:
        text = record.payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArticle(f"not UTF-8: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArticle(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(doc, dict):
        raise InvalidArticle(f"expected a JSON object, got {_json_type(doc)}")

    article_id = doc.get("id")
    if article_id is None:
        raise InvalidArticle("missing required field 'id'")
    if not isinstance(article_id, str) or not article_id.strip():
        raise InvalidArticle(f"field 'id': expected a non-empty string, got {_describe(article_id)}")
    for name in ("title", *STRING_FIELDS):
        value = doc.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidArticle(f"field {name!r}: expected a string, got {_describe(value)}")
    title = (doc.get("title") or "").strip()
    body = doc.get("body") or None
    if not title and not body:
        raise InvalidArticle("needs a non-empty 'title' or 'body'")
    truncated = bool(body and len(body) > max_body_chars)
    return Article(
        id=article_id,
        title=title,
        published_at=parse_published_at(doc.get("published_at"), default=record.received_at),
        received_at=record.received_at,
        origin=record.origin,
        position=record.position,
        url=doc.get("url"),
        source=doc.get("source"),
        summary=doc.get("summary") or None,
        body=body[:max_body_chars] if truncated else body,
        lang=doc.get("lang"),
        body_truncated=truncated,
    )


def parse_published_at(value: Any, default: float) -> float:
    """RFC 3339 string with an offset, or epoch milliseconds; missing means `default`."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidArticle(f"field 'published_at': expected an RFC 3339 string or epoch ms, got {_describe(value)}")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidArticle(f"field 'published_at': {value!r} is not an RFC 3339 timestamp") from None
        if parsed.tzinfo is None:
            raise InvalidArticle(f"field 'published_at': {value!r} has no UTC offset (add 'Z' or '+hh:mm')")
        return parsed.timestamp()
    if not math.isfinite(value) or not MIN_EPOCH_MS <= value <= MAX_EPOCH_MS:
        raise InvalidArticle(f"field 'published_at': {value!r} is not epoch milliseconds between 1970 and 2100")
    return value / 1000.0


def iso(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now() -> float:
    return time.time()


@dataclass(frozen=True)
class ModelVersions:
    """Which models produced a record, so consumers can tell outputs of different runs apart."""

    ner: str
    encoder: str
    topics: str
    clustering: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class TaggedArticle:
    """The tags of one article version, as published on `article-tags`."""

    id: str
    version: int
    published_at: float
    processed_at: float
    received_at: float  # when the source read it: processed_at - received_at is storywire's latency
    title: str
    entities: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    story: dict[str, Any]
    models: ModelVersions
    lang: str | None = None
    body_truncated: bool = False
    flags: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "version": self.version,
            "published_at": iso(self.published_at),
            "processed_at": iso(self.processed_at),
            "received_at": iso(self.received_at),
            "title": self.title,
            "lang": self.lang,
            "body_truncated": self.body_truncated,
            "flags": self.flags,
            "entities": self.entities,
            "topics": self.topics,
            "story": self.story,
            "models": self.models.to_json(),
        }


def story_record(story: Any) -> dict[str, Any]:
    """A clustering Story as published on `story-clusters` (key: cluster_id)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster_id": story.story_id,
        "version": story.version,
        "status": story.status,
        "merged_into": story.merged_into,
        "size": story.size,
        "first_seen": iso(story.first_seen),
        "last_seen": iso(story.last_seen),
        "late": story.late,
        "representative_title": story.representative_title,
        "top_entities": story.top_entities(),
        "top_topics": story.top_topics(),
        "keywords": story.keywords(),
    }


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _describe(value: Any) -> str:
    shown = json.dumps(value)[:40]
    return f"{_json_type(value)} ({shown})"
