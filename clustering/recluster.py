"""Periodic re-clustering of the sliding window with HDBSCAN, reconciled with the live stories.

HDBSCAN's clusters are matched one-to-one to current stories by shared members
(Jaccard similarity, Hungarian assignment), so a story keeps its ID while it
matches a cluster. What does not match becomes a proposal:
- merge: stories most of whose window members fall in one cluster (the
  clusterer keeps the oldest ID);
- split: a large part of a story that HDBSCAN puts in a cluster no story
  claims (the clusterer keeps the ID on the largest part).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

Snapshot = tuple[list[str], np.ndarray, list[str]]  # doc ids, unit vectors, current story id per doc


@dataclass(frozen=True)
class ReclusterResult:
    """Proposals from one re-clustering: groups of story IDs to merge, and parts to split off."""

    groups: list[list[str]]
    n_clusters: int
    n_noise: int
    splits: list[list[str]] = field(default_factory=list)  # doc ids that leave their stories for one new story


REDUCTIONS = ("pca", "umap")


def reduce(vectors: np.ndarray, n_components: int, reduction: str = "pca") -> np.ndarray:
    """The window's vectors in `n_components` dimensions (0, or not fewer than they have: unchanged).

    "pca" is linear and takes milliseconds; "umap" (min_dist 0, the setting
    for clustering; seeded, so replays repeat) keeps local neighbourhoods and
    costs seconds per window plus a numba JIT on first use, which the
    background worker pays at start (clustering.background).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction {reduction!r}: use one of {', '.join(REDUCTIONS)}")
    if not 0 < n_components < min(vectors.shape):
        return vectors
    if reduction == "umap":
        import umap

        neighbours = max(2, min(15, len(vectors) - 1))
        return umap.UMAP(n_components=n_components, n_neighbors=neighbours, min_dist=0.0, random_state=0, n_jobs=1).fit_transform(vectors)
    from sklearn.decomposition import PCA

    return PCA(n_components=n_components, random_state=0).fit_transform(vectors)


def cluster_window(vectors: np.ndarray, min_cluster_size: int = 5, n_components: int = 32, reduction: str = "pca") -> np.ndarray:
    """HDBSCAN labels (-1 = noise) for the window's vectors.

    Vectors are first reduced to `n_components` (`reduce`; 0 keeps them as they
    are): HDBSCAN's trees are fast in few dimensions and slow in 384. Euclidean
    distance on unit vectors ranks like cosine and keeps hdbscan on its tree path
    (the cosine metric builds an n x n matrix). Core distances run in this
    process (`core_dist_n_jobs=1`): hdbscan's default starts 4 joblib worker
    processes of ~130 MB each, which quadrupled the re-clustering worker's
    memory and competed with the stream for 2 cores.
    """
    import hdbscan

    vectors = reduce(vectors, n_components, reduction)
    return hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean", core_dist_n_jobs=1).fit_predict(vectors)


def reconcile(
    doc_ids: list[str],
    story_ids: list[str],
    labels: np.ndarray,
    majority: float = 0.5,
    min_jaccard: float = 0.1,
    min_split_size: int = 10,
) -> ReclusterResult:
    """Match clusters to stories and read the rest as merge and split proposals.

    A story is united into a cluster when more than `majority` of its window
    members fall in it and it is not matched to another cluster. A part of a
    story is split off when it has at least `min_split_size` members in a cluster
    that no story is matched to and is smaller than the rest of the story; the
    parts one cluster takes form one new story. `min_split_size` 0 turns splits off.
    """
    from scipy.optimize import linear_sum_assignment

    stories = sorted(set(story_ids))
    clusters = sorted({int(x) for x in labels if x >= 0})
    story_row = {s: i for i, s in enumerate(stories)}
    cluster_col = {c: j for j, c in enumerate(clusters)}
    shared = np.zeros((len(stories), len(clusters)))
    members: dict[tuple[str, int], list[str]] = defaultdict(list)
    for doc_id, story_id, label in zip(doc_ids, story_ids, labels):
        if label >= 0:
            shared[story_row[story_id], cluster_col[int(label)]] += 1
            members[(story_id, int(label))].append(doc_id)
    story_size = Counter(story_ids)
    cluster_size = Counter(int(x) for x in labels if x >= 0)
    sizes = np.array([story_size[s] for s in stories])[:, None] + np.array([cluster_size[c] for c in clusters])[None, :]
    jaccard = shared / np.maximum(sizes - shared, 1)
    match: dict[int, str] = {}  # cluster -> story
    if clusters:
        for i, j in zip(*linear_sum_assignment(-jaccard)):
            if jaccard[i, j] >= min_jaccard:
                match[clusters[j]] = stories[i]
    matched_story = {s: c for c, s in match.items()}

    united: dict[int, list[str]] = defaultdict(list)
    for story in stories:
        row = shared[story_row[story]]
        if not clusters:
            break
        j = int(np.argmax(row))
        cluster = clusters[j]
        if row[j] > majority * story_size[story] and matched_story.get(story, cluster) == cluster:
            united[cluster].append(story)
    groups = [sorted(united[c]) for c in sorted(united) if len(united[c]) > 1]

    parts: dict[int, list[str]] = defaultdict(list)  # unclaimed cluster -> the story parts it takes
    for (story, cluster), part in sorted(members.items()):
        if min_split_size and cluster not in match and story in matched_story and len(part) >= min_split_size and 2 * len(part) < story_size[story]:
            parts[cluster].extend(part)
    splits = [sorted(parts[c]) for c in sorted(parts)]
    return ReclusterResult(groups, len(clusters), int(np.sum(labels < 0)), splits)


def recluster(snapshot: Snapshot, min_cluster_size: int = 5, n_components: int = 32, min_split_size: int = 10, reduction: str = "pca") -> ReclusterResult:
    """Re-cluster a window snapshot and reconcile the clusters with its stories."""
    doc_ids, vectors, story_ids = snapshot
    if len(story_ids) < 2 * min_cluster_size:
        return ReclusterResult([], 0, len(story_ids))
    labels = cluster_window(vectors, min_cluster_size, n_components, reduction)
    return reconcile(doc_ids, story_ids, labels, min_split_size=min_split_size)
