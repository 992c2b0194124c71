"""End-to-end embedded mode per encoder backend and layout: docs/s, per-article latency p50/p99, BCubed F1,
clustering cost per article, peak RSS.

    .venv/bin/python benchmarks/end_to_end.py [--days 7] [--runs 3] [--backends torch,onnx-int8,static] [--layouts 1x1,2x1]

A layout is PROCESSES x WORKERS_PER_PROCESS on this machine (`storywire eval -i/-a/-w`). Each
(round, backend, layout) is one `storywire eval` cluster over the first N days of the UCI dev split
(jitter protocol, seed 1) with the embedding cache off; backends and layouts alternate within each
round so machine load hits them alike, and each round's ratio to the round's 1x1 run of the same
backend is a side-by-side ratio. In a multi-process layout the other processes start first and load
their models; process 0 (which reads the archive, writes and scores the outputs, and times the run
from its first record) starts once they are ready, and its models load before its clock starts.
Latency is processed_at - received_at of each tagged article. Each run records `uptime`'s 1-minute
load when it starts. Reported: medians over the rounds, and every run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import UCI, backend_env, emit, require_dev_data  # noqa: E402
from replay.times import epoch_seconds  # noqa: E402

READY = "models loaded, starting the dataflow"  # flows/runner.py logs this just before the dataflow starts


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def load_1min() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def eval_cluster(eval_args: list[str], env: dict, layout: tuple[int, int], out: Path) -> tuple[dict, float | None, float]:
    """One `storywire eval` with `eval_args` in a PROCESSES x WORKERS layout, into `out`: its metrics.json, the
    clustering ms per article another process reported (when the shard ran there), and the 1-minute load at start."""
    processes, workers = layout
    env = dict(env)
    if processes > 1:
        env["STORYWIRE_MODELS__TORCH_THREADS"] = "1"  # one core per process
    command = [sys.executable, "-m", "commands.cli", "eval", *eval_args, "--out", str(out), "--no-progress", "-w", str(workers)]
    cluster = []
    if processes > 1:
        cluster = ["-a", ";".join(f"127.0.0.1:{p}" for p in free_ports(processes))]
    load = load_1min()
    others = []
    for i in range(1, processes):
        log = out.parent / f"{out.name}-p{i}.log"
        with log.open("w") as err:
            others.append(
                (
                    subprocess.Popen(
                        [sys.executable, "-m", "commands.cli", "--log-level", "INFO", *command[3:], "-i", str(i), *cluster],
                        env=env,
                        cwd=ROOT,
                        stdout=subprocess.PIPE,
                        stderr=err,
                        text=True,
                    ),
                    log,
                )
            )
    for proc, log in others:
        while READY not in log.read_text():
            if proc.poll() is not None:
                raise RuntimeError(f"process failed: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    subprocess.run(command + (["-i", "0", *cluster] if cluster else []), env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    cluster_ms = []
    for proc, _ in others:
        printed, _ = proc.communicate(timeout=120)
        cluster_ms += [float(m) for m in re.findall(r"clustering: ([\d.]+) ms per article", printed)]
    return json.loads((out / "metrics.json").read_text()), (cluster_ms[0] if cluster_ms else None), load


def one_run(backend: str, layout: tuple[int, int], days: int, out: Path, device: str) -> dict:
    env = dict(os.environ, **backend_env(backend), STORYWIRE_MODELS__DEVICE=device)
    uci = ["--input", str(UCI), "--format", "uci", "--label-field", "story", "--protocol", "jitter", "--seed", "1", "--days", str(days)]
    metrics, cluster_ms, load = eval_cluster(uci, env, layout, out)
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
        "cluster_ms_per_article": metrics["cluster_ms_per_article"] or cluster_ms,
        "peak_rss_mb_process0": metrics["peak_rss_mb"],
        "load_1min_at_start": load,
        "n_docs": metrics["n_docs"],
    }


def parse_layout(text: str) -> tuple[int, int]:
    processes, _, workers = text.partition("x")
    return int(processes), int(workers or 1)


def encoder_device(device: str) -> str:
    """Where the torch encoder runs for models.device (the other backends run on the CPU)."""
    from taggers.encoder import resolve_device

    return resolve_device(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--backends", default="torch,onnx,onnx-int8,static", help="comma-separated; static=DIR is the static backend with models.static_model = DIR"
    )
    parser.add_argument("--layouts", default="1x1", help="PROCESSESxWORKERS, comma-separated (default: 1x1)")
    parser.add_argument("--device", default="auto", help="models.device: auto | cpu | cuda (default: auto)")
    args = parser.parse_args()
    require_dev_data()
    layouts = [parse_layout(x) for x in args.layouts.split(",")]
    configs = [(b, layout) for b in args.backends.split(",") for layout in layouts]
    name = {c: f"{c[0]}@{c[1][0]}x{c[1][1]}" for c in configs}
    runs: dict[tuple, list[dict]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.runs):
            for config in configs:
                runs[config].append(one_run(*config, args.days, Path(tmp) / f"c{configs.index(config)}-{round_}", args.device))
    result = {"benchmark": "end_to_end", "days": args.days, "runs": args.runs, "cpus": os.cpu_count(), "device": encoder_device(args.device), "configs": {}}
    for config, rows in runs.items():
        entry = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "n_docs" and rows[0][key] is not None}
        single = runs.get((config[0], (1, 1)))
        if single is not None and config[1] != (1, 1):
            entry["docs_per_s_ratio_to_1x1"] = round(statistics.median(r["docs_per_s"] / s["docs_per_s"] for r, s in zip(rows, single)), 3)
        result["configs"][name[config]] = {**entry, "n_docs": rows[0]["n_docs"], "all_runs": rows}
    torch_single = result["configs"].get("torch@1x1")
    if torch_single:
        for entry in result["configs"].values():
            entry["bcubed_f1_minus_torch_1x1"] = round(entry["bcubed_f1"] - torch_single["bcubed_f1"], 4)
    emit(result)


if __name__ == "__main__":
    main()
