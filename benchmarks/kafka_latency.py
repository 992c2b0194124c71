"""Kafka mode: produce-to-tag latency p50/p99 at fixed offered rates, and the maximum sustainable rate.

    .venv/bin/python benchmarks/kafka_latency.py [--rates 25,50,100] [--seconds 60] [--backend torch] [--partitions 1] [--processes 1]

Starts a local KRaft broker (deploy/kafka/broker.sh) and `storywire run` (with --processes N: N
processes on this machine, `-i/-a`, one torch thread each, over a topic of --partitions partitions),
then for each offered rate produces UCI headlines for --seconds at that rate
(after a warm-up) and consumes `article-tags`. Latency is the time the tag is
read minus the time its article was produced. The maximum sustainable rate is
the highest offered rate whose p99 stays under 1 s with every article tagged.
Each rate also splits the median latency into its legs, from the tag's own
timestamps: produce -> source read (`to_source`), source read -> tag made
(`in_flow`), tag made -> tag consumed (`to_consumer`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import UCI, emit, free_port, require_dev_data  # noqa: E402
from replay.readers import read_jsonl  # noqa: E402
from replay.times import epoch_seconds  # noqa: E402


def offered(producer, topic: str, headlines: list[str], rate: float, seconds: float, prefix: str) -> dict[str, float]:
    """Produce at `rate`/s for `seconds`; returns produce time per article id."""
    sent: dict[str, float] = {}
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        due = started + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        article_id = f"{prefix}-{n}"
        body = {"id": article_id, "title": headlines[n % len(headlines)], "lang": "en"}
        sent[article_id] = time.time()
        producer.produce(topic, key=article_id, value=json.dumps(body).encode())
        producer.poll(0)
    producer.flush(30)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="25,50,100")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    require_dev_data()
    from confluent_kafka import Consumer, Producer

    headlines = [r.parsed["title"] for _, r in zip(range(20000), read_jsonl(UCI))]
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="storywire-bench-"))
    broker_env = dict(os.environ, KAFKA_PORT=str(port), KAFKA_DIR=str(workdir / "kafka"))
    subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "start"], env=broker_env, check=True, stdout=subprocess.DEVNULL)
    bootstrap = f"localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")}
    env.update(
        STORYWIRE_KAFKA__BOOTSTRAP_SERVERS=bootstrap,
        STORYWIRE_SOURCE__KIND="kafka",
        STORYWIRE_OUTPUT__KIND="kafka",
        STORYWIRE_MODELS__BACKEND=args.backend,
        STORYWIRE_BATCH__TIMEOUT_MS="50",
        STORYWIRE_KAFKA__PARTITIONS=str(args.partitions),
    )
    cluster: list[str] = []
    if args.processes > 1:
        env["STORYWIRE_MODELS__TORCH_THREADS"] = "1"
        cluster = ["-a", ";".join(f"127.0.0.1:{free_port()}" for _ in range(args.processes))]
    services: list[subprocess.Popen] = []
    try:
        subprocess.run([sys.executable, "-m", "commands.cli", "kafka", "init-topics"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        for i in range(args.processes):
            services.append(
                subprocess.Popen(
                    [sys.executable, "-m", "commands.cli", "run", *(["-i", str(i), *cluster] if cluster else [])],
                    env=env,
                    cwd=ROOT,
                    stdout=open(workdir / f"storywire-{i}.log", "wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{port}", "auto.offset.reset": "latest"})
        consumer.subscribe(["article-tags"])
        received: dict[str, float] = {}
        stamps: dict[str, tuple[float, float]] = {}  # id -> (source read, tag made), epoch seconds
        stop = threading.Event()

        def consume() -> None:
            while not stop.is_set():
                message = consumer.poll(0.1)
                if message is not None and not message.error() and message.value():
                    tag = json.loads(message.value())
                    if tag["id"] not in received:
                        received[tag["id"]] = time.time()
                        stamps[tag["id"]] = (epoch_seconds(tag["received_at"]), epoch_seconds(tag["processed_at"]))

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        warm = offered(producer, "articles", headlines, 20, 15, "warmup")  # loads models, starts re-clustering
        _wait(received, warm, 180)
        results = []
        for rate in (float(r) for r in args.rates.split(",")):
            sent = offered(producer, "articles", headlines, rate, args.seconds, f"r{rate:g}")
            _wait(received, sent, 60)
            latencies = [received[i] - t for i, t in sent.items() if i in received]
            p99 = float(np.percentile(latencies, 99)) if latencies else float("inf")
            results.append(
                {
                    "offered_per_s": rate,
                    "seconds": args.seconds,
                    "n": len(sent),
                    "tagged": len(latencies),
                    "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1) if latencies else None,
                    "p99_ms": round(p99 * 1000, 1),
                    "sustained": len(latencies) == len(sent) and p99 < 1.0,
                    "median_legs_ms": _legs(sent, stamps, received),
                }
            )
        stop.set()
        reader.join()
        consumer.close()
        sustained = [r["offered_per_s"] for r in results if r["sustained"]]
        emit(
            {
                "benchmark": "kafka_latency",
                "backend": args.backend,
                "cpus": os.cpu_count(),
                "partitions": args.partitions,
                "processes": args.processes,
                "load_1min_at_end": float(Path("/proc/loadavg").read_text().split()[0]),
                "rates": results,
                "max_sustainable_rate_per_s": max(sustained) if sustained else None,
                "note": "highest offered rate (of those tried) with every article tagged and p99 < 1 s",
            }
        )
    finally:
        for service in services:  # SIGTERM every process of the cluster
            service.terminate()
        for service in services:
            service.wait(60)
        subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "stop"], env=broker_env, check=False, stdout=subprocess.DEVNULL)


def _legs(sent: dict, stamps: dict, received: dict) -> dict[str, float]:
    legs = np.array([(stamps[i][0] - t, stamps[i][1] - stamps[i][0], received[i] - stamps[i][1]) for i, t in sent.items() if i in stamps])
    if not len(legs):
        return {}
    return dict(zip(("to_source", "in_flow", "to_consumer"), (round(float(v) * 1000, 1) for v in np.median(legs, axis=0))))


def _wait(received: dict, sent: dict, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not all(i in received for i in sent):
        time.sleep(0.2)


if __name__ == "__main__":
    main()
