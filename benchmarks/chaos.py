"""Chaos: storywire killed at random moments against a real broker, then every output topic checked.

    .venv/bin/python benchmarks/chaos.py [--articles 1500] [--rate 3] [--kills 20] [--processes 1|2]

Starts a local KRaft broker (deploy/kafka/broker.sh) with two-partition
topics. A producer offers jitter-ordered UCI headlines (`--articles`, at
`--rate` per second) while `storywire run` (recovery store, snapshots every 2 s,
re-clustering every `--recluster-every` articles in a background process, no
retirement so every story stays checkable) is
- killed with SIGKILL `--kills` times, each a random 0..`--max-alive` seconds
  after its /healthz first answers (models loaded), and restarted at once; with
  `--processes 2`, one process of the cluster is killed (the survivor is killed
  too if it does not exit by itself) and both restarted;
- stopped once with SIGTERM (exit code 0 expected) and restarted;
- cut off once from the broker for `--outage` seconds, longer than the
  delivery timeout (lowered to `--delivery-timeout` seconds for the benchmark),
  0..2 s after a restart, while the backlog of the downtime is in the flow;
  /healthz is read every second meanwhile; a process that exits is restarted
  as a supervisor would.
When the producer is done it waits until every article is tagged, stops the
service with SIGTERM and checks the topics with replay.consistency (see the
README's guarantees). Prints JSON: cycles, articles, records, duplicates
delivered, the checks and the time taken. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import UCI, emit, free_port, require_dev_data  # noqa: E402
from replay import ArchiveRecord, apply_protocol, check_outputs, produce_archive, read_archive  # noqa: E402

BROKER = ROOT / "deploy" / "kafka" / "broker.sh"
EMBEDDINGS = Path("/work/main/out/embeddings.sqlite")


@dataclass
class Plan:
    articles: list[ArchiveRecord]
    rate: float = 3.0
    kills: int = 20
    processes: int = 1
    max_alive_s: float = 15.0  # a kill comes 0..this long after the process answers /healthz
    outage_s: float = 25.0  # the broker is down this long, once
    delivery_timeout_s: float = 10.0
    recluster_every: int = 200
    partitions: int = 2
    snapshot_s: float = 2.0
    seed: int = 1
    settings: dict[str, str] = field(default_factory=dict)  # more STORYWIRE_* settings


class Broker:
    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    def __call__(self, command: str) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_DIR": str(self.directory)}
        subprocess.run([str(BROKER), command], env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)


class Cluster:
    """`storywire run` as one or more processes of one Bytewax cluster, restartable."""

    def __init__(self, plan: Plan, env: dict[str, str], workdir: Path, metrics_port: int) -> None:
        self.plan, self.env, self.workdir, self.metrics_port = plan, env, workdir, metrics_port
        self.addresses = ";".join(f"localhost:{free_port()}" for _ in range(plan.processes))
        self.procs: list[subprocess.Popen] = []
        self.exits: list[int] = []  # exit codes of processes that ended by themselves

    def start(self) -> None:
        self.procs = []
        for i in range(self.plan.processes):
            args = ["-r", str(self.workdir / "recovery"), "-s", str(self.plan.snapshot_s)]
            if self.plan.processes > 1:
                args += ["-i", str(i), "-a", self.addresses]
            log = open(self.workdir / f"storywire-{i}.log", "ab")
            command = [sys.executable, "-m", "commands.cli", "--log-level", "INFO", "run", *args]
            self.procs.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=log, cwd=ROOT))

    def health(self, i: int = 0) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port + i}/healthz", timeout=2) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())
        except OSError:
            return None

    def wait_up(self, timeout: float = 600) -> bool:
        """Until every process answers /healthz (models loaded); False if one exited first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                return False
            if all(self.health(i) is not None for i in range(len(self.procs))):
                return True
            time.sleep(0.5)
        raise TimeoutError("storywire did not come up")

    def kill_one(self, rng: random.Random) -> dict:
        """SIGKILL one process; the others get 20 s to end by themselves, then SIGKILL."""
        victim = rng.randrange(len(self.procs))
        self.procs[victim].kill()
        self.procs[victim].wait()
        survivors = {}
        for i, p in enumerate(self.procs):
            if i != victim:
                try:
                    survivors[i] = p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    survivors[i] = "killed after 20 s"
        return {"victim": victim, "survivors": survivors}

    def terminate(self, timeout: float = 180) -> list[int]:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        return [p.wait(timeout) for p in self.procs]

    def restart_exited(self) -> bool:
        """A supervisor's job: if any process ended by itself, stop the rest and start all again."""
        if not any(p.poll() is not None for p in self.procs):
            return False
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            self.exits.append(p.wait())
        self.start()
        return True


