"""Archive readers: JSON lines (optionally gzipped) and the UCI News Aggregator dump.

A reader yields `ArchiveRecord`s: the raw line as bytes (so malformed records
still reach the flow's validation and its dead-letter output) with its line
number, plus the parsed object when the line is valid JSON (for protocols and
labels).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

FORMATS = ("jsonl", "uci")


@dataclass(frozen=True)
class ArchiveRecord:
    line: int  # 1-based line number in the archive
    payload: bytes
    parsed: dict[str, Any] | None  # None when the line is not a JSON object


def demo_firehose_path() -> Path:
    """The bundled demo firehose: 161 self-written articles about 22 events, plus malformed records."""
    return Path(str(resources.files("replay").joinpath("data", "demo-firehose.jsonl")))


def open_archive(path: str | Path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"archive {path} does not exist")
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def read_jsonl(path: str | Path) -> Iterator[ArchiveRecord]:
    """Every non-blank line of a JSON-lines archive, valid or not."""
    with open_archive(path) as f:
        for number, raw in enumerate(f, 1):
            payload = raw.rstrip(b"\r\n")
            if not payload.strip():
                continue
            yield parse_record(number, payload)


def read_outputs(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a run's output file (tags, stories, dead letters) as dicts; nothing when it does not exist.

    Not an archive reader: outputs are storywire's own valid JSON lines, read back for scoring and tools.
    """
    path = Path(path)
    if path.exists():
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def read_uci(path: str | Path) -> Iterator[ArchiveRecord]:
    """UCI News Aggregator records converted to storywire's input article schema.

    `timestamp` (crawl time, epoch ms) becomes `published_at`; `publisher` the
    source; `story` and `category` are kept for evaluation.
    """
    for record in read_jsonl(path):
        doc = record.parsed
        if doc is None:
            yield record
            continue
        article = {
            "id": doc.get("id"),
            "title": doc.get("title"),
            "url": doc.get("url"),
            "source": doc.get("publisher"),
            "published_at": doc.get("timestamp"),
            "lang": "en",
            "story": doc.get("story"),
            "category": doc.get("category"),
        }
        yield ArchiveRecord(record.line, json.dumps(article, ensure_ascii=False).encode("utf-8"), article)


def read_archive(path: str | Path, fmt: str = "jsonl") -> Iterator[ArchiveRecord]:
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "uci":
        return read_uci(path)
    raise ValueError(f"unknown archive format {fmt!r}; expected one of {', '.join(FORMATS)}")


def parse_record(line: int, payload: bytes) -> ArchiveRecord:
    """A record of raw bytes, with its parsed object when the bytes are a JSON object."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: the flow dead-letters it
        doc = None
    return ArchiveRecord(line, payload, doc if isinstance(doc, dict) else None)
