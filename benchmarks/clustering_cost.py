"""What the clustering step costs per article, for two configurations side by side.

    .venv/bin/python benchmarks/clustering_cost.py [--set uci-14d] [--limit 10000] [--runs 3]
        [--a '{"calibrated": false, ...}'] [--b '{}'] [--journal]

Replays a dev set's features (computed by `storywire eval --suite dev`)
through `OnlineStoryClusterer` with configuration A and B, alternating, and
prints JSON: the median milliseconds per article of each and their ratio.
Enrichment (NER, encoder) is the same for both, so this ratio is what a
clustering change does to the flow's docs/s. Defaults: A = the clustering
defaults before calibration (raw cosine 0.4, entity overlap 0.4, 24 h decay,
stories retired after 72 h idle), B = today's defaults; re-clustering off.

`--journal`: B's configuration twice, in lockstep batch by batch, once with
every batch of 64 in a transaction as the cluster step runs it (assign, drain
the changes, commit): the ratio of their CPU time is what the undo log
(clustering.journal) costs; the JSON adds the undo records per article and
whether both gave the same assignments.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import emit  # noqa: E402
from benchmarks.tune_clustering import load_sets  # noqa: E402
from clustering import OnlineStoryClusterer  # noqa: E402
from evaluation.suite import SetFeatures, assign  # noqa: E402

BEFORE = {
    "calibrated": False,
    "threshold": 0.4,
    "weight_entities": 0.4,
    "weight_lexical": 0.0,
    "time_grace_hours": 0.0,
    "time_floor": 0.0,
    "retire_after_hours": 72.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features-dir", type=Path, default=ROOT / "out" / "suite" / "features")
    parser.add_argument("--set", default="uci-14d")
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--a", type=json.loads, default=BEFORE, help="JSON parameters of configuration A")
    parser.add_argument("--b", type=json.loads, default={}, help="JSON parameters of configuration B")
    parser.add_argument("--journal", action="store_true", help="A = B's configuration without transactions, B with one per batch")
    args = parser.parse_args()
    features = load_sets(args.features_dir, args.limit)[args.set]
    if args.journal:
        emit({"set": args.set, "articles": len(features.ids), "runs": args.runs, "params": args.b or "defaults", **journal_cost(features, args.b, args.runs)})
        return
    ms: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(args.runs):
        for name in ("a", "b"):
            clusterer = OnlineStoryClusterer(**{**getattr(args, name), "recluster_every": 0})
            started = time.perf_counter()
            assign(features, clusterer)
            ms[name].append(1000 * (time.perf_counter() - started) / len(features.ids))
    median = {name: round(statistics.median(values), 3) for name, values in ms.items()}
    emit(
        {
            "set": args.set,
            "articles": len(features.ids),
            "runs": args.runs,
            "a": args.a,
            "b": args.b or "defaults",
            "ms_per_article": median,
            "all_runs_ms": {k: [round(v, 3) for v in vs] for k, vs in ms.items()},
            "b_over_a": round(median["b"] / median["a"], 2),
        }
    )


def journal_cost(features: SetFeatures, params: dict, runs: int, batch_size: int = 64) -> dict:
    """Two clusterers in lockstep, batch by batch (which goes first alternates), one running each batch in a
    transaction as the cluster step does (assign, drain, commit): side by side, so a shared machine's load
    falls on both alike. Times are this process's CPU time."""
    docs = features.docs()
    plain_ms, journaled_ms, undo_records = [], [], []
    identical = True
    for _ in range(runs):
        plain, journaled = (OnlineStoryClusterer(**{**params, "recluster_every": 0}) for _ in range(2))
        spent = {id(plain): 0.0, id(journaled): 0.0}
        for n, start in enumerate(range(0, len(docs), batch_size)):
            batch, out = docs[start : start + batch_size], {}
            for clusterer in (plain, journaled) if n % 2 else (journaled, plain):
                started = time.process_time()
                if clusterer is journaled:
                    clusterer.begin()
                assigned = clusterer.partial_fit_predict(batch)
                changed, moved = clusterer.drain_changes()
                if clusterer._journal is not None:
                    undo_records.append(len(clusterer._journal))
                    clusterer.commit()
                spent[id(clusterer)] += time.process_time() - started
                out[id(clusterer)] = ([(a.story_id, a.score) for a in assigned], [(s.story_id, s.version) for s in changed], moved)
            identical = identical and out[id(plain)] == out[id(journaled)]
        plain_ms.append(1000 * spent[id(plain)] / len(docs))
        journaled_ms.append(1000 * spent[id(journaled)] / len(docs))
    ratios = [j / p for p, j in zip(plain_ms, journaled_ms)]
    return {
        "cpu_ms_per_article": {"plain": round(statistics.median(plain_ms), 3), "journaled": round(statistics.median(journaled_ms), 3)},
        "journaled_over_plain": round(statistics.median(ratios), 3),
        "all_run_ratios": sorted(round(r, 3) for r in ratios),
        "identical_assignments": identical,
        "undo_records_per_article": round(sum(undo_records) / runs / len(docs), 1),
        "max_undo_records_per_batch": max(undo_records),
    }


if __name__ == "__main__":
    main()