def read_all(bootstrap: str, topic: str, idle_s: float = 5.0) -> list[tuple[str | None, dict | None]]:
    """Every record of a topic, up to its end."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"chaos-{time.time_ns()}", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records, positions, last = [], {p: 0 for p in partitions}, time.monotonic()
        while any(positions[p] < ends[p] for p in partitions) and time.monotonic() - last < idle_s:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            last = time.monotonic()
            positions[message.partition()] = message.offset() + 1
            value = json.loads(message.value()) if message.value() is not None else None
            records.append((message.key().decode() if message.key() else None, value))
        return records
    finally:
        consumer.close()


def run(plan: Plan, workdir: Path, log=print) -> dict:
    """The whole experiment; returns the report."""
    rng = random.Random(plan.seed)
    started = time.monotonic()
    broker = Broker(free_port(), workdir / "kafka")
    broker("start")
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")}
    prefix = f"chaos{os.getpid()}"
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "STORYWIRE_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap,
            "STORYWIRE_KAFKA__ARTICLES_TOPIC": f"{prefix}.articles",
            "STORYWIRE_KAFKA__TAGS_TOPIC": f"{prefix}.article-tags",
            "STORYWIRE_KAFKA__STORIES_TOPIC": f"{prefix}.story-clusters",
            "STORYWIRE_KAFKA__DLQ_TOPIC": f"{prefix}.articles.dlq",
            "STORYWIRE_KAFKA__DELIVERY_TIMEOUT_S": str(plan.delivery_timeout_s),
            "STORYWIRE_SOURCE__KIND": "kafka",
            "STORYWIRE_OUTPUT__KIND": "kafka",
            "STORYWIRE_MODELS__TORCH_THREADS": "1",
            "STORYWIRE_METRICS__PORT": str(metrics_port),
            "STORYWIRE_CLUSTERING__RECLUSTER_EVERY": str(plan.recluster_every),
            "STORYWIRE_CLUSTERING__RETIRE_AFTER_ARTICLES": "100000000",
            "STORYWIRE_CLUSTERING__RETIRE_AFTER_HOURS": "100000",
            **plan.settings,
        }
    )
    subprocess.run(
        [sys.executable, "-m", "commands.cli", "kafka", "init-topics", "--partitions", str(plan.partitions)],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    produced: dict = {}
    producer = threading.Thread(
        target=lambda: produced.update(
            report=produce_archive(
                plan.articles, {"bootstrap.servers": broker.bootstrap, "log_level": 0}, env["STORYWIRE_KAFKA__ARTICLES_TOPIC"], rate=plan.rate
            )
        ),
        daemon=True,
    )
    cluster = Cluster(plan, env, workdir, metrics_port)
    events = ["kill"] * plan.kills
    events.insert(plan.kills // 3, "sigterm")
    events.insert(plan.kills // 2, "outage")
    cycles: list[dict] = []
    try:
        cluster.start()
        producer.start()
        for event in events:
            while not cluster.wait_up():
                cluster.restart_exited()
            # the outage comes soon after a restart, while the backlog of the downtime is in the flow
            alive = rng.uniform(0, plan.max_alive_s if event != "outage" else 2.0)
            time.sleep(alive)
            cycle = {"event": event, "alive_s": round(alive, 1), "restarted_by_supervisor": cluster.restart_exited()}
            if event == "kill":
                cycle.update(cluster.kill_one(rng))
            elif event == "sigterm":
                cycle["exit_codes"] = cluster.terminate()
            else:
                broker("kill")
                outage_end, problems = time.monotonic() + plan.outage_s, set()
                while time.monotonic() < outage_end:
                    time.sleep(1)
                    for i in range(plan.processes):
                        problems.update((cluster.health(i) or {"problems": ["no answer"]})["problems"])
                cycle["health_problems_during_outage"] = sorted({p.split(" since ")[0] for p in problems})
                broker("start")
                cycle["exited_during_outage"] = [p.poll() for p in cluster.procs]
                cluster.restart_exited()
                cycles.append(cycle)
                log(json.dumps(cycle))
                continue
            cycles.append(cycle)
            log(json.dumps(cycle))
            cluster.start()
        producer.join()
        ids = [r.parsed["id"] for r in plan.articles]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            cluster.restart_exited()
            tagged = {v["id"] for _, v in read_all(broker.bootstrap, env["STORYWIRE_KAFKA__TAGS_TOPIC"]) if v}
            if set(ids) <= tagged:
                break
            time.sleep(10)
        while not cluster.wait_up():  # a SIGTERM during start-up would not drain
            cluster.restart_exited()
        final_exit = cluster.terminate()
        tags = read_all(broker.bootstrap, env["STORYWIRE_KAFKA__TAGS_TOPIC"])
        stories = read_all(broker.bootstrap, env["STORYWIRE_KAFKA__STORIES_TOPIC"])
        dead = read_all(broker.bootstrap, env["STORYWIRE_KAFKA__DLQ_TOPIC"])
    finally:
        for p in cluster.procs:
            if p.poll() is None:
                p.kill()
        broker("stop")
    report = check_outputs(ids, tags, stories)
    return {
        "processes": plan.processes,
        "partitions": plan.partitions,
        "articles": len(plan.articles),
        "rate_per_s": plan.rate,
        "recluster_every": plan.recluster_every,
        "delivery_timeout_s": plan.delivery_timeout_s,
        "outage_s": plan.outage_s,
        "kills": sum(c["event"] == "kill" for c in cycles),
        "cycles": cycles,
        "exits_by_themselves": cluster.exits,
        "final_exit_codes": final_exit,
        "dead_letters": sum(1 for _, v in dead if v),
        "produce_failures": produced["report"].failed if "report" in produced else None,
        "seconds": round(time.monotonic() - started, 1),
        "checks": report.to_json(),
    }


def uci_articles(n: int) -> list[ArchiveRecord]:
    require_dev_data()
    return apply_protocol(read_archive(UCI, "uci"), "jitter", seed=1, days=2, limit=n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=3.0, help="articles offered per second")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--processes", type=int, default=1, choices=(1, 2))
    parser.add_argument("--max-alive", type=float, default=15.0, help="seconds a process lives at most after /healthz answers")
    parser.add_argument("--outage", type=float, default=25.0, help="seconds the broker is down (once)")
    parser.add_argument("--delivery-timeout", type=float, default=10.0, help="kafka.delivery_timeout_s for the run (default 120)")
    parser.add_argument("--recluster-every", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, recovery store)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="storywire-chaos-"))
    settings = {}
    if EMBEDDINGS.exists():  # a copy: a kill -9 must not touch the shared cache
        shutil.copy(EMBEDDINGS, workdir / "embeddings.sqlite")
        settings["STORYWIRE_MODELS__EMBEDDING_CACHE"] = str(workdir / "embeddings.sqlite")
    plan = Plan(
        uci_articles(args.articles),
        args.rate,
        args.kills,
        args.processes,
        args.max_alive,
        args.outage,
        args.delivery_timeout,
        args.recluster_every,
        seed=args.seed,
        settings=settings,
    )
    try:
        result = run(plan, workdir, log=lambda line: print(line, file=sys.stderr))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"working directory: {workdir}", file=sys.stderr)
    emit(result)
    sys.exit(0 if result["checks"]["ok"] else 1)


if __name__ == "__main__":
    main()
