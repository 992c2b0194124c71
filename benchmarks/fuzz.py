"""Fuzz the real flow: hostile records mixed with real dev articles, replayed from a file.

Writes a JSON-lines archive of `--good` real articles (UCI dev, in their
order; the demo firehose without the dev data) with `--hostile` mutations of
them (replay/hostile.py) at random places, replays it through the flow as
`storywire replay` does (flows.runner.run, real models), and prints JSON:

- the accounting: records in = tagged + dead-lettered + ignored duplicates,
  each from the flow's counters and checked against the output files;
- whether every good article was tagged;
- peak RSS of the process tree in the first and the second half of the input;
- dead letters per reason (first words) and per mutation that made them.

Exits 1 when the accounting or the good articles do not add up.

    .venv/bin/python benchmarks/fuzz.py --hostile 100000 --good 10000
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import REGISTRY  # noqa: E402

from benchmarks.common import UCI, emit  # noqa: E402
from flows.config import RunConfig  # noqa: E402
from flows.evaluate import tree_rss_bytes  # noqa: E402
from flows.runner import run  # noqa: E402
from flows.summary import read_jsonl  # noqa: E402
from replay import demo_firehose_path, read_archive  # noqa: E402
from replay.hostile import hostile  # noqa: E402


def good_articles(n: int) -> list[dict]:
    if UCI.exists():
        records = read_archive(UCI, "uci")
    else:
        records = read_archive(demo_firehose_path(), "jsonl")
    docs = []
    for record in records:
        if record.parsed is not None and "title" in record.parsed:
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
    return sum(
        s.value
        for m in REGISTRY.collect()
        for s in m.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items())
    )


class RssByHalf(threading.Thread):
    """Peak RSS of the process tree while the first, then the second half of the records is read."""

    def __init__(self, total: int) -> None:
        super().__init__(name="rss", daemon=True)
        self.total = total
        self.peaks = [0, 0]
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            rss = sum(tree_rss_bytes(os.getpid()).values())
            half = 0 if counter("storywire_articles_in_total") < self.total / 2 else 1
            self.peaks[half] = max(self.peaks[half], rss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hostile", type=int, default=100_000, help="hostile records (default: 100000)")
    parser.add_argument("--good", type=int, default=10_000, help="real dev articles (default: 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", default="torch", help="models.backend (default: torch)")
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="storywire-fuzz-"))
    out = args.out or work / "out"
    good = good_articles(args.good)
    archive = work / "fuzz.jsonl"
    made = write_archive(archive, good, args.hostile, args.seed)
    n_lines = sum(1 for _ in archive.open("rb"))
    config = RunConfig.load().with_values(
        {
            "source": {"path": str(archive), "progress": False},
            "output": {"directory": str(out)},
            "models": {"backend": args.backend},
        }
    )
    before = {name: counter(name) for name in ("storywire_articles_in_total", "storywire_articles_tagged_total", "storywire_dead_letters_total", "storywire_duplicates_total")}
    rss = RssByHalf(n_lines)
    started = time.perf_counter()
    rss.start()
    replayed = run(config)
    rss.stop.set()
    rss.join()
    wall = time.perf_counter() - started
    flow = {name.removeprefix("storywire_").removesuffix("_total"): counter(name) - value for name, value in before.items()}

    tags = list(read_jsonl(out / "tags.jsonl"))
    first_publications = sum(1 for t in tags if not any(f.startswith("story-") for f in t["flags"]))
    dead = list(read_jsonl(out / "dead-letters.jsonl"))
    tagged_ids = {t["id"] for t in tags}
    lines = archive.read_bytes().splitlines()
    reasons = collections.Counter(d["reason"].split(":")[0][:60] for d in dead)
    accounting = {
        "records_in": len(replayed),
        "flow_in": flow["articles_in"],
        "tagged": flow["articles_tagged"],
        "dead_lettered": flow["dead_letters"],
        "duplicates": flow["duplicates"],
        "tag_records": first_publications,
        "dead_letter_records": len(dead),
    }
    checks = {
        "accounting_exact": accounting["records_in"] == accounting["flow_in"]
        == accounting["tagged"] + accounting["dead_lettered"] + accounting["duplicates"]
        and accounting["tagged"] == first_publications
        and accounting["dead_lettered"] == len(dead),
        "every_good_article_tagged": all(doc["id"] in tagged_ids for doc in good),
        "no_internal_errors": not any(d["reason"].split(":")[0] in ("decode failed", "enrichment failed", "clustering failed") for d in dead),
        "dead_letters_carry_raw_bytes": all(
            d["raw_truncated"] or base64.b64decode(d["raw_base64"]) == lines[d["position"] - 1] for d in dead
        ),
    }
    emit(
        {
            "archive": {"lines": n_lines, "good": len(good), "hostile": args.hostile, "mutations": made, "mb": round(archive.stat().st_size / 2**20, 1)},
            "accounting": accounting,
            "checks": checks,
            "peak_rss_mb": {"first_half": round(rss.peaks[0] / 2**20, 1), "second_half": round(rss.peaks[1] / 2**20, 1)},
            "wall_s": round(wall, 1),
            "records_per_s": round(n_lines / wall, 1),
            "backend": args.backend,
            "dead_letter_reasons": dict(reasons.most_common(25)),
        }
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
