"""The board's map: a 2-D projection of the live window's article vectors, refreshed in the background.

UMAP (cosine, 15 neighbours) runs in a worker process: umap-learn compiles
with numba on first use, which holds the GIL for tens of seconds and would
stall the API in a thread. Until the first UMAP layout is ready, and for
windows too small for it, the map is a PCA projection computed on request.
A refresh starts when the view has changed and the last one is at least
`min_interval_s` old.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from service.queries import article_titles
from service.view import View

log = logging.getLogger(__name__)

UMAP_MIN_POINTS = 20


def umap_layout(matrix: np.ndarray) -> np.ndarray:
    """UMAP to 2-D (runs in the worker process)."""
    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(matrix) - 1), min_dist=0.1, metric="cosine", random_state=0)
    return reducer.fit_transform(matrix)


def pca_layout(matrix: np.ndarray) -> np.ndarray:
    centred = matrix - matrix.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T


def _scaled(xy: np.ndarray) -> np.ndarray:
    """Centred into [-1, 1] on both axes, aspect kept."""
    xy = xy - (xy.max(axis=0) + xy.min(axis=0)) / 2
    return xy / max(float(np.abs(xy).max()), 1e-9)


class Projector:
    """Keeps the latest UMAP layout of the window; `points()` answers the map endpoint."""

    def __init__(self, view: View, limit: int = 5000, min_interval_s: float = 5.0, umap: bool = True) -> None:
        self.view = view
        self.limit = limit
        self.min_interval_s = min_interval_s
        self.umap = umap
        self._latest: tuple[int, list[str], np.ndarray] | None = None  # (generation, ids, xy)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ProcessPoolExecutor | None = None

    def _window(self) -> tuple[list[str], np.ndarray]:
        ids = self.view.index.ids()[-self.limit :]
        kept = [(i, v) for i in ids if (v := self.view.index.vector(i)) is not None]
        return [i for i, _ in kept], np.array([v for _, v in kept], dtype=np.float32).reshape(len(kept), -1)

    def start(self) -> None:
        if self.umap:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            self._thread = threading.Thread(target=self._refresh_loop, name="map-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """End the refresh thread and the worker process (a layout under way is abandoned)."""
        self._stop.set()
        if self._pool is not None:
            workers = list((self._pool._processes or {}).values())  # shutdown() cannot interrupt a running task
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in workers:
                process.terminate()
                process.join(5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _refresh_loop(self) -> None:
        done_for = -1
        while not self._stop.is_set():
            generation = self.view.generation
            if generation != done_for:
                started = time.monotonic()
                ids, matrix = self._window()
                if len(ids) >= UMAP_MIN_POINTS:
                    try:
                        xy = self._pool.submit(umap_layout, matrix).result()
                    except Exception as exc:  # noqa: BLE001 - the map falls back to PCA; the service goes on
                        if self._stop.is_set():
                            return
                        log.warning("UMAP layout failed (%s); the map stays on PCA", exc)
                        return
                    self._latest = (generation, ids, _scaled(xy))
                done_for = generation
                self._stop.wait(max(0.0, self.min_interval_s - (time.monotonic() - started)))
            else:
                self.view.wait_for_change(generation, 1.0)

    def points(self) -> dict:
        """The latest UMAP layout, else PCA of the window now; each point with its article's story and title."""
        latest = self._latest
        if latest is not None:
            _, ids, xy = latest
            method = "umap"
        else:
            ids, matrix = self._window()
            if len(ids) < 3:
                return {"method": "pca", "points": []}
            xy, method = _scaled(pca_layout(matrix)), "pca"
        titles = article_titles(self.view.store, ids)
        return {
            "method": method,
            "points": [{"id": i, "x": round(float(x), 4), "y": round(float(y), 4), **titles[i]} for i, (x, y) in zip(ids, xy) if i in titles],
        }
