"""Full-text articles end to end: docs/s in embedded mode per backend and NER/embedding scope, with cosine to torch.

    .venv/bin/python benchmarks/full_text.py [--articles 600] [--runs 3] [--backends onnx-int8,torch]
        [--scopes 2000:1000,600:600]

Articles are generated from the dev data: one UCI story's headlines, the first
as the title and the next ones as a body of a few hundred words (real news
wording). Each (round, backend, scope) is one `storywire eval` process over
them (embedding cache off); a scope is `ner_max_chars:embed_max_chars`, the
title-plus-lead the models read. Runs alternate within each round so load
hits them alike; docs/s are medians over the rounds. The cosine compares each
backend's embedding of the text it reads with torch's embedding of the whole
article, so it shows what both the backend and the scope cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import UCI, emit, require_dev_data  # noqa: E402
from flows.schema import Article  # noqa: E402
from replay.readers import read_jsonl  # noqa: E402
from taggers.backends import make_encoder  # noqa: E402

BODY_HEADLINES = 24  # about 250 words


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
            out.append({
                "id": str(len(out) + 1),
                "title": title["title"],
                "body": " ".join(r["title"].rstrip(". ") + "." for r in body),
                "published_at": title["timestamp"],
                "event": story,
            })
            if len(out) == n:
                return sorted(out, key=lambda a: a["published_at"])
    return sorted(out, key=lambda a: a["published_at"])


def one_run(path: Path, backend: str, scope: tuple[int, int], out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")}
    env.update(STORYWIRE_MODELS__BACKEND=backend, STORYWIRE_MODELS__NER_MAX_CHARS=str(scope[0]),
               STORYWIRE_MODELS__EMBED_MAX_CHARS=str(scope[1]))
    command = [sys.executable, "-m", "commands.cli", "eval", "--input", str(path), "--format", "jsonl", "--label-field", "event",
               "--out", str(out), "--no-progress"]
    subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "metrics.json").read_text())


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
            vectors = make_encoder(backend).encode(scoped)
            result[f"{backend} {scope[0]}:{scope[1]}"] = {
                "mean_cosine_to_torch_full_text": round(float((vectors * reference).sum(1).mean()), 4),
                "mean_cosine_to_torch_same_text": round(float((vectors * same_text).sum(1).mean()), 4),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="onnx-int8,torch")
    parser.add_argument("--scopes", default="2000:1000,600:600", help="comma-separated ner_max_chars:embed_max_chars")
    args = parser.parse_args()
    require_dev_data()
    backends = args.backends.split(",")
    scopes = [tuple(int(x) for x in s.split(":")) for s in args.scopes.split(",")]
    docs = articles(args.articles)
    runs: dict[str, list[dict]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "full-text.jsonl"
        path.write_text("".join(json.dumps(d) + "\n" for d in docs))
        for round_ in range(args.runs):
            for backend in backends:
                for scope in scopes:
                    metrics = one_run(path, backend, scope, Path(tmp) / f"{backend}-{scope[0]}-{scope[1]}-{round_}")
                    runs[f"{backend} {scope[0]}:{scope[1]}"].append(metrics)
    cosine = cosines(docs, backends, scopes)
    emit({
        "benchmark": "full_text",
        "n_articles": len(docs),
        "mean_words": round(float(np.mean([len((d["title"] + " " + d["body"]).split()) for d in docs])), 1),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "configurations": {
            name: {
                "docs_per_s": statistics.median(r["docs_per_s"] for r in rs),
                "runs_docs_per_s": [r["docs_per_s"] for r in rs],
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                "bcubed_f1": rs[0]["bcubed_f1"],
                **cosine[name],
            }
            for name, rs in runs.items()
        },
    })


if __name__ == "__main__":
    main()
