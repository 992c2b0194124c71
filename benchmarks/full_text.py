"""Full-text articles end to end: docs/s in embedded mode per backend and NER/embedding scope, with cosine to torch.

    .venv/bin/python benchmarks/full_text.py [--articles 600] [--runs 3] [--backends onnx-int8,torch]
        [--scopes 2000:1000,600:600] [--layouts 1x1,2x1] [--events] [--skip-cosines]

Articles are generated from the dev data: one UCI story's headlines, the first
as the title and the next ones as a body of a few hundred words (real news
wording); with --events they are the real full-text event sets instead
(../shared/data/events: Giveme5W1H in time order, ECB+ shuffled with seed 1,
as the data README prescribes), scored against their event labels. Each
(round, backend, scope, layout) is one `storywire eval` cluster per set
(embedding cache off; layouts as in benchmarks/end_to_end.py); a scope is
`ner_max_chars:embed_max_chars`, the title-plus-lead the models read; a
backend static=DIR is the static backend with models.static_model = DIR. Runs
alternate within each round so load hits them alike; docs/s are medians over
the rounds (with --events, of all sets' articles over their summed times).
The cosine compares each backend's embedding of the text it reads with torch's
embedding of the whole article, so it shows what both the backend and the
scope cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import DATA, UCI, backend_env, emit, require_dev_data  # noqa: E402
from benchmarks.end_to_end import eval_cluster, parse_layout  # noqa: E402
from flows.schema import Article  # noqa: E402
from replay.readers import read_jsonl  # noqa: E402
from taggers.backends import make_encoder  # noqa: E402

BODY_HEADLINES = 24  # about 250 words
EVENT_SETS = {  # name: (file, extra eval arguments: the replay protocol of the data README)
    "g5w1h": (DATA / "events" / "g5w1h-events.jsonl.gz", []),
    "ecbplus": (DATA / "events" / "ecbplus-events.jsonl.gz", ["--protocol", "shuffle", "--seed", "1"]),
}


def articles(n: int) -> list[dict]:
    """`n` articles, each from one story's headlines, labelled with the story for a sanity F1."""
    by_story: dict[str, list[dict]] = defaultdict(list)
    for record in read_jsonl(UCI):
        by_story[record.parsed["story"]].append(record.parsed)
    out = []
    for story in sorted(by_story, key=lambda s: -len(by_story[s])):
        rows = by_story[story]
        for start in range(0, len(rows) - BODY_HEADLINES, BODY_HEADLINES + 1):  # several articles from a big story
            title, body = rows[start], rows[start + 1 : start + 1 + BODY_HEADLINES]
            out.append(
                {
                    "id": str(len(out) + 1),
                    "title": title["title"],
                    "body": " ".join(r["title"].rstrip(". ") + "." for r in body),
                    "published_at": title["timestamp"],
                    "event": story,
                }
            )
            if len(out) == n:
                return sorted(out, key=lambda a: a["published_at"])
    return sorted(out, key=lambda a: a["published_at"])


