"""Re-clustering in a background process, so the stream never waits for HDBSCAN.

hdbscan's Cython code holds the GIL, so a thread would stall the stream; a
single spawned worker process runs `recluster` instead. It is warmed up when
created (imports and a tiny fit with the configured reduction: UMAP's numba
code compiles there, tens of seconds, not in the stream), so the first real
re-clustering is not slow,
and it exits when the stream process dies, even by SIGKILL.

A worker that dies (out of memory, a crash in native code) is replaced and the
window it had is sent again; `restarts` counts it. The window of a
re-clustering in flight is part of a pickled or copied reclusterer, so a
clusterer restored from a snapshot computes it again rather than losing it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from clustering.recluster import ReclusterResult, Snapshot, recluster

log = logging.getLogger(__name__)

def _exit_with_parent() -> None:
    """Worker initializer: a watcher thread ends the worker as soon as its parent is gone.

    The executor's queues alone do not tell a worker that the parent was killed
    (the worker holds both ends of its pipe), so it would linger as an orphan.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            parent.join()
            os._exit(0)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()


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
        self._job: tuple | None = None  # (snapshot, *args) of the re-clustering in flight
        self.restarts = 0  # workers that died and were replaced

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
        return self._job is not None

    @property
    def ready(self) -> bool:
        return self._job is not None and self._running().done()

    def submit(self, snapshot: Snapshot, *args) -> None:
        """Start `recluster(snapshot, *args)` in the worker."""
        assert self._job is None, "one re-clustering at a time"
        self._job = (snapshot, *args)
        self._running()

    def _running(self) -> Future:
        """The job's future, submitted now if it was restored from a snapshot or its worker died."""
        if self._future is None:
            assert self._job is not None, "no re-clustering was submitted"
            try:
                self._future = self._executor().submit(recluster, *self._job)
            except BrokenProcessPool:  # the worker died while idle
                self._replace()
                self._future = self._executor().submit(recluster, *self._job)
        return self._future

    def _replace(self) -> None:
        self.restarts += 1
        log.error("the re-clustering worker died; starting a new one and sending it the window again (%d so far)", self.restarts)
        self._pool, self._future = None, None

    def take(self, wait: bool = True) -> ReclusterResult | None:
        """The result of the re-clustering in flight, waiting for it if needed.

        If the worker died, it is replaced and the job sent again: then the
        result is waited for, or with `wait=False` None is returned (not ready).
        """
        assert self._job is not None, "nothing submitted"
        while True:
            try:
                result = self._running().result()
            except BrokenProcessPool:
                self._replace()
                if wait:
                    continue
                self._running()
                return None
            self._job, self._future = None, None
            return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __getstate__(self) -> dict:
        """Snapshots keep no process, only the reduction, the window of the re-clustering in flight and the restart count."""
        return {"reduction": self.reduction, "job": self._job, "restarts": self.restarts}

    def __setstate__(self, state: dict) -> None:
        BackgroundReclusterer.__init__(self, state.get("reduction", "pca"))
        self._job, self.restarts = state.get("job"), state.get("restarts", 0)

    def __deepcopy__(self, memo) -> "BackgroundReclusterer":
        """The copy shares the job's window: nothing changes it once submitted."""
        copy = BackgroundReclusterer(self.reduction)
        copy._job, copy.restarts = self._job, self.restarts
        return copy
