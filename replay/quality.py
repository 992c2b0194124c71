"""Clustering quality against labelled events: BCubed precision/recall/F1, ARI, AMI."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Mapping


@dataclass(frozen=True)
class ClusteringScores:
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    ari: float
    ami: float
    n_docs: int
    n_labels: int
    n_stories: int

    def to_json(self) -> dict:
        return asdict(self)


def bcubed(predicted: Mapping[str, str], labels: Mapping[str, str]) -> tuple[float, float, float]:
    """BCubed precision, recall and F1 over the items present in both mappings."""
    items = [i for i in labels if i in predicted]
    if not items:
        return 0.0, 0.0, 0.0
    pair = Counter((predicted[i], labels[i]) for i in items)
    cluster_size = Counter(predicted[i] for i in items)
    label_size = Counter(labels[i] for i in items)
    precision = sum(pair[(predicted[i], labels[i])] / cluster_size[predicted[i]] for i in items) / len(items)
    recall = sum(pair[(predicted[i], labels[i])] / label_size[labels[i]] for i in items) / len(items)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_clustering(predicted: Mapping[str, str], labels: Mapping[str, str]) -> ClusteringScores:
    """All scores for the items that have both a label and a predicted story."""
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    items = sorted(i for i in labels if i in predicted)
    p, r, f1 = bcubed(predicted, labels)
    pred = [predicted[i] for i in items]
    true = [labels[i] for i in items]
    return ClusteringScores(
        bcubed_precision=round(p, 4),
        bcubed_recall=round(r, 4),
        bcubed_f1=round(f1, 4),
        ari=round(float(adjusted_rand_score(true, pred)), 4) if items else 0.0,
        ami=round(float(adjusted_mutual_info_score(true, pred)), 4) if items else 0.0,
        n_docs=len(items),
        n_labels=len(set(true)),
        n_stories=len(set(pred)),
    )
