"""Replay protocols: how an archive is sliced and ordered before it is streamed.

`jitter` (see ../shared/data/README.md): take the first N UTC days with data,
sort by numeric id, add one normal(0, 12 h) offset per article drawn in that
order from numpy's default_rng(seed), and stream by the new published_at (ties
by id). Stories then spread over about two days and overlap, as in a live feed.

`shuffle`: the records in the order `random.Random(seed).shuffle` gives the
file's list, times unchanged: the protocol for undated sets such as ECB+.

A protocol yields a plan (where each record sits in the archive and its new
published_at) from one pass that keeps only ids and times, so a long archive
is ordered without holding its records in memory.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from typing import Iterable, Iterator, NamedTuple

import numpy as np

from replay.readers import ArchiveRecord
from replay.times import utc_day

PROTOCOLS = ("none", "jitter", "shuffle")
JITTER_SD_MS = 12 * 3600 * 1000
_UNCHANGED = np.iinfo(np.int64).min  # in ReplayPlan.published_at: the record keeps its own time


@dataclass(frozen=True)
class Slot:
    """One record of a replay: its position in the archive and its published_at after the protocol (None: unchanged)."""

    position: int
    published_at: int | None = None


@dataclass(frozen=True)
class ReplayPlan:
    """The slots of a replay as two arrays: 16 bytes per record, where a list of `Slot`s costs about 220."""

    positions: np.ndarray  # int64
    published_at: np.ndarray  # int64 epoch ms; _UNCHANGED where the protocol keeps the record's time

    @classmethod
    def of(cls, positions: list[int], published_at: list[int | None]) -> "ReplayPlan":
        times = [_UNCHANGED if t is None else t for t in published_at]
        return cls(np.array(positions, dtype=np.int64), np.array(times, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self) -> Iterator[Slot]:
        for position, published in zip(self.positions, self.published_at):
            yield Slot(int(position), None if published == _UNCHANGED else int(published))

    def head(self, limit: int | None) -> "ReplayPlan":
        """The first `limit` slots (all of them for None)."""
        return self if limit is None else ReplayPlan(self.positions[:limit].copy(), self.published_at[:limit].copy())


class _Stamp(NamedTuple):
    position: int
    key: tuple[int, str] | None  # numeric id order; None when the record has no epoch published_at
    published_at: float | None


def plan_replay(records: Iterable[ArchiveRecord], protocol: str = "none", seed: int = 1, days: int | None = None, limit: int | None = None) -> ReplayPlan:
    """Slice (first `days`, then at most `limit` records) and order an archive, reading it once."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown replay protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    stamps = [_stamp(position, record) for position, record in enumerate(records)]
    if days is not None:
        stamps = _first_days(stamps, days)
    if protocol == "jitter":
        plan = _jitter(stamps, seed)
    else:
        positions = [s.position for s in stamps]
        if protocol == "shuffle":
            random.Random(seed).shuffle(positions)
        plan = ReplayPlan.of(positions, [None] * len(positions))
    return plan.head(limit)


def apply_slot(record: ArchiveRecord, slot: Slot) -> ArchiveRecord:
    """The record as the replay streams it: with its new published_at, if the protocol moved it."""
    if slot.published_at is None:
        return record
    doc = {**record.parsed, "published_at": slot.published_at}
    # surrogatepass: a lone surrogate escape in the archive reaches the flow (and its dead letters) instead of stopping the replay
    return replace(record, payload=json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass"), parsed=doc)


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
    day_of = {s.position: utc_day(s.published_at / 1000) for s in dated}
    kept_days = set(sorted(set(day_of.values()))[:days])
    return [s for s in dated if day_of[s.position] in kept_days]


def _jitter(stamps: list[_Stamp], seed: int) -> ReplayPlan:
    """Jittered, re-ordered slots for records with an epoch-ms `published_at`.

    Other records (malformed, or dated otherwise) go first, unchanged, so the
    flow's validation still sees and reports them.
    """
    ordered = sorted((s for s in stamps if s.key is not None), key=lambda s: s.key)
    offsets = np.random.default_rng(seed).normal(0.0, JITTER_SD_MS, size=len(ordered))
    shifted = sorted(
        ((int(round(s.published_at + offset)), s.key, s.position) for s, offset in zip(ordered, offsets)),
    )
    undated = [s.position for s in stamps if s.key is None]
    return ReplayPlan.of(undated + [position for _, _, position in shifted], [None] * len(undated) + [t for t, _, _ in shifted])
