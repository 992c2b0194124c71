"""Fuzz the real flow: hostile records mixed with real dev articles, replayed from a file.

Writes a JSON-lines archive of `--good` real articles (UCI dev, in their
order; the demo firehose without the dev data) with `--hostile` mutations of
them (replay/hostile.py) at random places, replays it through the flow as
`storywire replay` does (flows.runner.run, real models) or, with `--kafka`,
produces it to a running broker and runs `storywire run` on it, and prints JSON:

- the accounting: records in = tagged + dead-lettered + ignored duplicates,
  each from the flow's counters and checked against the output files;
- whether every good article was tagged;
- peak RSS of the process tree in the first and the second half of the input;
- dead letters per reason (first words) and per mutation that made them.

Exits 1 when the accounting or the good articles do not add up.

    .venv/bin/python benchmarks/fuzz.py --hostile 100000 --good 10000
    deploy/kafka/broker.sh start && .venv/bin/python benchmarks/fuzz.py --hostile 5000 --good 1000 --kafka localhost:9092
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Producer  # noqa: E402
from prometheus_client import REGISTRY  # noqa: E402

from admin.topics import follow, init_topics  # noqa: E402
from benchmarks.common import UCI, emit  # noqa: E402
from evaluation.harness import tree_rss_bytes  # noqa: E402
from flows.config import RunConfig  # noqa: E402
from flows.runner import run  # noqa: E402
from replay import (  # noqa: E402
    demo_firehose_path,
    read_archive,
    read_outputs,  # noqa: E402
)
from replay.hostile import hostile  # noqa: E402


def good_articles(n: int) -> list[dict]:
    if UCI.exists():
        records = read_archive(UCI, "uci")
    else:
        records = read_archive(demo_firehose_path(), "jsonl")
    docs = []
    for record in records:
        if record.parsed is not None and isinstance(record.parsed.get("id"), str) and isinstance(record.parsed.get("title"), str):
            docs.append(record.parsed)
            if len(docs) == n:
                break
    return docs


def write_archive(path: Path, good: list[dict], n_hostile: int, seed: int) -> dict[str, int]:
    """The archive, one record per line; returns how many records each mutation made."""
    rng = random.Random(seed)
    slots = sorted(rng.randrange(len(good) + 1) for _ in range(n_hostile))
    made: collections.Counter = collections.Counter()
    with path.open("wb") as f:
        h = 0
        for i, doc in enumerate(good + [None]):
            while h < len(slots) and slots[h] == i:
                name, payload = hostile(rng, good[rng.randrange(max(1, i))] if i else good[0])
                payload = payload.replace(b"\n", b" ").replace(b"\r", b" ")  # one record per line
                if not payload.strip():
                    payload = b"{}"  # the reader skips blank lines
                f.write(payload + b"\n")
                made[name] += 1
                h += 1
            if doc is not None:
                f.write(json.dumps(doc).encode() + b"\n")
    return dict(made)


def counter(name: str, labels: dict | None = None) -> float:
    return sum(s.value for m in REGISTRY.collect() for s in m.samples if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()))


class RssByHalf(threading.Thread):
    """Peak RSS of a process tree while the first, then the second half of the records is read."""

    def __init__(self, root: int, total: int, records_read) -> None:
        super().__init__(name="rss", daemon=True)
        self.root = root
        self.total = total
        self.records_read = records_read
        self.peaks = [0, 0]
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            rss = sum(tree_rss_bytes(self.root).values())
            half = 0 if self.records_read() < self.total / 2 else 1
            self.peaks[half] = max(self.peaks[half], rss)

    def mb(self) -> dict[str, float]:
        return {"first_half": round(self.peaks[0] / 2**20, 1), "second_half": round(self.peaks[1] / 2**20, 1)}


COUNTERS = ("articles_in", "articles_tagged", "dead_letters", "duplicates")


@dataclass
class Outcome:
    counts: dict[str, float]  # from the flow's counters
    tags: list[dict]
    dead: list[dict]
    raw: dict[tuple, bytes]  # (partition, position) -> the bytes sent
    rss_mb: dict[str, float]
    wall_s: float
    records_in: int  # sent into the flow: Kafka takes no line over its message size


def state_budgets(state_mb: float | None) -> dict[str, float]:
    """limits.* byte budgets of the shard state (window, duplicate table, tag records), all set to `state_mb`:
    small budgets fill within the first half, so RSS of the second half shows whether anything else grows."""
    names = ("max_window_mb", "max_tracked_ids_mb", "max_stored_tags_mb")
    return {} if state_mb is None else {name: state_mb for name in names}


def through_file(archive: Path, out: Path, n_lines: int, backend: str, state_mb: float | None) -> Outcome:
    """`storywire replay` in this process (flows.runner.run): counters read from its registry."""
    config = RunConfig.load().with_values(
        {
            "source": {"path": str(archive), "progress": False},
            "output": {"directory": str(out)},
            "models": {"backend": backend},
            "limits": state_budgets(state_mb),
        }
    )
    before = {name: counter(f"storywire_{name}_total") for name in COUNTERS}
    rss = RssByHalf(os.getpid(), n_lines, lambda: counter("storywire_articles_in_total"))
    started = time.perf_counter()
    rss.start()
    run(config)
    rss.stop.set()
    rss.join()
    wall = time.perf_counter() - started
    lines = archive.read_bytes().splitlines()
    return Outcome(
        {name: counter(f"storywire_{name}_total") - value for name, value in before.items()},
        list(read_outputs(out / "tags.jsonl")),
        list(read_outputs(out / "dead-letters.jsonl")),
        {(None, i): line for i, line in enumerate(lines, 1)},
        rss.mb(),
        wall,
        n_lines,
    )


def through_kafka(archive: Path, bootstrap: str, backend: str, metrics_port: int, state_mb: float | None) -> Outcome:
    """`storywire run` against a broker on fresh topics: records produced first, the service stopped with
    SIGTERM once its counters account for all of them, outputs read back from the topics."""
    prefix = f"fuzz-{os.getpid()}-{int(time.time())}"
    env = {
        **os.environ,
        "STORYWIRE_SOURCE__KIND": "kafka",
        "STORYWIRE_OUTPUT__KIND": "kafka",
        "STORYWIRE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "STORYWIRE_KAFKA__ARTICLES_TOPIC": f"{prefix}.articles",
        "STORYWIRE_KAFKA__TAGS_TOPIC": f"{prefix}.tags",
        "STORYWIRE_KAFKA__STORIES_TOPIC": f"{prefix}.stories",
        "STORYWIRE_KAFKA__DLQ_TOPIC": f"{prefix}.dlq",
        "STORYWIRE_METRICS__PORT": str(metrics_port),
        "STORYWIRE_MODELS__BACKEND": backend,
        **{f"STORYWIRE_LIMITS__{name.upper()}": str(mb) for name, mb in state_budgets(state_mb).items()},
    }
    config = RunConfig.load(env=env)
    init_topics(config.kafka, 2)
    raw = produce_lines(archive, config.kafka)
    n_lines = len(raw)
    service = subprocess.Popen([sys.executable, "-m", "commands.cli", "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    scraped: dict[str, float] = {}
    rss = RssByHalf(service.pid, n_lines, lambda: scraped.get("articles_in", 0.0))
    started = time.perf_counter()
    rss.start()
    try:
        while service.poll() is None:
            scraped = scrape(metrics_port) or scraped
            done = scraped.get("articles_tagged", 0) + scraped.get("dead_letters", 0) + scraped.get("duplicates", 0)
            if scraped.get("articles_in") == n_lines and done == n_lines:
                break
            time.sleep(1)
        wall = time.perf_counter() - started
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=120)
    finally:
        rss.stop.set()
        if service.poll() is None:
            service.kill()
    if code != 0:
        sys.exit(f"storywire run exited {code}: {service.stderr.read().decode()[-3000:]}")
    tags = [v for _, v in follow(config.kafka, config.kafka.tags_topic, idle_timeout_s=10) if v is not None]
    dead = [v for _, v in follow(config.kafka, config.kafka.dlq_topic, idle_timeout_s=10) if v is not None]
    return Outcome(scraped, tags, dead, raw, rss.mb(), wall, n_lines)


KAFKA_MAX_MESSAGE_BYTES = 1_000_000 - 1024  # larger lines cannot be produced at all (message.max.bytes)


def produce_lines(archive: Path, config) -> dict[tuple, bytes]:
    """Each line of the archive that Kafka accepts as one message, alternating partitions;
    returns (partition, offset) -> bytes of those delivered."""
    producer = Producer({**config.client_config(), "enable.idempotence": True, "acks": "all", "linger.ms": 20})
    raw: dict[tuple, bytes] = {}

    def delivered(error, message) -> None:
        if error is None:
            raw[(message.partition(), message.offset())] = message.value()

    with archive.open("rb") as f:
        for i, line in enumerate(f):
            if len(line) > KAFKA_MAX_MESSAGE_BYTES:
                continue
            while True:
                try:
                    producer.produce(config.articles_topic, value=line.rstrip(b"\n"), partition=i % 2, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.1)
    producer.flush(120)
    return raw


def scrape(port: int) -> dict[str, float] | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return None
    values: dict[str, float] = {}
    for line in text.splitlines():
        for name in COUNTERS:
            if line.startswith(f"storywire_{name}_total"):
                values[name] = values.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hostile", type=int, default=100_000, help="hostile records (default: 100000)")
    parser.add_argument("--good", type=int, default=10_000, help="real dev articles (default: 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", default="torch", help="models.backend (default: torch)")
    parser.add_argument("--out", type=Path, help="output folder of a file replay (default: a temporary one)")
    parser.add_argument("--kafka", metavar="BOOTSTRAP", help="through a running broker instead (deploy/kafka/broker.sh start)")
    parser.add_argument("--metrics-port", type=int, default=9477, help="with --kafka: the service's metrics port")
    parser.add_argument("--state-mb", type=float, help="set the window, duplicate-table and tag-record budgets (limits.*_mb) to this")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="storywire-fuzz-"))
    good = good_articles(args.good)
    archive = work / "fuzz.jsonl"
    made = write_archive(archive, good, args.hostile, args.seed)
    n_lines = sum(1 for _ in archive.open("rb"))
    if args.kafka:
        outcome = through_kafka(archive, args.kafka, args.backend, args.metrics_port, args.state_mb)
    else:
        outcome = through_file(archive, args.out or work / "out", n_lines, args.backend, args.state_mb)

    counts = outcome.counts
    n_in = outcome.records_in
    first_publications = sum(1 for t in outcome.tags if not any(f.startswith("story-") for f in t["flags"]))
    tagged_ids = {t["id"] for t in outcome.tags}
    reasons = collections.Counter(d["reason"].split(":")[0][:60] for d in outcome.dead)
    accounting = {
        "records_in": n_in,
        "flow_in": counts["articles_in"],
        "tagged": counts["articles_tagged"],
        "dead_lettered": counts["dead_letters"],
        "duplicates": counts["duplicates"],
        "tag_records": first_publications,
        "dead_letter_records": len(outcome.dead),
    }
    checks = {
        "accounting_exact": n_in == counts["articles_in"] == counts["articles_tagged"] + counts["dead_letters"] + counts["duplicates"]
        and counts["articles_tagged"] == first_publications
        and counts["dead_letters"] == len(outcome.dead),
        "every_good_article_tagged": all(doc["id"] in tagged_ids for doc in good),
        "no_internal_errors": not any(d["reason"].split(":")[0] in ("decode failed", "enrichment failed", "clustering failed") for d in outcome.dead),
        "dead_letters_carry_raw_bytes": all(
            d["raw_truncated"] or base64.b64decode(d["raw_base64"]) == outcome.raw[(d["partition"], d["position"])] for d in outcome.dead
        ),
    }
    emit(
        {
            "archive": {"lines": n_lines, "good": len(good), "hostile": args.hostile, "mutations": made, "mb": round(archive.stat().st_size / 2**20, 1)},
            "through": f"kafka {args.kafka}" if args.kafka else "file replay",
            "accounting": accounting,
            "checks": checks,
            "peak_rss_mb": outcome.rss_mb,
            "wall_s": round(outcome.wall_s, 1),
            "records_per_s": round(n_in / outcome.wall_s, 1),
            "backend": args.backend,
            "state_budgets_mb": state_budgets(args.state_mb) or "defaults",
            "dead_letter_reasons": dict(reasons.most_common(25)),
        }
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
