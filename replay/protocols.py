"""Replay protocols: how an archive is sliced and ordered before it is streamed.

`jitter` (see ../shared/data/README.md): take the first N UTC days with data,
sort by numeric id, add one normal(0, 12 h) offset per article drawn in that
order from numpy's default_rng(seed), and stream by the new published_at (ties
by id). Stories then spread over about two days and overlap, as in a live feed.

A protocol yields a plan (`Slot`s: where each record sits in the archive and
its new published_at) from one pass that keeps only ids and times, so a long
archive is ordered without holding its records in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Iterable, NamedTuple

import numpy as np

from replay.readers import ArchiveRecord

PROTOCOLS = ("none", "jitter")
JITTER_SD_MS = 12 * 3600 * 1000


@dataclass(frozen=True)
class Slot:
    """One record of a replay: its position in the archive and its published_at after the protocol (None: unchanged)."""

    position: int
    published_at: int | None = None


class _Stamp(NamedTuple):
    position: int
    key: tuple[int, str] | None  # numeric id order; None when the record has no epoch published_at
    published_at: float | None


def plan_replay(
    records: Iterable[ArchiveRecord], protocol: str = "none", seed: int = 1, days: int | None = None, limit: int | None = None
) -> list[Slot]:
    """Slice (first `days`, then at most `limit` records) and order an archive, reading it once."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown replay protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    stamps = [_stamp(position, record) for position, record in enumerate(records)]
    if days is not None:
        stamps = _first_days(stamps, days)
    slots = _jitter(stamps, seed) if protocol == "jitter" else [Slot(s.position) for s in stamps]
    return slots if limit is None else slots[:limit]


def apply_slot(record: ArchiveRecord, slot: Slot) -> ArchiveRecord:
    """The record as the replay streams it: with its new published_at, if the protocol moved it."""
    if slot.published_at is None:
        return record
    doc = {**record.parsed, "published_at": slot.published_at}
    return replace(record, payload=json.dumps(doc, ensure_ascii=False).encode("utf-8"), parsed=doc)


def apply_protocol(
    records: Iterable[ArchiveRecord], protocol: str = "none", seed: int = 1, days: int | None = None, limit: int | None = None
) -> list[ArchiveRecord]:
    """The replay of a small archive held in memory (a long one streams from `replay.spool`)."""
    records = list(records)
    return [apply_slot(records[slot.position], slot) for slot in plan_replay(records, protocol, seed, days, limit)]


def _stamp(position: int, record: ArchiveRecord) -> _Stamp:
    published = record.parsed.get("published_at") if record.parsed is not None else None
    if not isinstance(published, (int, float)) or isinstance(published, bool):
        return _Stamp(position, None, None)
    raw = str(record.parsed.get("id"))
    return _Stamp(position, (int(raw), raw) if raw.isdigit() else (2**63, raw), published)


def _first_days(stamps: list[_Stamp], days: int) -> list[_Stamp]:
    """Records whose published_at falls on the first `days` UTC calendar days that have data."""
    dated = [s for s in stamps if s.key is not None]
    day_of = {s.position: _utc_day(s.published_at) for s in dated}
    kept_days = set(sorted(set(day_of.values()))[:days])
    return [s for s in dated if day_of[s.position] in kept_days]


def _jitter(stamps: list[_Stamp], seed: int) -> list[Slot]:
    """Jittered, re-ordered slots for records with an epoch-ms `published_at`.

    Other records (malformed, or dated otherwise) go first, unchanged, so the
    flow's validation still sees and reports them.
    """
    ordered = sorted((s for s in stamps if s.key is not None), key=lambda s: s.key)
    offsets = np.random.default_rng(seed).normal(0.0, JITTER_SD_MS, size=len(ordered))
    shifted = sorted(
        ((int(round(s.published_at + offset)), s.key, s.position) for s, offset in zip(ordered, offsets)),
    )
    return [Slot(s.position) for s in stamps if s.key is None] + [Slot(position, t) for t, _, position in shifted]


def _utc_day(epoch_ms: float) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
