"""End-to-end embedded mode per encoder backend: docs/s, per-article latency p50/p99, BCubed F1, peak RSS.

    .venv/bin/python benchmarks/end_to_end.py [--days 7] [--runs 3] [--backends torch,onnx-int8,static]

Each (round, backend) is one `storywire eval` process over the first N days of
the UCI dev split (jitter protocol, seed 1) with the embedding cache off;
backends alternate within each round so machine load hits them alike. Latency
is processed_at - received_at of each tagged article. Reported: medians over
the rounds, and every run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import UCI, emit, require_dev_data  # noqa: E402
from replay.evaluation import epoch_seconds  # noqa: E402


def one_run(backend: str, days: int, out: Path) -> dict:
    env = dict(os.environ, STORYWIRE_MODELS__BACKEND=backend)
    command = [sys.executable, "-m", "flows.cli", "eval", "--input", str(UCI), "--format", "uci", "--label-field", "story",
               "--protocol", "jitter", "--seed", "1", "--days", str(days), "--out", str(out), "--no-progress"]
    subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    latencies = []
    with (out / "tags.jsonl").open() as f:
        for line in f:
            tag = json.loads(line)
            latencies.append(epoch_seconds(tag["processed_at"]) - epoch_seconds(tag["received_at"]))
    return {
        "docs_per_s": metrics["docs_per_s"],
        "latency_p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1),
        "latency_p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1),
        "bcubed_f1": metrics["bcubed_f1"],
        "peak_rss_mb": metrics["peak_rss_mb"],
        "n_docs": metrics["n_docs"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8,static")
    args = parser.parse_args()
    require_dev_data()
    runs: dict[str, list[dict]] = {b: [] for b in args.backends.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.runs):
            for backend in runs:
                runs[backend].append(one_run(backend, args.days, Path(tmp) / f"{backend}-{round_}"))
    result = {"benchmark": "end_to_end", "days": args.days, "runs": args.runs, "cpus": os.cpu_count(), "backends": {}}
    for backend, rows in runs.items():
        result["backends"][backend] = {
            **{key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "n_docs"},
            "n_docs": rows[0]["n_docs"],
            "all_runs": rows,
        }
    if "torch" in runs:
        for entry in result["backends"].values():
            entry["bcubed_f1_minus_torch"] = round(entry["bcubed_f1"] - result["backends"]["torch"]["bcubed_f1"], 4)
    emit(result)


if __name__ == "__main__":
    main()
