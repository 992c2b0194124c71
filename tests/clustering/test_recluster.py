"""Reconciling a re-clustering with the live stories: unchanged, merge, split, and what the clusterer does with it."""

import numpy as np
import pytest

from clustering import OnlineStoryClusterer, ReclusterResult, StoryDoc, reconcile

HOUR = 3600.0


def test_clusters_that_match_stories_one_to_one_change_nothing():
    docs = [f"d{i}" for i in range(8)]
    stories = ["A"] * 4 + ["B"] * 4
    result = reconcile(docs, stories, np.array([7, 7, 7, -1, 3, 3, 3, 3]), min_split_size=2)
    assert result.groups == [] and result.splits == []
    assert result.n_clusters == 2 and result.n_noise == 1


def test_stories_that_fall_mostly_in_one_cluster_are_proposed_for_merging():
    docs = [f"d{i}" for i in range(9)]
    stories = ["A"] * 4 + ["B"] * 3 + ["C"] * 2
    # A and B share cluster 0; C is mostly its own cluster 1.
    result = reconcile(docs, stories, np.array([0, 0, 0, 0, 0, 0, -1, 1, 1]), min_split_size=2)
    assert result.groups == [["A", "B"]]


def test_a_story_matched_to_another_cluster_is_not_merged_away():
    docs = [f"d{i}" for i in range(10)]
    stories = ["A"] * 4 + ["B"] * 6
    # B's best match is cluster 1 (4 of 6); cluster 0 holds A plus two of B: no merge.
    result = reconcile(docs, stories, np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1]), min_split_size=3)
    assert result.groups == []


def test_a_large_part_in_a_cluster_no_story_claims_is_split_off_and_the_id_stays_on_the_larger_part():
    docs = [f"d{i}" for i in range(10)]
    stories = ["A"] * 10
    result = reconcile(docs, stories, np.array([0] * 6 + [1] * 4), min_split_size=3)
    assert result.splits == [["d6", "d7", "d8", "d9"]]
    assert reconcile(docs, stories, np.array([0] * 6 + [1] * 4), min_split_size=5).splits == []
    assert reconcile(docs, stories, np.array([0] * 6 + [1] * 4), min_split_size=0).splits == []


def unit(*values):
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_split_moves_the_part_to_a_new_story_and_reports_each_article():
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=-1.0, recluster_every=0, min_split_size=2, split_max_cosine=0.5)
    docs = [StoryDoc(f"d{i}", unit(1, 0.05 * i) if i < 4 else unit(0.05 * i, 1), 1e6 + i * HOUR) for i in range(7)]
    (story_id,) = {a.story_id for a in c.partial_fit_predict(docs)}  # threshold -1: everything joins one story
    c.drain_changes()
    c.apply_recluster(ReclusterResult([], 2, 0, splits=[["d4", "d5", "d6"]]))
    changed, moved = c.drain_changes()
    new_id = moved[0].story_id
    assert [(m.doc_id, m.old_story_id, m.reason) for m in moved] == [(d, story_id, "split") for d in ("d4", "d5", "d6")]
    assert {s.story_id: s.size for s in changed} == {story_id: 4, new_id: 3}
    assert new_id != story_id and story_id in c.stories_


def test_split_is_refused_when_the_part_is_close_to_the_rest():
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=-1.0, recluster_every=0, min_split_size=2, split_max_cosine=0.5)
    docs = [StoryDoc(f"d{i}", unit(1, 0.01 * i), 1e6 + i) for i in range(6)]
    c.partial_fit_predict(docs)
    c.drain_changes()
    c.apply_recluster(ReclusterResult([], 2, 0, splits=[["d3", "d4", "d5"]]))
    assert c.drain_changes() == ([], []) and len(c.stories_) == 1


def _blobs(n_per: int = 60, k: int = 3, dim: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    vectors = np.vstack([c + 0.15 * rng.normal(size=(n_per, dim)) for c in centres]).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), np.repeat(np.arange(k), n_per)


@pytest.mark.slow  # numba compiles UMAP on first use: tens of seconds
def test_umap_and_pca_reductions_both_find_separated_events_and_umap_repeats_itself():
    from sklearn.metrics import adjusted_rand_score

    from clustering.recluster import cluster_window

    vectors, truth = _blobs()
    for reduction in ("pca", "umap"):
        labels = cluster_window(vectors, min_cluster_size=5, n_components=8, reduction=reduction)
        assert adjusted_rand_score(truth, labels) > 0.95, reduction
    assert (cluster_window(vectors, 5, 8, "umap") == cluster_window(vectors, 5, 8, "umap")).all()  # seeded: replays repeat


def test_an_unknown_reduction_is_refused():
    from clustering.recluster import reduce

    with pytest.raises(ValueError, match="pca, umap"):
        reduce(np.zeros((10, 4)), 2, "tsne")
