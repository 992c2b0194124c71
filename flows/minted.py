"""A write-ahead record of the story IDs a shard may have published, kept next to the recovery store.

A run that crashes loses everything after its last snapshot, including the
stories it opened meanwhile: the restored run re-tags their articles into
stories of its own, and the lost stories would stay `active` on the compacted
topic with no article. To delete them, the restored run must know their IDs.
IDs are `{shard}-{generation}-{n}` with n counting on from the snapshot, so the
lost ones are, per generation since the snapshot's, n above the snapshot's
count up to the highest n that generation published. This file keeps that
highest n, reserved in blocks and written (fsync'd) before any record naming
the IDs leaves the process; the restored run sends a tombstone for each ID in
the lost ranges (one for an ID that was reserved but never used deletes
nothing). A run restored from no snapshot at all only deletes the stories of
runs that never took one (they crashed before it): when a store's snapshots
were deleted, its runs' stories are the ones its published articles name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

BLOCK = 16  # IDs reserved per write


class MintedLog:
    """Per generation of one shard: the story count it started from, the highest number reserved, and
    whether it ever took a snapshot."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries: dict[int, dict] = {}
        if self.path.exists():
            self.entries = {int(g): entry for g, entry in json.loads(self.path.read_text(encoding="utf-8")).items()}

    def lost(self, snapshot_generation: int, snapshot_count: int) -> list[tuple[int, int, int]]:
        """(generation, first, last) story numbers that runs since the snapshot may have published.

        Without a snapshot (generation 0) only runs that never took one count: a store whose
        snapshots were deleted must not have its runs' stories deleted, their articles point to them.
        """
        if not snapshot_generation:
            return [(g, e["from"] + 1, e["to"]) for g, e in sorted(self.entries.items()) if not e["snapshotted"] and e["to"] > e["from"]]
        return [(g, snapshot_count + 1, e["to"]) for g, e in sorted(self.entries.items()) if g >= snapshot_generation and e["to"] > snapshot_count]

    def restart(self, snapshot_generation: int, generation: int, count: int) -> None:
        """A new generation continues from `count`; what can no longer be lost is dropped."""
        self.entries = {g: e for g, e in self.entries.items() if (g >= snapshot_generation if snapshot_generation else not e["snapshotted"])}
        self.entries[generation] = {"from": count, "to": count, "snapshotted": False}
        self._write()

    def cover(self, generation: int, count: int) -> None:
        """Make sure numbers up to `count` are on record (before they are published)."""
        entry = self.entries[generation]
        if count > entry["to"]:
            entry["to"] = count + BLOCK
            self._write()

    def snapshotted(self, generation: int) -> None:
        """The generation took a snapshot (a later start without one is not its crash)."""
        entry = self.entries[generation]
        if not entry["snapshotted"]:
            entry["snapshotted"] = True
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump({str(g): e for g, e in self.entries.items()}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)
