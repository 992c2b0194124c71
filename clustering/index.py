"""The live stories' centroids and time spans as one matrix, so candidates are a single product.

Stacking thousands of centroids for every article made assignment slow and
quadratic in practice; the index keeps one row per live story, updated in place
when the story changes and freed (swap with the last row) when it leaves.
With a `journal`, changes record their inverses (clustering.journal).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from clustering.journal import Journal
from clustering.story import Story
from clustering.window import with_capacity


class CentroidIndex:
    """Rows of (centroid, first_seen, last_seen) for live stories, looked up by story ID."""

    def __init__(self, dimension: int = 0, capacity: int = 1024) -> None:
        self._centroids = np.zeros((capacity, dimension), dtype=np.float32)
        self._first = np.zeros(capacity)
        self._last = np.zeros(capacity)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def upsert(self, story: Story, journal: Journal | None = None) -> None:
        centroid = story.centroid
        if self._centroids.shape[1] != centroid.shape[0]:
            if self._ids:
                raise ValueError(f"vector dimension {centroid.shape[0]} differs from the index's {self._centroids.shape[1]}")
            if journal is not None:
                journal.record(self._restore_arrays, self._centroids, self._first, self._last)
            self._centroids = np.zeros((self._centroids.shape[0], centroid.shape[0]), dtype=np.float32)
        row = self._row.get(story.story_id)
        if row is None:
            row = len(self._ids)
            if row == self._centroids.shape[0]:
                if journal is not None:
                    journal.record(self._restore_arrays, self._centroids, self._first, self._last)
                self._grow()
            self._ids.append(story.story_id)
            self._row[story.story_id] = row
            if journal is not None:
                journal.record(self._unappend, story.story_id)
        if journal is not None:
            journal.record(self._put_row, row, *self._get_row(row))
        self._centroids[row] = centroid
        self._first[row] = story.first_seen
        self._last[row] = story.last_seen

    def discard(self, story_id: str, journal: Journal | None = None) -> None:
        row = self._row.pop(story_id, None)
        if row is None:
            return
        last = len(self._ids) - 1
        if journal is not None:
            journal.record(self._undiscard, story_id, row, *self._get_row(row))
        if row != last:
            moved = self._ids[last]
            self._ids[row] = moved
            self._row[moved] = row
            self._centroids[row] = self._centroids[last]
            self._first[row] = self._first[last]
            self._last[row] = self._last[last]
        self._ids.pop()

    def _get_row(self, row: int) -> tuple[np.ndarray, float, float]:
        return self._centroids[row].copy(), float(self._first[row]), float(self._last[row])

    def _put_row(self, row: int, centroid: np.ndarray, first: float, last: float) -> None:
        self._centroids[row], self._first[row], self._last[row] = centroid, first, last

    def _restore_arrays(self, centroids: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        self._centroids, self._first, self._last = centroids, first, last

    def _unappend(self, story_id: str) -> None:
        self._ids.pop()
        del self._row[story_id]

    def _undiscard(self, story_id: str, row: int, centroid: np.ndarray, first: float, last: float) -> None:
        """Undo `discard`: the story back in its row, the one that had moved into it back at the end."""
        if row < len(self._ids):
            moved = self._ids[row]
            self._ids.append(moved)
            self._row[moved] = len(self._ids) - 1
            self._ids[row] = story_id
        else:
            self._ids.append(story_id)
        self._row[story_id] = row
        self._put_row(row, centroid, first, last)

    def candidates(
        self, vector: np.ndarray, published_at: float, decay: Callable[[np.ndarray], np.ndarray], k: int
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The `k` stories with the highest cosine times `decay(gap)`: (ids, cosines, gaps in seconds), best first.

        The gap is the time between the article and the story's span (0 inside it).
        """
        n = len(self._ids)
        if n == 0:
            return [], np.zeros(0), np.zeros(0)
        cosine = self._centroids[:n] @ vector
        gap = np.maximum(0.0, np.maximum(self._first[:n] - published_at, published_at - self._last[:n]))
        ranked = cosine * decay(gap)
        top = np.argpartition(-ranked, k - 1)[:k] if n > k else np.arange(n)
        top = top[np.argsort(-ranked[top], kind="stable")]
        return [self._ids[i] for i in top], cosine[top].astype(float), gap[top]

    def _grow(self) -> None:
        size = 2 * self._centroids.shape[0]
        self._centroids, self._first, self._last = (with_capacity(a, size) for a in (self._centroids, self._first, self._last))
