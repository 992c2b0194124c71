"""Generations: a number minted at every start of a live service, above every earlier one.

Story IDs and versions carry the generation of the run that minted them
(clustering.story.next_version), so a run restored from an older snapshot, or
started with no recovery store at all, never re-issues an ID or a (key,
version) that an earlier run published. The generation is the start time in
whole seconds, raised above the last one recorded in the recovery directory
(when there is one), so a clock set back between two starts does not repeat
one either; the file is only that guard, not the source of truth.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from clustering import VERSION_SPAN
from flows.config import ConfigError

log = logging.getLogger(__name__)


def mint_generation(recovery_directory: Path | None = None, process_id: int | None = None) -> int:
    """A generation above the wall clock's second and above the last one this recovery store saw."""
    generation = int(time.time())
    path = Path(recovery_directory) / f"generation-{process_id or 0}" if recovery_directory is not None else None
    if path is not None and path.exists():
        try:
            last = int(path.read_text(encoding="utf-8").strip())
        except ValueError:
            raise ConfigError(f"{path} does not hold a generation number; delete it (the clock then decides)") from None
        if last >= generation:
            log.warning("generation %d recorded in %s is not behind the clock (%d): was the clock set back?", last, path, generation)
            generation = last + 1
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(f"{generation}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    log.info("generation %d: story IDs minted by this run carry it, versions start at %d", generation, generation * VERSION_SPAN + 1)
    return generation
