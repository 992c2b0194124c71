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
    predicted = {i: (f"S{l}" if rng.random() < 0.8 else f"S{rng.integers(0, 40)}") for i, l in labels.items()}
    return labels, predicted


def _truth(labels, predicted, rows=None):
    return Contingency.from_counts([(l, s, n) for (l, s), n in Counter((labels[i], predicted[i]) for i in labels).items()], rows)


def test_replicate_zero_is_the_data_and_equals_the_replay_scores():
    labels, predicted = _partition(1)
    truth = _truth(labels, predicted)
    reps = quality_replicates(truth, bootstrap_weights(len(truth.rows), 5, 0))
    expected = score_clustering(predicted, labels)
    for metric in ("bcubed_precision", "bcubed_recall", "bcubed_f1", "ari"):
        assert reps[metric][0] == pytest.approx(getattr(expected, metric), abs=1e-4)


def test_a_replicate_scores_the_data_set_with_the_drawn_stories_repeated():
    labels, predicted = _partition(2)
    truth = _truth(labels, predicted)
    weights = bootstrap_weights(len(truth.rows), 3, 7)
    reps = quality_replicates(truth, weights)
    for r in (1, 2, 3):
        drawn = {l: int(w) for l, w in zip(truth.rows, weights[r])}
        repeated_labels, repeated_predicted = {}, {}
        for i, l in labels.items():
            for copy in range(drawn[l]):
                repeated_labels[f"{i}/{copy}"], repeated_predicted[f"{i}/{copy}"] = l, predicted[i]
        expected = score_clustering(repeated_predicted, repeated_labels)
        assert reps["bcubed_f1"][r] == pytest.approx(expected.bcubed_f1, abs=1e-4)
        assert reps["bcubed_precision"][r] == pytest.approx(expected.bcubed_precision, abs=1e-4)
        assert reps["ari"][r] == pytest.approx(expected.ari, abs=1e-4)


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
    same = pair_agreement(Contingency.from_counts([(l, l, n) for l, n in Counter(labels.values()).items()]))
    assert same["ari"] == 1.0 and same["a_pairs_kept_by_b"] == 1.0
