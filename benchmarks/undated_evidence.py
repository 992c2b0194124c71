"""What separates same-kind events without dates: the ablation behind `undated_decay` and `weight_years`.

    .venv/bin/python benchmarks/undated_evidence.py [--features-dir out/suite-features] [--uci-limit 5000]
        [--ecb-seeds 1,2,3,4] [--grid '{"weight_years": [0, 2], "undated_decay": [0.8, 1.0]}'] [--jobs 2]

Replays each dev set's cached features (`storywire eval --suite dev` computes
them) through `OnlineStoryClusterer` (re-clustering off where a variant does not
turn it on) and prints JSON:
- `where_ecb_errs`: ECB+ with the clustering before this change (undated
  articles scored as if simultaneous, no years): BCubed precision and recall
  and the share of the precision loss from merging the two events of one
  topic (ECB+ pairs two same-kind events per topic);
- `ablation`: F1 per set for the change and its parts, and for the ideas
  tried beside it (`Alternative`): years from every article's text, dated or
  not; a penalty when a long article shares no entity with the story;
  weights that move from the embedding to entities and words as the text
  grows; re-clustering often enough to act on small sets; a stricter
  threshold. ECB+ is also replayed in other shuffles
  (`ecbplus-sN`: `random.Random(N)`, the data README's protocol with another
  seed) to tell a gain from the luck of one order;
- `grid`: `weight_years` x `undated_decay` on every set, and the
  leave-one-set-out check: only ECB+ is undated, so the other sets cannot
  choose these two values (every combination ties there); it lists the F1
  the left-out set gets over the tied combinations.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import re
import sys
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import DATA, emit  # noqa: E402
from benchmarks.tune_clustering import load_sets  # noqa: E402
from clustering import OnlineStoryClusterer  # noqa: E402
from clustering.evidence import year_contradiction  # noqa: E402
from clustering.lexical import Terms  # noqa: E402
from clustering.online import MAX_DOC_TERMS  # noqa: E402
from evaluation.suite import SetFeatures, assign  # noqa: E402
from replay import bcubed  # noqa: E402

ECB = DATA / "events" / "ecbplus-events.jsonl.gz"
BEFORE = {"undated_decay": 1.0, "weight_years": 0.0}  # undated articles scored as simultaneous, no years


class Alternative(OnlineStoryClusterer):
    """The defaults plus one of the ideas that lost (each off at 0)."""

    def __init__(self, *, years_everywhere: float = 0.0, entity_disagreement: float = 0.0, long_text_weights=None, **params) -> None:
        super().__init__(**params)
        self.years_everywhere = years_everywhere  # the year penalty on dated articles too
        self.entity_disagreement = entity_disagreement  # minus this when a long article shares < 0.1 entity cosine
        self.long_text_weights = long_text_weights  # (cosine, entities, words) weights at MAX_DOC_TERMS words

    def _join_scores(self, doc, candidates, cosine, gap_s):
        length = min(1.0, len(doc.terms.keys) / MAX_DOC_TERMS)
        base = self.weight_cosine, self.weight_entities, self.weight_lexical
        if self.long_text_weights:
            self.weight_cosine, self.weight_entities, self.weight_lexical = (b + length * (w - b) for b, w in zip(base, self.long_text_weights))
        scores = super()._join_scores(doc, candidates, cosine, gap_s)
        self.weight_cosine, self.weight_entities, self.weight_lexical = base
        if self.years_everywhere and doc.dated and doc.years:
            scores = scores - self.years_everywhere * length * year_contradiction(doc.years, candidates)
        if self.entity_disagreement and doc.entities:
            terms = Terms.of_entities(doc.entities)
            norms = np.array([self._profile_norms(s)[1] for s in candidates])
            shared = self._entities.cosines(terms, self._entities.idf(terms.keys), [s.entity_counts for s in candidates], norms)
            scores = scores - self.entity_disagreement * min(1.0, len(terms.keys) / 10) * (shared <= 0.1)
        return scores


ALTERNATIVES = {
    "before (undated as simultaneous, no years)": BEFORE,
    "undated_decay 0.8 only": {"weight_years": 0.0},
    "weight_years 2 only": {"undated_decay": 1.0},
    "defaults (both)": {},
    "years on every article, dated too (2)": {"years_everywhere": 2.0},
    "before + years on every article (2)": {**BEFORE, "years_everywhere": 2.0, "weight_years": 2.0},
    "before + entity disagreement 2": {**BEFORE, "entity_disagreement": 2.0},
    "before + entity disagreement 4": {**BEFORE, "entity_disagreement": 4.0},
    "before + long-text weights 0.5/8/11": {**BEFORE, "long_text_weights": (0.5, 8.0, 11.0)},
    "before + re-clustering every 250 (mcs 3)": {**BEFORE, "recluster_every": 250, "min_cluster_size": 3},
    "before + threshold 6.0": {**BEFORE, "threshold": 6.0},
    "before + threshold 6.5": {**BEFORE, "threshold": 6.5},
}
GRID = {"weight_years": [0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0], "undated_decay": [0.7, 0.8, 0.9, 1.0]}


def reshuffled(features: SetFeatures, seed: int) -> SetFeatures:
    """The ECB+ features in the order `random.Random(seed)` shuffles the archive (the suite uses seed 1)."""
    with gzip.open(ECB, "rt", encoding="utf-8") as lines:
        ids = [json.loads(line)["id"] for line in lines]
    random.Random(seed).shuffle(ids)
    row = {doc_id: i for i, doc_id in enumerate(features.ids)}
    order = [row[d] for d in ids if d in row]
    return SetFeatures(
        [features.ids[i] for i in order],
        [features.titles[i] for i in order],
        [features.texts[i] for i in order],
        features.published_at[order],
        features.vectors[order],
        [features.entities[i] for i in order],
        [features.labels[i] for i in order],
        [features.dated[i] for i in order],
    )


def f1(args: tuple[SetFeatures, dict]) -> float:
    features, params = args
    clusterer = Alternative(**{"recluster_every": 0, "recluster_mode": "inline", **params})
    return round(bcubed(assign(features, clusterer), dict(zip(features.ids, features.labels)))[2], 4)


def where_ecb_errs(features: SetFeatures) -> dict:
    """Precision, recall, and the share of precision lost to merging the two events of one topic."""
    labels = dict(zip(features.ids, features.labels))
    predicted = assign(features, OnlineStoryClusterer(**BEFORE, recluster_every=0))
    precision, recall, score = bcubed(predicted, labels)
    stories: dict[str, Counter] = defaultdict(Counter)
    for doc_id, story in predicted.items():
        stories[story][labels[doc_id]] += 1
    topic = {label: re.match(r"\d+", label).group() for label in set(labels.values())}  # "12ecb", "12ecbplus": topic 12
    loss = Counter()
    for members in stories.values():
        size = sum(members.values())
        for a, b in itertools.permutations(members, 2):
            loss["same topic" if topic[a] == topic[b] else "other topic"] += members[a] * members[b] / size
    total = sum(loss.values()) or 1.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(score, 4),
        "precision_loss_share": {k: round(v / total, 3) for k, v in loss.items()},
        "stories_mixing_events": sum(1 for m in stories.values() if len(m) > 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features-dir", type=Path, default=ROOT / "out" / "suite-features")
    parser.add_argument("--uci-limit", type=int, default=5000, help="the first N UCI articles (0 = all)")
    parser.add_argument("--ecb-seeds", default="1,2,3,4", help="ECB+ shuffles to replay (1 = the suite's)")
    parser.add_argument("--grid", type=json.loads, default=GRID, help="JSON object: weight_years, undated_decay -> values")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    sets = load_sets(args.features_dir, args.uci_limit)
    for seed in (int(s) for s in args.ecb_seeds.split(",") if s != "1"):
        sets[f"ecbplus-s{seed}"] = reshuffled(sets["ecbplus"], seed)
    names = list(sets)
    main_sets = [n for n in names if "-s" not in n]
    combos = [dict(zip(args.grid, values)) for values in itertools.product(*args.grid.values())]
    grid_sets = [n for n in names if n.startswith("ecbplus")]  # the grid only moves undated sets; the others once
    with ProcessPoolExecutor(args.jobs) as pool:
        ablation = list(pool.map(f1, [(sets[n], p) for p in ALTERNATIVES.values() for n in names]))
        grid = list(pool.map(f1, [(sets[n], c) for c in combos for n in grid_sets]))
    result: dict = {"sets": {n: len(sets[n].ids) for n in names}, "where_ecb_errs": where_ecb_errs(sets["ecbplus"])}
    result["ablation"] = {name: dict(zip(names, ablation[i * len(names) : (i + 1) * len(names)])) for i, name in enumerate(ALTERNATIVES)}
    dated_f1 = result["ablation"]["defaults (both)"]
    table = [
        {"params": c, "f1": {**{n: dated_f1[n] for n in main_sets}, **dict(zip(grid_sets, grid[i * len(grid_sets) : (i + 1) * len(grid_sets)]))}}
        for i, c in enumerate(combos)
    ]
    chosen = next(row for row in table if row["params"] == {"weight_years": 2.0, "undated_decay": 0.8})
    loso = {}
    for left_out in main_sets:
        others = [n for n in main_sets if n != left_out]
        best = max(sum(row["f1"][n] for n in others) for row in table)
        tied = [row["f1"][left_out] for row in table if sum(row["f1"][n] for n in others) >= best - 1e-9]
        loso[left_out] = {"tied_combinations": len(tied), "f1_left_out_min": min(tied), "f1_left_out_max": max(tied), "f1_defaults": chosen["f1"][left_out]}
    result["grid"] = {
        "values": args.grid,
        "table": table,
        "leave_one_set_out": loso,
        "note": "the grid rows only differ on undated sets (ECB+); the other sets' F1 is the defaults'",
    }
    emit(result)


if __name__ == "__main__":
    main()
