"""The A/B statistics: exact on the data, exact on a resampled data set, intervals that contain the truth."""

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from abtest.stats import Contingency, bootstrap_weights, interval, pair_agreement, quality_replicates
from replay import score_clustering


def _partition(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    labels = {str(i): f"L{rng.integers(0, 25)}" for i in range(n)}
    predicted = {i: (f"S{label}" if rng.random() < 0.8 else f"S{rng.integers(0, 40)}") for i, label in labels.items()}
    return labels, predicted


def _truth(labels, predicted, rows=None):
    return Contingency.from_counts([(label, s, n) for (label, s), n in Counter((labels[i], predicted[i]) for i in labels).items()], rows)


def test_replicate_zero_is_the_data_and_equals_the_replay_scores():
    labels, predicted = _partition(1)
    truth = _truth(labels, predicted)
    reps = quality_replicates(truth, bootstrap_weights(len(truth.rows), 5, 0))
    expected = score_clustering(predicted, labels)
    for metric in ("bcubed_precision", "bcubed_recall", "bcubed_f1", "ari"):
        assert reps[metric][0] == pytest.approx(getattr(expected, metric), abs=1e-4)


def test_a_replicate_weights_each_articles_bcubed_scores_by_how_often_its_story_was_drawn():
    labels, predicted = _partition(2)
    truth = _truth(labels, predicted)
    weights = bootstrap_weights(len(truth.rows), 3, 7)
    reps = quality_replicates(truth, weights)
    pair = Counter((labels[i], predicted[i]) for i in labels)
    story_size, label_size = Counter(predicted.values()), Counter(labels.values())
    for r in (1, 2, 3):
        drawn = dict(zip(truth.rows, weights[r]))
        w = {i: drawn[labels[i]] for i in labels}
        precision = sum(w[i] * pair[(labels[i], predicted[i])] / story_size[predicted[i]] for i in labels) / sum(w.values())
        recall = sum(w[i] * pair[(labels[i], predicted[i])] / label_size[labels[i]] for i in labels) / sum(w.values())
        assert reps["bcubed_precision"][r] == pytest.approx(precision)
        assert reps["bcubed_recall"][r] == pytest.approx(recall)


def test_replicates_centre_on_the_data():
    """The bootstrap's median sits near the data's value (re-scoring redrawn data sets does not: it is biased)."""
    truth = _truth(*_partition(5, 2000))
    reps = quality_replicates(truth, bootstrap_weights(len(truth.rows), 400, 0))
    for metric in ("bcubed_f1", "ari"):
        assert abs(np.median(reps[metric][1:]) - reps[metric][0]) < 0.02, metric


def test_the_interval_brackets_the_value_and_shrinks_with_more_stories():
    small = _truth(*_partition(3, 150))
    large = _truth(*_partition(3, 3000))
    widths = []
    for truth in (small, large):
        ci = interval(quality_replicates(truth, bootstrap_weights(len(truth.rows), 400, 0))["bcubed_f1"])
        assert ci["low"] <= ci["value"] <= ci["high"]
        widths.append(ci["high"] - ci["low"])
    assert widths[1] < widths[0]


def test_pair_agreement_of_two_partitions():
    labels, predicted = _partition(4)
    cross = Contingency.from_counts([(a, b, n) for (a, b), n in Counter((labels[i], predicted[i]) for i in labels).items()])
    agreement = pair_agreement(cross)
    assert agreement["ari"] == pytest.approx(adjusted_rand_score(list(labels.values()), [predicted[i] for i in labels]), abs=1e-4)
    same = pair_agreement(Contingency.from_counts([(label, label, n) for label, n in Counter(labels.values()).items()]))
    assert same["ari"] == 1.0 and same["a_pairs_kept_by_b"] == 1.0
