"""Replay protocols: how an archive is sliced and ordered before it is streamed.

`jitter` (see ../shared/data/README.md): take the first N UTC days with data,
sort by numeric id, add one normal(0, 12 h) offset per article drawn in that
order from numpy's default_rng(seed), and stream by the new published_at (ties
by id). Stories then spread over about two days and overlap, as in a live feed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterable, Iterator

import numpy as np

from replay.readers import ArchiveRecord

PROTOCOLS = ("none", "jitter")
JITTER_SD_MS = 12 * 3600 * 1000


def first_days(records: Iterable[ArchiveRecord], days: int) -> list[ArchiveRecord]:
    """Records whose published_at falls on the first `days` UTC calendar days that have data."""
    valid = [r for r in records if r.parsed is not None and isinstance(r.parsed.get("published_at"), (int, float))]
    day_of = {id(r): _utc_day(r.parsed["published_at"]) for r in valid}
    kept_days = set(sorted(set(day_of.values()))[:days])
    return [r for r in valid if day_of[id(r)] in kept_days]


def jitter(records: Iterable[ArchiveRecord], seed: int) -> list[ArchiveRecord]:
    """Apply the jitter protocol to records with an epoch-ms `published_at`, ordered by numeric id.

    Other records (malformed, or dated otherwise) go first, unchanged, so the
    flow's validation still sees and reports them.
    """
    records = list(records)
    movable = [r for r in records if r.parsed is not None and isinstance(r.parsed.get("published_at"), (int, float))]
    moved = {id(r) for r in movable}
    ordered = sorted(movable, key=lambda r: _numeric_id(r))
    offsets = np.random.default_rng(seed).normal(0.0, JITTER_SD_MS, size=len(ordered))
    shifted = []
    for record, offset in zip(ordered, offsets):
        doc = dict(record.parsed)
        doc["published_at"] = int(round(doc["published_at"] + offset))
        shifted.append(replace(record, payload=json.dumps(doc, ensure_ascii=False).encode("utf-8"), parsed=doc))
    passed_on = [r for r in records if id(r) not in moved]
    return passed_on + sorted(shifted, key=lambda r: (r.parsed["published_at"], _numeric_id(r)))


def apply_protocol(
    records: Iterable[ArchiveRecord], protocol: str = "none", seed: int = 1, days: int | None = None, limit: int | None = None
) -> Iterator[ArchiveRecord]:
    """Slice (first `days`, then at most `limit` records) and order an archive."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown replay protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    if days is not None:
        records = first_days(records, days)
    if protocol == "jitter":
        records = jitter(records, seed)
    for n, record in enumerate(records):
        if limit is not None and n >= limit:
            return
        yield record


def _utc_day(epoch_ms: float) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def _numeric_id(record: ArchiveRecord) -> tuple[int, str]:
    raw = str(record.parsed.get("id"))
    return (int(raw), raw) if raw.isdigit() else (2**63, raw)
