"""What the clustering step costs per article, for two configurations side by side.

    .venv/bin/python benchmarks/clustering_cost.py [--set uci-14d] [--limit 10000] [--runs 3]
        [--a '{"calibrated": false, ...}'] [--b '{}']

Replays a dev set's features (computed by `storywire eval --suite dev`)
through `OnlineStoryClusterer` with configuration A and B, alternating, and
prints JSON: the median milliseconds per article of each and their ratio.
Enrichment (NER, encoder) is the same for both, so this ratio is what a
clustering change does to the flow's docs/s. Defaults: A = the clustering
defaults before calibration (raw cosine 0.4, entity overlap 0.4, 24 h decay,
stories retired after 72 h idle), B = today's defaults; re-clustering off.
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
from evaluation.suite import assign  # noqa: E402

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
    args = parser.parse_args()
    features = load_sets(args.features_dir, args.limit)[args.set]
    ms: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(args.runs):
        for name in ("a", "b"):
            clusterer = OnlineStoryClusterer(**{**getattr(args, name), "recluster_every": 0})
            started = time.perf_counter()
            assign(features, clusterer)
            ms[name].append(1000 * (time.perf_counter() - started) / len(features.ids))
    median = {name: round(statistics.median(values), 3) for name, values in ms.items()}
    emit({"set": args.set, "articles": len(features.ids), "runs": args.runs, "a": args.a, "b": args.b or "defaults",
          "ms_per_article": median, "all_runs_ms": {k: [round(v, 3) for v in vs] for k, vs in ms.items()},
          "b_over_a": round(median["b"] / median["a"], 2)})


if __name__ == "__main__":
    main()
