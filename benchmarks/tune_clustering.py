"""Choose the clustering defaults on every labelled dev set at once, and check they generalise.

    .venv/bin/python benchmarks/tune_clustering.py [--features-dir out/suite-features] [--uci-limit 20000] [--jobs 2]
        [--grid '{"threshold": [6, 7, 8], ...}'] [--batch-size 64]

Reads the sets' features as `storywire eval --suite dev` computed them (run
the suite once first), replays each set through `OnlineStoryClusterer` for
every combination of the grid (re-clustering off: it moves F1 by less than
0.01 and costs most of the time) and prints JSON: every combination's BCubed
F1 per set, the combination with the best mean F1 over the sets, and the
leave-one-set-out check: for each set, the best combination on the other sets
and the F1 it scores on the one left out, beside the all-sets choice's.
`--uci-limit` tunes on the first articles of the UCI slice (the suite scores
all of them). `--batch-size` is how many articles each `partial_fit_predict`
call gets (a live stream's batches are small, a replay's large; the scores
must not depend on it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import emit  # noqa: E402
from clustering import OnlineStoryClusterer  # noqa: E402
from evaluation.suite import SetFeatures, assign  # noqa: E402
from flows.config import ClusteringConfig  # noqa: E402
from replay import bcubed  # noqa: E402

GRID = {
    "threshold": [5.0, 6.0, 7.0, 8.0],
    "weight_entities": [2.0, 4.0],
    "weight_lexical": [4.0, 8.0],
    "time_grace_hours": [24.0, 48.0],
    "time_scale_hours": [24.0, 168.0],
}


def load_sets(features_dir: Path, uci_limit: int | None) -> dict[str, SetFeatures]:
    sets = {}
    for path in sorted(features_dir.glob("*.json")):
        name = path.stem.rsplit("-", 1)[0]
        features = SetFeatures.load(path.with_suffix(""))
        if name.startswith("uci") and uci_limit:
            features = features.head(uci_limit)
        sets[name] = features
    if not sets:
        sys.exit(f"no set features in {features_dir}: run `storywire eval --suite dev` first")
    return sets


def score(args: tuple[SetFeatures, dict, int]) -> float:
    features, params, batch_size = args
    defaults = {f: getattr(ClusteringConfig(), f) for f in ("window_hours", "retire_after_hours", "max_window", "n_candidates")}
    clusterer = OnlineStoryClusterer(**{**defaults, **params, "recluster_every": 0})
    return round(bcubed(assign(features, clusterer, batch_size), dict(zip(features.ids, features.labels)))[2], 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features-dir", type=Path, default=ROOT / "out" / "suite-features")
    parser.add_argument("--uci-limit", type=int, default=20_000, help="tune on the first N UCI articles (0 = all)")
    parser.add_argument("--grid", type=json.loads, default=GRID, help="JSON object: parameter -> list of values")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64, help="articles per partial_fit_predict call")
    args = parser.parse_args()
    sets = load_sets(args.features_dir, args.uci_limit)
    names = list(sets)
    combos = [dict(zip(args.grid, values)) for values in itertools.product(*args.grid.values())]
    work = [(sets[n], c, args.batch_size) for c in combos for n in names]
    with ProcessPoolExecutor(args.jobs) as pool:
        f1 = list(pool.map(score, work, chunksize=1))
    table = [{"params": c, "f1": dict(zip(names, f1[i * len(names) : (i + 1) * len(names)]))} for i, c in enumerate(combos)]

    def best(on: list[str]) -> dict:
        return max(table, key=lambda row: (sum(row["f1"][n] for n in on) / len(on), min(row["f1"][n] for n in on)))

    chosen = best(names)
    loso = {}
    for left_out in names:
        pick = best([n for n in names if n != left_out])
        loso[left_out] = {
            "params": pick["params"],
            "f1_left_out": pick["f1"][left_out],
            "f1_all_sets_choice": chosen["f1"][left_out],
            "difference": round(pick["f1"][left_out] - chosen["f1"][left_out], 4),
        }
    emit(
        {
            "sets": {n: len(sets[n].ids) for n in names},
            "grid": args.grid,
            "batch_size": args.batch_size,
            "chosen": chosen,
            "leave_one_set_out": loso,
            "table": sorted(table, key=lambda row: -sum(row["f1"].values())),
        }
    )


if __name__ == "__main__":
    main()
