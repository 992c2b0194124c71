"""The A/B statistics from aggregated counts: bootstrap intervals that resample stories, and partition agreement.

Everything here reads contingency counts (true story x predicted story, A's
story x B's story), never per-article rows, so the same functions serve
`storywire ab` (counts from a run's files) and spark/ab_report.py (counts
from a Spark aggregation over Parquet exports of any size).

The bootstrap is a cluster bootstrap over the true stories: every metric is a
ratio of sums over articles (BCubed) or pairs (ARI) of quantities computed once
on the whole data; a replicate draws the true stories with replacement and
weights each story's sums by how often it was drawn. (Re-scoring a redrawn
data set instead biases every metric: a story drawn twice either pollutes its
predicted stories with a "different" story or counts its pairs four times.)
A and B are scored on the same replicates, so the interval of the difference
is a paired one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy import sparse

QUALITY_METRICS = ("bcubed_precision", "bcubed_recall", "bcubed_f1", "ari")


@dataclass(frozen=True)
class Contingency:
    """Counts of items per (row, column) pair, e.g. (true story, predicted story)."""

    rows: list[str]
    cols: list[str]
    matrix: sparse.csr_matrix  # len(rows) x len(cols)

    @classmethod
    def from_counts(cls, counts: Iterable[tuple[str, str, int]], rows: list[str] | None = None) -> "Contingency":
        """From (row, col, n) triples; `rows` fixes the row order (and may list rows without items)."""
        triples = list(counts)
        rows = rows if rows is not None else sorted({r for r, _, _ in triples})
        cols = sorted({c for _, c, _ in triples})
        row_index = {r: i for i, r in enumerate(rows)}
        col_index = {c: j for j, c in enumerate(cols)}
        data = np.array([n for _, _, n in triples], dtype=np.float64)
        i = np.array([row_index[r] for r, _, _ in triples], dtype=np.int64)
        j = np.array([col_index[c] for _, c, _ in triples], dtype=np.int64)
        matrix = sparse.csr_matrix((data, (i, j)), shape=(len(rows), len(cols)))
        return cls(rows, cols, matrix)


def bootstrap_weights(n_stories: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each story is drawn in each replicate (n_boot x n_stories); row 0 is the data itself (all ones)."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_stories, np.full(n_stories, 1.0 / n_stories), size=n_boot).astype(np.float64)
    return np.vstack([np.ones((1, n_stories)), draws])


def _comb2(x):
    """Pairs among x items."""
    return x * (x - 1) / 2.0


def quality_replicates(truth: Contingency, weights: np.ndarray) -> dict[str, np.ndarray]:
    """BCubed precision, recall, F1 and ARI of the predicted stories in every replicate.

    `truth` has the true stories as rows (in the order of `weights`' columns)
    and the predicted stories as columns. Each article's BCubed precision and
    recall, and each pair count ARI reads, are computed once on the whole data
    and summed per true story; a replicate weights those sums by how often it
    drew each story. Replicate 0 (all ones) is the data's own score.
    """
    counts = truth.matrix.tocsr()
    label_size = np.asarray(counts.sum(axis=1)).ravel()
    story_size = np.asarray(counts.sum(axis=0)).ravel()
    squares = counts.multiply(counts).tocsr()
    # per true story l: sums over its articles of precision n_ls/|s| and recall n_ls/|l|
    precision_sums = np.asarray(squares.multiply(1.0 / np.maximum(story_size, 1)[None, :]).sum(axis=1)).ravel()
    recall_sums = np.asarray(squares.sum(axis=1)).ravel() / np.maximum(label_size, 1)
    n = weights @ label_size
    precision = (weights @ precision_sums) / np.maximum(n, 1e-300)
    recall = (weights @ recall_sums) / np.maximum(n, 1e-300)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    # ARI's pair counts per true story: pairs it keeps together, its own pairs, and its articles' share
    # of same-predicted-story pairs ((|s| - 1) / 2 each); all pairs: (N - 1) / 2 per article
    pairs = counts.copy()
    pairs.data = _comb2(pairs.data)
    together = weights @ np.asarray(pairs.sum(axis=1)).ravel()
    rows = weights @ _comb2(label_size)
    cols = weights @ (counts @ ((story_size - 1) / 2))
    total = n * (label_size.sum() - 1) / 2
    ari = _ari(together, rows, cols, total)
    return {"bcubed_precision": precision, "bcubed_recall": recall, "bcubed_f1": f1, "ari": ari}


def _ari(together: np.ndarray, rows: np.ndarray, cols: np.ndarray, total_pairs: np.ndarray) -> np.ndarray:
    """Adjusted Rand index from pair counts (Hubert and Arabie), vectorised over replicates."""
    expected = rows * cols / np.maximum(total_pairs, 1e-300)
    maximum = (rows + cols) / 2
    denominator = maximum - expected
    return np.where(np.abs(denominator) > 1e-12, (together - expected) / np.where(np.abs(denominator) > 1e-12, denominator, 1.0), 1.0)


def accuracy_replicates(correct: np.ndarray, total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Share of correct items per replicate, from per-story correct and total counts."""
    return (weights @ correct) / np.maximum(weights @ total, 1e-300)


def interval(replicates: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """The data's value (replicate 0) and the percentile interval of the others."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates[1:], [tail, 100 - tail])
    return {"value": round(float(replicates[0]), 4), "low": round(float(low), 4), "high": round(float(high), 4)}


def pair_agreement(cross: Contingency) -> dict[str, float]:
    """How far two partitions of the same items agree, counted over pairs of items.

    `cross` has A's stories as rows and B's as columns. both_together / a_together
    is the share of A's same-story pairs that B keeps together, and the reverse.
    """
    m = cross.matrix
    together = float(_comb2(m.data).sum())
    a_pairs = float(_comb2(np.asarray(m.sum(axis=1)).ravel()).sum())
    b_pairs = float(_comb2(np.asarray(m.sum(axis=0)).ravel()).sum())
    n = np.array([m.sum()])
    ari = _ari(np.array([together]), np.array([a_pairs]), np.array([b_pairs]), _comb2(n))[0]
    union = a_pairs + b_pairs - together
    return {
        "ari": round(float(ari), 4),
        "a_pairs_kept_by_b": round(together / a_pairs, 4) if a_pairs else 1.0,
        "b_pairs_kept_by_a": round(together / b_pairs, 4) if b_pairs else 1.0,
        "pair_jaccard": round(together / union, 4) if union else 1.0,
        "n_articles": int(n[0]),
    }
