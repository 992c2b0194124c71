"""Message contracts (schema version 1): input article, tagged article, story, dead letter.

Everything that crosses a process boundary is defined here, so producers and
consumers have one place to read. Validation is strict on the fields we use and
says exactly what is wrong; unknown fields are ignored so producers can add
fields without breaking us.

Decoding is total: any byte string becomes an Article or an InvalidArticle
with a precise reason. msgspec parses and checks the fields' types and limits
(msgspec.Meta: `id` not blank, without control characters and at most
`limits.max_id_chars` long; `lang` a language tag; `published_at` epoch ms in
1970-2100 or a string of at most 64 characters); it rejects lone surrogate
escapes, NaN and out-of-range numbers, and skips unknown fields without
building them. A refused field is reported with its value, read back only
then. Nesting deeper than `limits.max_depth` is refused before parsing, so no
input can exhaust the stack; size and UTF-8 too. Control characters (NUL
included) are replaced by spaces in text fields. A `published_at` string is
read by `replay.times` and must carry its UTC offset.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Annotated, Any

import msgspec
import numpy as np
from msgspec import Meta

from flows.config import LimitsConfig
from replay import times

SCHEMA_VERSION = 1
STRING_FIELDS = ("url", "source", "summary", "body", "lang")
MIN_EPOCH_MS = 0  # 1970; anything earlier is almost certainly a unit mistake
MAX_EPOCH_MS = 4102444800000  # 2100-01-01
MAX_REASON_CHARS = 1000  # dead-letter reasons are bounded too
MAX_TIMESTAMP_CHARS = 64
UTF8_BOM = b"\xef\xbb\xbf"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 (but tab, LF, CR), DEL and C1
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_JSON_NAMES = {"array": "an array", "object": "an object", "str": "a string", "int": "a number", "float": "a number", "bool": "a boolean"}
_EXPECTED = {"id": "a non-empty string", "published_at": "an RFC 3339 string or epoch ms"}
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


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
    title_truncated: bool = False
    partition: int | None = None
    dated: bool = True  # False: the record had no published_at, which is then the time it was received
    # the bytes the source delivered: dead letters at every stage carry them, not a re-serialisation
    record: RawRecord | None = field(default=None, repr=False, compare=False)

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
    received_at: float  # epoch seconds; written as RFC 3339 (files before 2026-12 hold the float)
    article_id: str | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_raw(cls, record: RawRecord, reason: str, cap: int = 64 * 1024, article_id: str | None = None) -> "DeadLetter":
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 1] + "…"
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
        """The published dead letter: `received_at` in RFC 3339 like every time in tags and stories."""
        return {**asdict(self), "received_at": iso(self.received_at)}


EpochMs = Annotated[int, Meta(ge=MIN_EPOCH_MS, le=MAX_EPOCH_MS)] | Annotated[float, Meta(ge=MIN_EPOCH_MS, le=MAX_EPOCH_MS)]
Timestamp = Annotated[str, Meta(max_length=MAX_TIMESTAMP_CHARS)]  # parsed by replay.times after decoding
LanguageTag = Annotated[str, Meta(max_length=35, pattern=r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")]
_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"  # not blank, no control character


@lru_cache(maxsize=8)
def _decoder(max_id_chars: int) -> msgspec.json.Decoder:
    """The input fields storywire reads with their limits, as msgspec decodes and checks them (unknown fields are skipped)."""
    wire = msgspec.defstruct(
        "Wire",
        [
            ("id", Annotated[str, Meta(max_length=max_id_chars, pattern=_ID_PATTERN)]),
            ("title", str | None, None),
            ("published_at", EpochMs | Timestamp | None, None),
            ("url", str | None, None),
            ("source", str | None, None),
            ("summary", str | None, None),
            ("body", str | None, None),
            ("lang", LanguageTag | None, None),
        ],
    )
    return msgspec.json.Decoder(wire)


class _Quoted(msgspec.Struct):
    """The constrained fields as whatever JSON they hold: what a reason quotes when msgspec refused one."""

    id: Any = None
    published_at: Any = None
    lang: Any = None


def decode_article(record: RawRecord, max_record_bytes: int, max_body_chars: int) -> Article:
    """`decode_record` with the default limits but these two (evaluations read records of any size)."""
    return decode_record(record, LimitsConfig(max_record_bytes=max_record_bytes, max_body_chars=max_body_chars))


def decode_record(record: RawRecord, limits: LimitsConfig) -> Article:
    """Parse and validate one raw record, or raise InvalidArticle saying why."""
    size = len(record.payload)
    if size > limits.max_record_bytes:
        raise InvalidArticle(f"record is {size} bytes, over the {limits.max_record_bytes}-byte limit")
    payload = record.payload.removeprefix(UTF8_BOM)
    depth = nesting_depth(payload, limits.max_depth)
    if depth > limits.max_depth:
        raise InvalidArticle(f"JSON nested {depth} levels deep, over the limit of {limits.max_depth}")
    doc = _parse(payload, limits)
    title = _clean(doc.title or "").strip()
    body = _clean(doc.body) or None
    if not title and not body:
        raise InvalidArticle("needs a non-empty 'title' or 'body'")
    body_truncated = bool(body and len(body) > limits.max_body_chars)
    title_truncated = len(title) > limits.max_title_chars
    return Article(
        id=doc.id,
        title=title[: limits.max_title_chars] if title_truncated else title,
        published_at=parse_published_at(doc.published_at, default=record.received_at),
        dated=doc.published_at is not None,
        received_at=record.received_at,
        origin=record.origin,
        position=record.position,
        url=_clean(doc.url),
        source=_clean(doc.source),
        summary=_clean(doc.summary) or None,
        body=body[: limits.max_body_chars] if body_truncated else body,
        lang=doc.lang,
        body_truncated=body_truncated,
        title_truncated=title_truncated,
        partition=record.partition,
        record=record,
    )


def _parse(payload: bytes, limits: LimitsConfig) -> Any:
    """msgspec's verdict, worded as a field and what is wrong with it."""
    try:
        payload.decode("utf-8")  # msgspec would call some of these "not JSON"
    except UnicodeDecodeError as exc:
        raise InvalidArticle(f"not UTF-8: {exc}") from None
    try:
        return _decoder(limits.max_id_chars).decode(payload)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `$")
    except msgspec.DecodeError as exc:
        raise InvalidArticle(f"not JSON: {exc}") from None
    if message.startswith("Object missing required field"):
        raise InvalidArticle("missing required field 'id'")
    got = re.fullmatch(r"Expected `[^`]+`, got `(\w+)`", message)
    what = f"got {_JSON_NAMES.get(got.group(1), got.group(1))}" if got else message[:1].lower() + message[1:]
    if not path.startswith("."):
        raise InvalidArticle(f"expected a JSON object, {what}")
    name = path[1:].rstrip("`")
    if got:
        what = f"expected {_EXPECTED.get(name, 'a string')}, {what}"
    elif re.match(r"Expected `\w+` (of length|matching|[<>]=)", message):
        what = _refused(name, getattr(msgspec.json.decode(payload, type=_Quoted), name), limits)
    raise InvalidArticle(f"field {name!r}: {what}")


def _refused(name: str, value: Any, limits: LimitsConfig) -> str:
    """Why msgspec refused a constrained field, quoting the value."""
    if name == "id":
        if len(value) > limits.max_id_chars:
            return f"{len(value)} characters, over the limit of {limits.max_id_chars}"
        return f"contains a control character ({_first_control(value)})" if _ANY_CONTROL.search(value) else "expected a non-empty string"
    if name == "lang":
        return f"{value[:40]!r} is not a language tag such as 'en' or 'pt-BR'"
    if isinstance(value, str):  # published_at
        return f"{len(value)} characters is not an RFC 3339 timestamp"
    return f"{value!r} is not epoch milliseconds between 1970 and 2100"


def nesting_depth(payload: bytes, quick_limit: int) -> int:
    """How deeply arrays and objects nest (brackets inside strings do not count).

    Most records hold fewer brackets than the limit, which bounds their depth
    without a scan; otherwise strings are blanked and the depth is a running sum.
    """
    brackets = payload.count(b"[") + payload.count(b"{")
    if brackets <= quick_limit:
        return brackets
    codes = np.frombuffer(_JSON_STRING.sub(b'""', payload), dtype=np.uint8)
    steps = np.isin(codes, (0x5B, 0x7B)).astype(np.int32) - np.isin(codes, (0x5D, 0x7D)).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def _clean(text: str | None) -> str | None:
    """Control characters (NUL, escape codes) become spaces; tab and line breaks stay."""
    return _CONTROL.sub(" ", text) if text else text


def _first_control(text: str) -> str:
    match = _ANY_CONTROL.search(text)
    return f"U+{ord(match.group()):04X}" if match else ""


def parse_published_at(value: int | float | str | None, default: float) -> float:
    """Epoch seconds of a decoded RFC 3339 string with an offset (between 1970 and 2100) or epoch ms; None: `default`."""
    if value is None:
        return default
    if isinstance(value, str):
        try:
            seconds = times.epoch_seconds(value, require_offset=True)
        except times.NoOffset:
            raise InvalidArticle(f"field 'published_at': {value!r} has no UTC offset (add 'Z' or '+hh:mm')") from None
        except times.OutOfRange:
            seconds = math.inf
        except ValueError:
            raise InvalidArticle(f"field 'published_at': {value!r} is not an RFC 3339 timestamp") from None
        if not MIN_EPOCH_MS <= seconds * 1000 < MAX_EPOCH_MS:
            raise InvalidArticle(f"field 'published_at': {value!r} is not between 1970 and 2100")
        return seconds
    return value / 1000.0  # epoch ms, in range: the decoder checked it


def iso(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds (the format of every time storywire writes)."""
    return times.rfc3339(ts)


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
