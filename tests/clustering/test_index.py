import numpy as np

from clustering.index import CentroidIndex
from clustering.story import Story


def hourly(gap):
    return np.exp(-gap / 3600.0)


def daily(gap):
    return np.exp(-gap / (24 * 3600.0))


def story(story_id, vector, t=0.0):
    s = Story(story_id, t, t, np.zeros(len(vector), dtype=np.float32))
    s.vector_sum = np.array(vector, dtype=np.float32)
    return s


def test_candidates_are_the_closest_live_stories_best_first_and_survive_removals():
    index = CentroidIndex(capacity=2)  # grows as stories arrive
    for i, v in enumerate([(1, 0), (0.8, 0.6), (0, 1), (-1, 0)]):
        index.upsert(story(f"s{i}", v))
    ids, cosine, gap = index.candidates(np.array([1.0, 0.0], dtype=np.float32), 0.0, hourly, k=2)
    assert ids == ["s0", "s1"] and np.allclose(cosine, [1.0, 0.8]) and np.allclose(gap, 0)
    index.discard("s0")
    index.upsert(story("s3", (0.9, 0.1)))  # an update in place, after a swap
    ids, _, _ = index.candidates(np.array([1.0, 0.0], dtype=np.float32), 0.0, hourly, k=10)
    assert ids[:2] == ["s3", "s1"] and len(index) == 3 and "s0" not in ids


def test_time_gap_pushes_old_stories_down_the_ranking():
    index = CentroidIndex()
    index.upsert(story("old", (1, 0), t=0.0))
    index.upsert(story("new", (0.9, 0.44), t=100 * 3600.0))
    ids, _, gap = index.candidates(np.array([1.0, 0.0], dtype=np.float32), 100 * 3600.0, daily, k=2)
    assert ids == ["new", "old"] and gap[1] == 100 * 3600.0
