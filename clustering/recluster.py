"""Periodic re-clustering of the sliding window with HDBSCAN, read as merge proposals."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReclusterResult:
    """Groups of live story IDs that one HDBSCAN cluster holds most of."""

    groups: list[list[str]]
    n_clusters: int
    n_noise: int


def find_merges(
    snapshot: tuple[list[str], np.ndarray, list[str]],
    min_cluster_size: int = 5,
    n_components: int = 32,
    majority: float = 0.5,
) -> ReclusterResult:
    """Run HDBSCAN over the window and list the stories each dense cluster unites.

    `snapshot` is (doc ids, unit vectors, current story id per doc). Vectors are
    first reduced to `n_components` with PCA (0 keeps them as they are): HDBSCAN's
    trees are fast in few dimensions and slow in 384. Euclidean distance on unit
    vectors ranks like cosine and keeps hdbscan on its tree path (the cosine
    metric builds an n x n matrix). A story is united into a cluster when more
    than `majority` of its window members fall in it.
    """
    _, vectors, story_ids = snapshot
    if len(story_ids) < 2 * min_cluster_size:
        return ReclusterResult([], 0, len(story_ids))
    import hdbscan
    from sklearn.decomposition import PCA

    if 0 < n_components < min(vectors.shape):
        vectors = PCA(n_components=n_components, random_state=0).fit_transform(vectors)
    labels = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean").fit_predict(vectors)
    members_per_story = Counter(story_ids)
    in_cluster: dict[int, Counter] = defaultdict(Counter)
    for label, story_id in zip(labels, story_ids):
        if label >= 0:
            in_cluster[int(label)][story_id] += 1
    groups = []
    for label in sorted(in_cluster):
        united = sorted(s for s, n in in_cluster[label].items() if n > majority * members_per_story[s])
        if len(united) > 1:
            groups.append(united)
    return ReclusterResult(groups, len(in_cluster), int(np.sum(labels < 0)))
