"""Re-clustering in a background process, so the stream never waits for HDBSCAN.

hdbscan's Cython code holds the GIL, so a thread would stall the stream; a
single spawned worker process runs `recluster` instead. `ReclusterWorker` is
that process, created and owned by the caller (the flow), never by the
estimator, which is handed it (`OnlineStoryClusterer(recluster_worker=...)`).
It is warmed up when started (imports and a tiny fit with the configured
reduction: UMAP's numba code compiles there, tens of seconds, not in the
stream), so the first real re-clustering is not slow, and it exits when the
stream process dies, even by SIGKILL. A worker that dies (out of memory, a
crash in native code) is replaced and the job sent again; `restarts` counts it.

`BackgroundReclusterer` is the estimator's side: the re-clustering in flight.
Its window is part of a pickled or copied estimator, so one restored from a
snapshot computes it again rather than losing it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from clustering.journal import Journal
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
    recluster(([str(i) for i in range(40)], vectors, [str(i % 4) for i in range(40)]), min_cluster_size=5, n_components=4, reduction=reduction)


class ReclusterWorker:
    """One spawned process that runs `recluster`, replaced when it dies.

    Pickled or copied, it keeps only its settings: the copy starts a process of
    its own when first used (a restored estimator is normally handed the flow's).
    """

    def __init__(self, reduction: str = "pca") -> None:
        self.reduction = reduction
        self._pool: ProcessPoolExecutor | None = None
        self.restarts = 0  # workers that died and were replaced

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent)
            self._pool.submit(_warm_up, self.reduction)
        return self._pool

    def start(self) -> "ReclusterWorker":
        """Create and warm up the process now rather than at the first re-clustering."""
        self._executor()
        return self

    def submit(self, job: tuple) -> Future:
        """`recluster(*job)` in the process; a process that died while idle is replaced first."""
        try:
            return self._executor().submit(recluster, *job)
        except BrokenProcessPool:
            self.replace()
            return self._executor().submit(recluster, *job)

    def replace(self) -> None:
        """The process died: the next submit starts a new one."""
        self.restarts += 1
        log.error("the re-clustering worker died; starting a new one and sending it the window again (%d so far)", self.restarts)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __getstate__(self) -> dict:
        return {"reduction": self.reduction}

    def __setstate__(self, state: dict) -> None:
        ReclusterWorker.__init__(self, state["reduction"])


class BackgroundReclusterer:
    """At most one re-clustering in flight on a `ReclusterWorker`: its job (snapshot and arguments) and its future."""

    def __init__(self) -> None:
        self._future: Future | None = None
        self._job: tuple | None = None  # (snapshot, *args) of the re-clustering in flight

    @property
    def pending(self) -> bool:
        return self._job is not None

    def ready(self, worker: ReclusterWorker) -> bool:
        return self._job is not None and self._running(worker).done()

    def submit(self, worker: ReclusterWorker, snapshot: Snapshot, *args, journal: Journal | None = None) -> None:
        """Start `recluster(snapshot, *args)` in the worker."""
        assert self._job is None, "one re-clustering at a time"
        self._journaled(journal)
        self._job = (snapshot, *args)
        self._running(worker)

    def _running(self, worker: ReclusterWorker) -> Future:
        """The job's future, submitted now if it was restored from a snapshot or its worker died."""
        if self._future is None:
            assert self._job is not None, "no re-clustering was submitted"
            self._future = worker.submit(self._job)
        return self._future

    def take(self, worker: ReclusterWorker, wait: bool = True, journal: Journal | None = None) -> ReclusterResult | None:
        """The result of the re-clustering in flight, waiting for it if needed.

        If the worker died, it is replaced and the job sent again: then the
        result is waited for, or with `wait=False` None is returned (not ready).
        A rolled-back take leaves the job in flight, its finished future kept.
        """
        assert self._job is not None, "nothing submitted"
        while True:
            try:
                result = self._running(worker).result()
            except BrokenProcessPool:
                worker.replace()
                self._future = None
                if wait:
                    continue
                self._running(worker)
                return None
            self._journaled(journal)
            self._job, self._future = None, None
            return result

    def _journaled(self, journal: Journal | None) -> None:
        if journal is not None:
            journal.record(self._restore, self._job, self._future)

    def _restore(self, job: tuple | None, future: Future | None) -> None:
        if self._future is not None and self._future is not future:
            self._future.cancel()  # a rolled-back submit: its result is not wanted (if it has not started)
        self._job, self._future = job, future

    def __getstate__(self) -> dict:
        """Snapshots keep no future, only the window of the re-clustering in flight."""
        return {"job": self._job}

    def __setstate__(self, state: dict) -> None:
        BackgroundReclusterer.__init__(self)
        self._job = state.get("job")  # snapshots from before ReclusterWorker also held "reduction" and "restarts"

    def __deepcopy__(self, memo) -> "BackgroundReclusterer":
        """The copy shares the job's window: nothing changes it once submitted."""
        copy = BackgroundReclusterer()
        copy._job = self._job
        return copy
