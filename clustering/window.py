"""The window's vectors in one preallocated matrix, so a re-clustering snapshot is one copy.

Stacking tens of thousands of per-article vectors for every snapshot held the
stream for up to hundreds of milliseconds; rows here are reused as articles
leave, and a snapshot is a single fancy-indexed copy. With a `journal`, `add`
and `release` record their inverses (clustering.journal): the row's old
contents, not the matrix.
"""

from __future__ import annotations

import numpy as np

from clustering.journal import Journal


class WindowVectors:
    """Rows of article vectors; `add` returns a row, `release` frees it for reuse."""

    def __init__(self, capacity: int = 1024) -> None:
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._capacity = capacity
        self._free: list[int] = []
        self._used = 0

    def add(self, vector: np.ndarray, journal: Journal | None = None) -> int:
        if self._matrix.shape[1] != vector.shape[0]:
            if self._used - len(self._free):
                raise ValueError(f"vector dimension {vector.shape[0]} differs from the window's {self._matrix.shape[1]}")
            if journal is not None:
                journal.record(self._restore, self._matrix, self._free, self._used)
            self._matrix = np.zeros((self._capacity, vector.shape[0]), dtype=np.float32)
            self._free, self._used = [], 0
        if self._free:
            row = self._free.pop()
            if journal is not None:
                journal.record(self._free.append, row)
        else:
            if self._used == self._matrix.shape[0]:
                if journal is not None:
                    journal.record(self._restore, self._matrix, self._free, self._used)
                self._matrix = with_capacity(self._matrix, 2 * self._matrix.shape[0])
            row, self._used = self._used, self._used + 1
            if journal is not None:
                journal.record(self._restore, self._matrix, self._free, row)
        if journal is not None:
            journal.record(self._matrix.__setitem__, row, self._matrix[row].copy())
        self._matrix[row] = vector
        return row

    def release(self, row: int, journal: Journal | None = None) -> None:
        self._free.append(row)
        if journal is not None:
            journal.record(self._free.pop)

    def _restore(self, matrix: np.ndarray, free: list[int], used: int) -> None:
        self._matrix, self._free, self._used = matrix, free, used

    def take(self, rows: np.ndarray) -> np.ndarray:
        """A copy of the given rows, in that order."""
        return self._matrix[rows] if len(rows) else np.zeros((0, self._matrix.shape[1]), dtype=np.float32)


def with_capacity(array: np.ndarray, rows: int) -> np.ndarray:
    """A copy with room for `rows` rows; the new rows are fresh zero pages, resident only once written
    (np.resize would fill them with repeats of the old rows, paying for the whole capacity at once)."""
    grown = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
