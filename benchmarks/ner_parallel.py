"""NER throughput on UCI headlines: one process against spaCy's own multiprocessing, side by side.

    .venv/bin/python benchmarks/ner_parallel.py [--headlines 4000] [--runs 3] [--n-process 2]

The enrichment step tags one micro-batch (64 articles) per call, so spaCy's
`nlp.pipe(n_process=N)` would run once per batch: `per_batch` measures that,
`whole_stream` the best case for it (one call over every headline, children
started once). `sequential` is what one storywire process does today. Two
storywire processes (each tagging its own batches) are measured end to end by
benchmarks/end_to_end.py --layouts 1x1,2x1. Reported: headlines/s, medians over
the rounds (methods alternate within each round), and `uptime`'s load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import UCI, emit, require_dev_data  # noqa: E402
from replay.readers import read_jsonl  # noqa: E402
from taggers import EntityTagger  # noqa: E402

BATCH = 64


def rate(n: int, run) -> float:
    started = time.perf_counter()
    run()
    return round(n / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--headlines", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n-process", type=int, default=2)
    args = parser.parse_args()
    require_dev_data()
    headlines = [r.parsed["title"] for _, r in zip(range(args.headlines), read_jsonl(UCI))]
    batches = [headlines[i : i + BATCH] for i in range(0, len(headlines), BATCH)]
    nlp = EntityTagger().nlp
    n = args.n_process
    methods = {
        "sequential": lambda: [list(nlp.pipe(b, batch_size=BATCH)) for b in batches],
        f"per_batch_n_process_{n}": lambda: [list(nlp.pipe(b, batch_size=BATCH // n, n_process=n)) for b in batches[:8]],
        f"whole_stream_n_process_{n}": lambda: list(nlp.pipe(headlines, batch_size=BATCH, n_process=n)),
    }
    sizes = {name: (8 * BATCH if name.startswith("per_batch") else len(headlines)) for name in methods}
    rates: dict[str, list[float]] = {name: [] for name in methods}
    loads = []
    for _ in range(args.runs):
        loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
        for name, method in methods.items():
            rates[name].append(rate(sizes[name], method))
    emit(
        {
            "benchmark": "ner_parallel",
            "headlines": len(headlines),
            "cpus": os.cpu_count(),
            "load_1min_at_rounds": loads,
            "headlines_per_s": {name: statistics.median(r) for name, r in rates.items()},
            "all_runs": rates,
        }
    )


if __name__ == "__main__":
    main()
