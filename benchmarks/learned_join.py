"""Does a learned join-or-new decision beat the hand-set score? Leave-one-set-out on every dev set.

    .venv/bin/python benchmarks/learned_join.py [--features-dir out/suite-features] [--uci-limit 5000]
        [--offsets=-3,-2,-1,0,1]

Runs `OnlineStoryClusterer` with its defaults over each set's cached
features (`storywire eval --suite dev` computes them) and logs, for every
article and each of its candidate stories, the features of the join decision
(calibrated cosine, entity and word cosines, each also relative to the
median candidate and the best one, story size, the article's entity and term
counts, time decay, entity disagreement) with whether the candidate's
majority label is the article's. A logistic regression fits them (each
article weighs 1, each set equally). Then each set is replayed with the
learned score in place of the hand-set one (join the best candidate when its
log-odds exceed `offset`), the model fitted on all sets and, for the
leave-one-set-out check, on the other sets only. Prints JSON: F1 per set for
the hand-set defaults and for the learned score per offset and fit.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import emit  # noqa: E402
from benchmarks.tune_clustering import load_sets  # noqa: E402
from clustering import OnlineStoryClusterer  # noqa: E402
from clustering.lexical import Terms  # noqa: E402
from evaluation.suite import SetFeatures, assign  # noqa: E402
from replay import bcubed  # noqa: E402


def join_features(clusterer: OnlineStoryClusterer, doc, candidates, cosine, gap_s) -> np.ndarray:
    z = clusterer._cosines.standardize(cosine)
    evidence = []
    for stats, terms, which in ((clusterer._entities, Terms.of_entities(doc.entities), 1), (clusterer._words, doc.terms, 0)):
        if terms.keys:
            profiles = [s.entity_counts if which else s.lexical for s in candidates]
            norms = np.array([clusterer._profile_norms(s)[which] for s in candidates])
            evidence.append(stats.cosines(terms, stats.idf(terms.keys), profiles, norms))
        else:
            evidence.append(np.zeros(len(candidates)))
    entities, words = evidence
    n = len(candidates)

    def median(a: np.ndarray) -> float:
        return float(np.median(a)) if n >= 3 else 0.0

    return np.column_stack(
        [
            z,
            entities,
            words,
            z - median(z),
            entities - median(entities),
            words - median(words),
            z - np.max(z),
            np.log1p([s.size for s in candidates]),
            np.full(n, np.log1p(len(doc.entities))),
            np.full(n, np.log1p(len(doc.terms.keys))),
            clusterer._decay(gap_s),
            (entities <= 0) & (len(doc.entities) >= 3),
        ]
    ).astype(float)


class Logging(OnlineStoryClusterer):
    """The defaults, recording every candidate's features and whether it was the article's true story."""

    def __init__(self, *, labels: dict[str, str], **params) -> None:
        super().__init__(**params)
        self.labels = labels
        self.rows: list[tuple[np.ndarray, np.ndarray]] = []
        self.story_labels: dict[str, Counter] = defaultdict(Counter)

    def _join_scores(self, doc, candidates, cosine, gap_s):
        label = self.labels[doc.id]
        truth = [bool(self.story_labels[s.story_id]) and self.story_labels[s.story_id].most_common(1)[0][0] == label for s in candidates]
        self.rows.append((join_features(self, doc, candidates, cosine, gap_s), np.array(truth)))
        return super()._join_scores(doc, candidates, cosine, gap_s)

    def _assign(self, doc):
        assignment = super()._assign(doc)
        self.story_labels[assignment.story_id][self.labels[doc.id]] += 1
        return assignment


class Learned(OnlineStoryClusterer):
    """Joins the best candidate when the model's log-odds exceed `offset`."""

    def __init__(self, *, model: LogisticRegression, offset: float, **params) -> None:
        super().__init__(**params)
        self.model, self.offset = model, offset

    def _join_scores(self, doc, candidates, cosine, gap_s):
        return self.model.decision_function(join_features(self, doc, candidates, cosine, gap_s)) - self.offset + self.threshold


def labels_of(features: SetFeatures) -> dict[str, str]:
    return dict(zip(features.ids, features.labels))


def collect(features: SetFeatures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    clusterer = Logging(labels=labels_of(features), recluster_every=0)
    assign(features, clusterer)
    X = np.vstack([x for x, _ in clusterer.rows])
    y = np.concatenate([t for _, t in clusterer.rows])
    weight = np.concatenate([np.full(len(t), 1.0 / len(t)) for _, t in clusterer.rows]) / len(clusterer.rows)
    return X, y, weight


def f1(args: tuple[SetFeatures, LogisticRegression | None, float]) -> float:
    features, model, offset = args
    clusterer = OnlineStoryClusterer(recluster_every=0) if model is None else Learned(model=model, offset=offset, recluster_every=0)
    return round(bcubed(assign(features, clusterer), labels_of(features))[2], 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features-dir", type=Path, default=ROOT / "out" / "suite-features")
    parser.add_argument("--uci-limit", type=int, default=5000, help="the first N UCI articles (0 = all)")
    parser.add_argument("--offsets", default="-3,-2,-1,0,1", help="log-odds a join needs, comma-separated")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    sets = load_sets(args.features_dir, args.uci_limit)
    names = list(sets)
    offsets = [float(o) for o in args.offsets.split(",")]
    with ProcessPoolExecutor(args.jobs) as pool:
        data = dict(zip(names, pool.map(collect, sets.values())))

        def fit(on: list[str]) -> LogisticRegression:
            X, y, w = (np.concatenate([data[n][i] for n in on]) for i in range(3))
            return LogisticRegression(max_iter=2000).fit(X, y, sample_weight=w * len(w))

        models = {"all sets": fit(names), **{f"without {n}": fit([m for m in names if m != n]) for n in names}}
        jobs = [(None, name, None, 0.0) for name in names]
        jobs += [(fit_name, name, model, offset) for fit_name, model in models.items() for name in names for offset in offsets]
        scores = list(pool.map(f1, [(sets[name], model, offset) for _, name, model, offset in jobs]))
    result: dict = {"sets": {n: len(sets[n].ids) for n in names}, "defaults": {}, "learned": {}}
    for (fit_name, name, _, offset), score in zip(jobs, scores):
        if fit_name is None:
            result["defaults"][name] = score
        else:
            result["learned"].setdefault(fit_name, {}).setdefault(str(offset), {})[name] = score
    result["leave_one_set_out"] = {name: {o: result["learned"][f"without {name}"][o][name] for o in map(str, offsets)} for name in names}
    emit(result)


if __name__ == "__main__":
    main()