def one_run(path: Path, extra: list[str], backend: str, scope: tuple[int, int], layout: tuple[int, int], out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")}
    env.update(backend_env(backend), STORYWIRE_MODELS__NER_MAX_CHARS=str(scope[0]), STORYWIRE_MODELS__EMBED_MAX_CHARS=str(scope[1]))
    metrics, _, load = eval_cluster(["--input", str(path), "--format", "jsonl", "--label-field", "event", *extra], env, layout, out)
    return {**metrics, "load_1min_at_start": load}


def event_docs() -> list[dict]:
    return [r.parsed for path, _ in EVENT_SETS.values() for r in read_jsonl(path) if r.parsed]


def cosines(docs: list[dict], backends: list[str], scopes: list[tuple[int, int]]) -> dict[str, dict[str, float]]:
    """Mean cosine of each backend's embedding of its scoped text to torch's embedding of the whole article
    (what backend and scope cost together) and of the same scoped text (what the backend alone costs)."""
    texts = [Article(d["id"], d["title"], 0.0, 0.0, "bench", 0, body=d["body"]).text() for d in docs]
    torch = make_encoder("torch")
    reference = torch.encode(texts)
    result = {}
    for scope in scopes:
        scoped = [t[: scope[1]] for t in texts]
        same_text = torch.encode(scoped)
        for backend in backends:
            name, _, static_model = backend.partition("=")
            vectors = make_encoder(name, static_model=static_model or None).encode(scoped)
            result[f"{backend} {scope[0]}:{scope[1]}"] = {
                "mean_cosine_to_torch_full_text": round(float((vectors * reference).sum(1).mean()), 4),
                "mean_cosine_to_torch_same_text": round(float((vectors * same_text).sum(1).mean()), 4),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=600, help="generated articles (without --events)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="onnx-int8,torch", help="comma-separated; static=DIR: models.static_model = DIR")
    parser.add_argument("--scopes", default="2000:1000,600:600", help="comma-separated ner_max_chars:embed_max_chars")
    parser.add_argument("--layouts", default="1x1", help="PROCESSESxWORKERS, comma-separated (default: 1x1)")
    parser.add_argument("--events", action="store_true", help="the real full-text event sets instead of generated articles")
    parser.add_argument("--skip-cosines", action="store_true", help="do not compute the cosines to torch")
    args = parser.parse_args()
    require_dev_data()
    backends = args.backends.split(",")
    scopes = [tuple(int(x) for x in s.split(":")) for s in args.scopes.split(",")]
    layouts = [parse_layout(x) for x in args.layouts.split(",")]
    configs = [(b, s, layout) for b in backends for s in scopes for layout in layouts]
    name = {c: f"{c[0]} {c[1][0]}:{c[1][1]} {c[2][0]}x{c[2][1]}" for c in configs}
    runs: dict[tuple, list[dict[str, dict]]] = defaultdict(list)  # config -> per round: set -> metrics
    with tempfile.TemporaryDirectory() as tmp:
        if args.events:
            sets = {n: (path, extra) for n, (path, extra) in EVENT_SETS.items() if path.exists()}
            docs = event_docs()
        else:
            docs = articles(args.articles)
            sets = {"generated": (Path(tmp) / "full-text.jsonl", [])}
            sets["generated"][0].write_text("".join(json.dumps(d) + "\n" for d in docs))
        for round_ in range(args.runs):
            for config in configs:
                runs[config].append(
                    {s: one_run(path, extra, *config, Path(tmp) / f"c{configs.index(config)}-{s}-{round_}") for s, (path, extra) in sets.items()}
                )
    cosine = {} if args.skip_cosines else cosines(docs, backends, scopes)
    emit(
        {
            "benchmark": "full_text",
            "sets_n_docs": {s: m["n_docs"] for s, m in next(iter(runs.values()))[0].items()},
            "mean_chars": round(float(np.mean([len(d["title"] + " " + (d.get("body") or "")) for d in docs]))),
            "runs": args.runs,
            "cpus": os.cpu_count(),
            "configurations": {
                name[config]: summarise(rounds) | cosine.get(f"{config[0]} {config[1][0]}:{config[1][1]}", {}) for config, rounds in runs.items()
            },
        }
    )


def summarise(rounds: list[dict[str, dict]]) -> dict:
    """Median docs/s of all sets together (articles over summed seconds) and per set, F1 per set, the loads."""

    def rate(metrics: dict[str, dict]) -> float:
        return sum(m["n_docs"] for m in metrics.values()) / sum(m["n_docs"] / m["docs_per_s"] for m in metrics.values())

    sets = list(rounds[0])
    return {
        "docs_per_s": round(statistics.median(rate(r) for r in rounds), 1),
        "runs_docs_per_s": [round(rate(r), 1) for r in rounds],
        **{f"{s}_docs_per_s": statistics.median(r[s]["docs_per_s"] for r in rounds) for s in sets},
        **{f"{s}_bcubed_f1": rounds[0][s]["bcubed_f1"] for s in sets},
        "peak_rss_mb": max(m["peak_rss_mb"] for r in rounds for m in r.values()),
        "load_1min_at_start": [m["load_1min_at_start"] for r in rounds for m in r.values()],
    }


if __name__ == "__main__":
    main()
