"""Same outputs before and after a refactor: the demo and `eval` on the first UCI dev days, from two source trees.

`run` replays the demo and evaluates the first --days UCI dev days (jitter, seed 1) with the `storywire`
of one source tree (its folder goes first on PYTHONPATH), each in a fresh process, into OUT/demo and
OUT/eval; the embedding cache is copied first so the shared one is never written. `compare` prints, as
JSON, whether every output record and every metric of two such folders are equal, wall-clock fields
(processed_at, received_at, timings, peak memory) and the progress/cost lines of the console aside.

    git archive 486c46d | tar -x -C out/ref-src
    python benchmarks/same_outputs.py run --tree out/ref-src --out out/same/before
    python benchmarks/same_outputs.py run --tree . --out out/same/after
    python benchmarks/same_outputs.py compare out/same/before out/same/after
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import UCI, emit, require_dev_data  # noqa: E402

WALL_CLOCK = {"processed_at", "received_at"}
TIMINGS = {"docs_per_s", "wall_s", "startup_s", "peak_rss_mb", "peak_rss_by_part_mb", "max_stall_ms", "cluster_ms_per_article"}
RECORD_FILES = ("tags.jsonl", "stories.jsonl", "dead-letters.jsonl")
VOLATILE_LINE = re.compile(r"^clustering: .* ms per article|^wrote |^outputs in |^(docs/s|wall s|startup s|peak RSS MB|max stall ms|cluster ms/doc) ")
CACHE = Path("/work/main/out/embeddings.sqlite")


def run(tree: Path, out: Path, days: int, cache: Path) -> None:
    """The demo and the eval with the `storywire` of `tree`, stdout kept beside the outputs."""
    require_dev_data()
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    out.mkdir(parents=True, exist_ok=True)
    copy = out / "embeddings.sqlite"
    shutil.copyfile(cache, copy)
    commands = {
        "demo": ["demo", "--out", str(out / "demo"), "--no-progress"],
        "eval": [
            "eval",
            "--input",
            str(UCI),
            "--format",
            "uci",
            "--label-field",
            "story",
            "--protocol",
            "jitter",
            "--seed",
            "1",
            "--days",
            str(days),
            "--out",
            str(out / "eval"),
            "--embedding-cache",
            str(copy),
            "--no-progress",
        ],
    }
    for name, argv in commands.items():
        cli = "commands.cli" if (tree / "commands" / "cli.py").exists() else "flows.cli"  # where the CLI lived before the split
        done = subprocess.run([sys.executable, "-m", cli, *argv], env=env, cwd=tree, capture_output=True, text=True)
        (out / f"{name}.stdout").write_text(done.stdout)
        if done.returncode != 0:
            sys.exit(f"{name} failed in {tree} (exit {done.returncode}):\n{done.stderr[-3000:]}")
    copy.unlink()


def _records(path: Path) -> list[dict]:
    """The records of an output file, wall-clock fields left out; none when the run wrote no such file."""
    if not path.exists():
        return []
    return [{k: v for k, v in json.loads(line).items() if k not in WALL_CLOCK} for line in path.open(encoding="utf-8") if line.strip()]


def _console(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not VOLATILE_LINE.match(line)]


def compare(a: Path, b: Path) -> dict:
    """Per compared file: equal or not, how many records, and the first difference."""
    result: dict = {}
    pairs = [(f"{run}/{name}", _records) for run in ("demo", "eval") for name in RECORD_FILES]
    pairs += [("demo.stdout", _console), ("eval.stdout", _console)]
    for name, read in pairs:
        left, right = read(a / name), read(b / name)
        first = next((i for i, (x, y) in enumerate(zip(left, right)) if x != y), None)
        result[name] = {"equal": left == right, "records": [len(left), len(right)]}
        if first is not None:
            result[name]["first_difference"] = [left[first], right[first]]
    metrics = [{k: v for k, v in json.loads((d / "eval" / "metrics.json").read_text()).items() if k not in TIMINGS} for d in (a, b)]
    metrics = [{**m, "input": {**m["input"], "path": Path(m["input"]["path"]).name}, "embedding_cache": None} for m in metrics]
    result["eval/metrics.json"] = {
        "equal": metrics[0] == metrics[1],
        "differing": sorted(k for k in metrics[0].keys() | metrics[1].keys() if metrics[0].get(k) != metrics[1].get(k)),
        "bcubed_f1": [m.get("bcubed_f1") for m in metrics],
    }
    result["all_equal"] = all(v["equal"] for v in result.values())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run")
    run_p.add_argument("--tree", type=Path, default=ROOT, help="source tree (default: this one)")
    run_p.add_argument("--out", type=Path, required=True)
    run_p.add_argument("--days", type=int, default=2)
    run_p.add_argument("--embedding-cache", type=Path, default=CACHE, help="copied, never written")
    compare_p = sub.add_parser("compare")
    compare_p.add_argument("a", type=Path)
    compare_p.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run(args.tree, args.out.resolve(), args.days, args.embedding_cache)
        return 0
    result = compare(args.a, args.b)
    emit(result)
    return 0 if result["all_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
