"""Backfill (Spark enrichment + replay over the precomputed enrichments) against a plain replay of the same slice.

Runs a plain `storywire replay` and `spark.backfill` one after the other on the same slice, prints their wall
times and whether every tag record (wall-clock fields aside) and every story record are identical, as JSON.

    python benchmarks/backfill.py --input ../shared/data/uci-news/uci-news-dev.jsonl.gz --format uci --protocol jitter \
        --days 1 --master 'local[2]' --out out/backfill-bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

WALL_CLOCK = ("processed_at", "received_at")


def outputs(folder: Path) -> tuple[list[dict], list[str]]:
    tags = [{k: v for k, v in json.loads(line).items() if k not in WALL_CLOCK} for line in (folder / "tags.jsonl").open()]
    return tags, (folder / "stories.jsonl").read_text().splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--format", default="jsonl")
    parser.add_argument("--protocol", default="none")
    parser.add_argument("--days", type=int)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    slice_args = ["--format", args.format, "--protocol", args.protocol] + (["--days", str(args.days)] if args.days else [])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    walls, parts = {}, {}
    for name, command in (
        ("plain_replay", [sys.executable, "-m", "commands.cli", "replay", args.input, *slice_args, "--out", str(args.out / "plain"), "--no-progress"]),
        (
            "backfill",
            [
                sys.executable,
                "-m",
                "spark.backfill",
                "--input",
                args.input,
                *slice_args,
                "--out",
                str(args.out / "backfill"),
                "--master",
                args.master,
                "--no-progress",
            ],
        ),
    ):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
        walls[name] = round(time.perf_counter() - started, 1)
        if name == "backfill":
            parts = json.loads(done.stdout[done.stdout.index("{") :])  # plan, Spark enrichment, replay
    plain, filled = outputs(args.out / "plain"), outputs(args.out / "backfill")
    print(
        json.dumps(
            {
                "slice": {"input": args.input, "format": args.format, "protocol": args.protocol, "days": args.days},
                "master": args.master,
                "wall_s": walls,
                "backfill_parts_s": parts,
                "tag_records": len(plain[0]),
                "story_records": len(plain[1]),
                "identical_tags": plain[0] == filled[0],
                "identical_stories": plain[1] == filled[1],
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
