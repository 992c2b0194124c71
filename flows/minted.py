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
nothing).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

BLOCK = 16  # IDs reserved per write


class MintedLog:
    """generation -> highest story number reserved, for one shard."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.reserved: dict[int, int] = {}
        if self.path.exists():
            self.reserved = {int(g): n for g, n in json.loads(self.path.read_text(encoding="utf-8")).items()}

    def lost(self, snapshot_generation: int, snapshot_count: int) -> list[tuple[int, int, int]]:
        """(generation, first, last) story numbers that runs since the snapshot may have published."""
        return [(g, snapshot_count + 1, n) for g, n in sorted(self.reserved.items()) if g >= snapshot_generation and n > snapshot_count]

    def restart(self, snapshot_generation: int, generation: int, count: int) -> None:
        """A new generation continues from `count`; ranges older than the snapshot's generation are done with."""
        self.reserved = {g: n for g, n in self.reserved.items() if g >= snapshot_generation}
        self.reserved[generation] = count
        self._write()

    def cover(self, generation: int, count: int) -> None:
        """Make sure numbers up to `count` are on record (before they are published)."""
        if count > self.reserved.get(generation, 0):
            self.reserved[generation] = count + BLOCK
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump({str(g): n for g, n in self.reserved.items()}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)
