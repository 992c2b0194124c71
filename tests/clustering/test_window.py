"""The window matrix: rows come back in the order asked, and freed rows are reused (bounded memory)."""

import numpy as np
import pytest

from clustering.window import WindowVectors


def test_rows_are_reused_and_snapshots_copy_in_order():
    window = WindowVectors(capacity=2)
    rows = [window.add(np.full(3, i, dtype=np.float32)) for i in range(5)]  # grows past its capacity
    window.release(rows[1])
    reused = window.add(np.full(3, 9, dtype=np.float32))
    assert reused == rows[1]
    snapshot = window.take(np.array([rows[4], reused, rows[0]]))
    assert snapshot[:, 0].tolist() == [4, 9, 0]
    snapshot[:] = -1
    assert window.take(np.array([rows[4]]))[0, 0] == 4  # a copy, not a view


def test_a_different_dimension_is_refused_while_rows_are_in_use():
    window = WindowVectors()
    window.add(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="dimension 4"):
        window.add(np.zeros(4, dtype=np.float32))
