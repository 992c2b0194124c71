"""Re-clustering in a background process, so the stream never waits for HDBSCAN.

hdbscan's Cython code holds the GIL, so a thread would stall the stream; a
single spawned worker process runs `recluster` instead. It is warmed up when
created (imports and a tiny fit with the configured reduction: UMAP's numba
code compiles there, tens of seconds, not in the stream), so the first real
re-clustering is not slow,
and it exits when the stream process dies, even by SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from clustering.recluster import ReclusterResult, Snapshot, recluster


def _exit_with_parent() -> None:
    """Worker initializer: a watcher thread ends the worker as soon as its parent is gone.

    The executor's queues alone do not tell a worker that the parent was killed
    (the worker holds both ends of its pipe), so it would linger as an orphan.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=lambda: (parent.join(), os._exit(0)), name="parent-watch", daemon=True).start()


def _warm_up(reduction: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    recluster(([str(i) for i in range(40)], vectors, [str(i % 4) for i in range(40)]), min_cluster_size=5, n_components=4,
              reduction=reduction)


class BackgroundReclusterer:
    """One worker process and at most one re-clustering in flight."""

    def __init__(self, reduction: str = "pca") -> None:
        self.reduction = reduction
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent
            )
            self._pool.submit(_warm_up, self.reduction)
        return self._pool

    def start(self) -> None:
        """Create and warm up the worker now rather than at the first re-clustering."""
        self._executor()

    @property
    def pending(self) -> bool:
        return self._future is not None

    @property
    def ready(self) -> bool:
        return self._future is not None and self._future.done()

    def submit(self, snapshot: Snapshot, *args) -> None:
        """Start `recluster(snapshot, *args)` in the worker."""
        assert self._future is None, "one re-clustering at a time"
        self._future = self._executor().submit(recluster, snapshot, *args)

    def take(self) -> ReclusterResult:
        """The result of the re-clustering in flight, waiting for it if needed."""
        assert self._future is not None, "nothing submitted"
        future, self._future = self._future, None
        return future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __getstate__(self) -> dict:
        """Snapshots keep no process: a restored clusterer starts a fresh worker (the result in flight is lost)."""
        return {"reduction": self.reduction}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state.get("reduction", "pca"))

    def __deepcopy__(self, memo) -> "BackgroundReclusterer":
        return BackgroundReclusterer(self.reduction)
