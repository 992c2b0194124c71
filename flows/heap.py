"""Process memory settings for a long-running stream: glibc maps large arrays instead of keeping them in the heap,
and the objects loaded at start-up leave the garbage collector's view.

glibc raises its mmap threshold (up to 32 MB) each time a mapped block is
freed, so after the first re-clustering snapshots (tens of MB each) the large
arrays of every batch and snapshot are carved out of the main heap. The holes
they leave stay resident: in a 200k-article replay the heap's free space grew
to ~115 MB. A fixed threshold keeps allocations above it mapped, returned to
the system as soon as they are freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


def keep_large_allocations_mapped(threshold_bytes: int = 1 << 20) -> bool:
    """Fix the mmap threshold in this process and in the processes it starts; False where libc is not glibc."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(threshold_bytes))  # read by children (the re-clustering worker) at startup
    applied = bool(mallopt(M_MMAP_THRESHOLD, threshold_bytes))
    log.debug("glibc mmap threshold fixed at %d bytes: %s", threshold_bytes, applied)
    return applied


def freeze_loaded_objects() -> None:
    """Move every object alive now (the models' millions) to the permanent generation: full collections
    scanning them paused the stream for ~0.4 s at random points. Call once the models are loaded."""
    gc.collect()
    gc.freeze()
