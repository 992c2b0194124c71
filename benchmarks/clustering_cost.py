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

`--journal`: A and B are both B's configuration, B with every batch of 64 in
a transaction (as the cluster step runs it: assign and drain the changes,
then commit), so the ratio is what the undo log (clustering.journal) costs;
the JSON adds the undo records per article and whether both gave the same stories.
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
from flows.suite import assign  # noqa: E402

BEFORE = {"calibrated": False, "threshold": 0.4, "weight_entities": 0.4, "weight_lexical": 0.0, "time_grace_hours": 0.0,
          "time_floor": 0.0, "retire_after_hours": 72.0}


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
    if args.journal:
        args.a = args.b
    features = load_sets(args.features_dir, args.limit)[args.set]
    ms: dict[str, list[float]] = {"a": [], "b": []}
    cpu_ms: dict[str, list[float]] = {"a": [], "b": []}
    stories: dict[str, dict[str, str]] = {}
    for _ in range(args.runs):
        for name in ("a", "b"):
            kind = Journaled if args.journal and name == "b" else OnlineStoryClusterer
            clusterer = kind(**{**getattr(args, name), "recluster_every": 0})
            started, cpu_started = time.perf_counter(), time.process_time()
            stories[name] = assign(features, clusterer)
            if isinstance(clusterer, Journaled):
                clusterer.commit_open()
            ms[name].append(1000 * (time.perf_counter() - started) / len(features.ids))
            cpu_ms[name].append(1000 * (time.process_time() - cpu_started) / len(features.ids))
    median = {name: round(statistics.median(values), 3) for name, values in ms.items()}
    cpu = {name: round(statistics.median(values), 3) for name, values in cpu_ms.items()}
    emit({"set": args.set, "articles": len(features.ids), "runs": args.runs, "a": args.a, "b": args.b or "defaults",
          "journal": args.journal, "ms_per_article": median, "all_runs_ms": {k: [round(v, 3) for v in vs] for k, vs in ms.items()},
          "b_over_a": round(median["b"] / median["a"], 3),
          # CPU time of this process: less disturbed than wall time on a shared machine
          "cpu_ms_per_article": cpu, "cpu_b_over_a": round(cpu["b"] / cpu["a"], 3),
          "paired_cpu_ratios": sorted(round(b / a, 3) for a, b in zip(cpu_ms["a"], cpu_ms["b"])),
          **({"identical_stories": stories["a"] == stories["b"],
              "undo_records_per_article": round(sum(clusterer.undo_records) / len(features.ids), 1),
              "max_undo_records_per_batch": max(clusterer.undo_records)} if isinstance(clusterer, Journaled) else {})})


class Journaled(OnlineStoryClusterer):
    """Every batch in a transaction, as in the cluster step: it opens with the batch and commits once the
    batch's changes were drained (at the next batch); `undo_records` counts what each batch journaled."""

    undo_records: list[int]

    def partial_fit_predict(self, docs):
        self.commit_open()
        self.begin()
        return super().partial_fit_predict(docs)

    def commit_open(self) -> None:
        if self._journal is not None:
            self.__dict__.setdefault("undo_records", []).append(len(self._journal))
            self.commit()


if __name__ == "__main__":
    main()
