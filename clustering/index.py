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
    """Rows of (centroid, first_seen, last_seen, last_article) for live stories, looked up by story ID."""

    def __init__(self, dimension: int = 0, capacity: int = 1024) -> None:
        self._centroids = np.zeros((capacity, dimension), dtype=np.float32)
        self._first = np.zeros(capacity)
        self._last = np.zeros(capacity)
        self._last_article = np.zeros(capacity, dtype=np.int64)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __setstate__(self, state: dict) -> None:
        """Restore a snapshot; one taken before rows held the last article's number marks none as quiet (retirement still runs)."""
        self.__dict__.update(state)
        if "_last_article" not in state:
            self._last_article = np.full(len(self._first), np.iinfo(np.int64).max, dtype=np.int64)

    def upsert(self, story: Story, journal: Journal | None = None) -> None:
        centroid = story.centroid
        if self._centroids.shape[1] != centroid.shape[0]:
            if self._ids:
                raise ValueError(f"vector dimension {centroid.shape[0]} differs from the index's {self._centroids.shape[1]}")
            if journal is not None:
                journal.record(self._restore_arrays, *self._arrays())
            self._centroids = np.zeros((self._centroids.shape[0], centroid.shape[0]), dtype=np.float32)
        row = self._row.get(story.story_id)
        if row is None:
            row = len(self._ids)
            if row == self._centroids.shape[0]:
                if journal is not None:
                    journal.record(self._restore_arrays, *self._arrays())
                self._grow()
            self._ids.append(story.story_id)
            self._row[story.story_id] = row
            if journal is not None:
                journal.record(self._unappend, story.story_id)
        if journal is not None:
            journal.record(self._put_row, row, *self._get_row(row))
        self._put_row(row, centroid, story.first_seen, story.last_seen, story.last_article)

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
            self._put_row(row, *self._get_row(last))
        self._ids.pop()

    def _get_row(self, row: int) -> tuple[np.ndarray, float, float, int]:
        return self._centroids[row].copy(), float(self._first[row]), float(self._last[row]), int(self._last_article[row])

    def _put_row(self, row: int, centroid: np.ndarray, first: float, last: float, last_article: int) -> None:
        self._centroids[row], self._first[row], self._last[row], self._last_article[row] = centroid, first, last, last_article

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self._centroids, self._first, self._last, self._last_article

    def _restore_arrays(self, centroids: np.ndarray, first: np.ndarray, last: np.ndarray, last_article: np.ndarray) -> None:
        self._centroids, self._first, self._last, self._last_article = centroids, first, last, last_article

    def _unappend(self, story_id: str) -> None:
        self._ids.pop()
        del self._row[story_id]

    def _undiscard(self, story_id: str, row: int, centroid: np.ndarray, first: float, last: float, last_article: int) -> None:
        """Undo `discard`: the story back in its row, the one that had moved into it back at the end."""
        if row < len(self._ids):
            moved = self._ids[row]
            self._ids.append(moved)
            self._row[moved] = len(self._ids) - 1
            self._ids[row] = story_id
        else:
            self._ids.append(story_id)
        self._row[story_id] = row
        self._put_row(row, centroid, first, last, last_article)

    def candidates(
        self,
        vector: np.ndarray,
        published_at: float,
        decay: Callable[[np.ndarray], np.ndarray],
        k: int,
        *,
        seen_since: float = -np.inf,
        article_since: int = -1,
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The `k` stories with the highest cosine times `decay(gap)`: (ids, cosines, gaps in seconds), best first.

        The gap is the time between the article and the story's span (0 inside it). Stories last seen
        before `seen_since` or whose last article is numbered below `article_since` are due to retire
        and are no candidates, so which stories an article can join does not depend on where the
        batch boundaries fall (retirement itself runs once per batch).
        """
        n = len(self._ids)
        if n == 0:
            return [], np.zeros(0), np.zeros(0)
        cosine = self._centroids[:n] @ vector
        gap = np.maximum(0.0, np.maximum(self._first[:n] - published_at, published_at - self._last[:n]))
        ranked = np.where((self._last[:n] < seen_since) | (self._last_article[:n] < article_since), -np.inf, cosine * decay(gap))
        top = np.argpartition(-ranked, k - 1)[:k] if n > k else np.arange(n)
        top = top[np.argsort(-ranked[top], kind="stable")]
        top = top[np.isfinite(ranked[top])]
        return [self._ids[i] for i in top], cosine[top].astype(float), gap[top]

    def _grow(self) -> None:
        size = 2 * self._centroids.shape[0]
        self._centroids, self._first, self._last, self._last_article = (with_capacity(a, size) for a in self._arrays())
