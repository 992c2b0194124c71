"""ECB+ re-dated as a day-only, multi-day feed: do multi-day stories stay together without merging same-kind events?

    .venv/bin/python benchmarks/day_only_events.py [--features-dir out/suite/features] [--seeds 1,2,3]
        [--days 120] [--spread 3] [--params '{"retire_after_hours": 2160}']

Feeds withheld for checking cover each event over several days with dates
at midnight; ECB+ has the text and the events (two of each kind, such as
two earthquakes) but no dates. This gives every event a start day drawn
over `--days` days and every article a date at midnight 0 to `--spread`-1
days after it, then replays the set in time order (same-day order shuffled)
with the defaults (plus `--params`), the naive centroid baselines and offline
HDBSCAN, on the suite's cached features. Nothing is tuned on it. Prints JSON:
BCubed P/R/F1 per seed and method.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import emit  # noqa: E402
from benchmarks.tune_clustering import load_sets  # noqa: E402
from clustering import OnlineStoryClusterer  # noqa: E402
from evaluation.suite import SetFeatures, assign, baselines  # noqa: E402
from replay import bcubed  # noqa: E402

DAY = 86_400.0
START = 1_500_000_000.0 // DAY * DAY  # a midnight in July 2017


def day_only(features: SetFeatures, seed: int, days: int, spread: int) -> SetFeatures:
    """Each event starts on a random day; its articles are dated at midnight over `spread` days; stream in time order."""
    rng = random.Random(seed)
    start = {label: rng.randrange(days) for label in sorted(set(features.labels))}
    dates = [START + (start[label] + rng.randrange(spread)) * DAY for label in features.labels]
    order = sorted(range(len(dates)), key=lambda i: (dates[i], rng.random()))
    pick = lambda values: [values[i] for i in order]  # noqa: E731
    return SetFeatures(
        pick(features.ids),
        pick(features.titles),
        pick(features.texts),
        np.array(pick(dates)),
        features.vectors[order],
        pick(features.entities),
        pick(features.labels),
        [True] * len(order),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features-dir", type=Path, default=ROOT / "out" / "suite" / "features")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--days", type=int, default=120, help="event start days are drawn over this many days")
    parser.add_argument("--spread", type=int, default=3, help="an event's articles fall on this many days")
    parser.add_argument("--params", type=json.loads, default={}, help="JSON object: clusterer settings over the defaults")
    args = parser.parse_args()
    ecb = load_sets(args.features_dir, None).get("ecbplus")
    if ecb is None:
        sys.exit(f"no ECB+ features in {args.features_dir}: run `storywire eval --suite dev` first")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        features = day_only(ecb, seed, args.days, args.spread)
        labels = dict(zip(features.ids, features.labels))
        clusterer = OnlineStoryClusterer(**{**args.params, "recluster_every": 0})  # the estimator's defaults are the service's
        p, r, f1 = bcubed(assign(features, clusterer), labels)
        rows.append({"seed": seed, "method": "storywire defaults", "bcubed_precision": round(p, 4), "bcubed_recall": round(r, 4), "bcubed_f1": round(f1, 4)})
        for row in baselines(features):
            if "skipped" not in row:
                scores = {k: row[k] for k in ("method", "bcubed_precision", "bcubed_recall", "bcubed_f1")}
                rows.append({"seed": seed, **scores, "best_naive": row.get("best_naive", False)})
    emit({"articles": len(ecb.ids), "events": len(set(ecb.labels)), "days": args.days, "spread": args.spread, "params": args.params, "rows": rows})


if __name__ == "__main__":
    main()
