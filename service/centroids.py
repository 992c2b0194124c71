"""Story centroids over the live window, kept in step as vectors enter and leave the index and articles move.

`match` compares a query with every live story's centroid; recomputing them
from all members on each change would cost a pass over the window per
batch. Here each change costs one vector: the sum of a story's indexed
members goes up or down as a member is indexed, leaves the window, is
deleted or is re-published under another story.
"""

from __future__ import annotations

import threading

import numpy as np


class StoryCentroids:
    """Sums of member vectors per story; `snapshot()` gives story ids and unit centroids."""

    def __init__(self) -> None:
        self._story_of: dict[str, str] = {}
        self._sums: dict[str, np.ndarray] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, article_id: str, story_id: str | None, vector: np.ndarray) -> None:
        """An indexed member (a story of None: its tags have not arrived yet; `move` places it later)."""
        with self._lock:
            if story_id is not None:
                self._story_of[article_id] = story_id
                self._change(story_id, vector, +1)

    def remove(self, article_id: str, vector: np.ndarray) -> None:
        with self._lock:
            story_id = self._story_of.pop(article_id, None)
            if story_id is not None:
                self._change(story_id, vector, -1)

    def move(self, article_id: str, story_id: str, vector: np.ndarray) -> None:
        """An indexed article now belongs to `story_id`."""
        with self._lock:
            old = self._story_of.get(article_id)
            if old == story_id:
                return
            if old is not None:
                self._change(old, vector, -1)
            self._story_of[article_id] = story_id
            self._change(story_id, vector, +1)

    def _change(self, story_id: str, vector: np.ndarray, sign: int) -> None:
        count = self._counts.get(story_id, 0) + sign
        if count <= 0:
            self._sums.pop(story_id, None)
            self._counts.pop(story_id, None)
            return
        self._sums[story_id] = self._sums.get(story_id, 0.0) + sign * vector.astype(np.float64)
        self._counts[story_id] = count

    def members(self, story_id: str) -> int:
        return self._counts.get(story_id, 0)

    def snapshot(self, dimension: int) -> tuple[list[str], np.ndarray]:
        with self._lock:
            story_ids = sorted(self._sums)
            matrix = np.array([self._sums[s] for s in story_ids], dtype=np.float32).reshape(len(story_ids), dimension)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return story_ids, matrix / np.maximum(norms, 1e-9)
