"""Encoder docs/s per backend on UCI headlines and on full-text articles, side by side, with cosine to torch.

    .venv/bin/python benchmarks/encoders.py [--headlines 2000] [--articles 200] [--runs 3]

Full-text articles are generated from the dev data: the headlines of one UCI
story joined into a body of a few hundred words (real news wording, no labels
needed). Backends run interleaved within each round, so load on the machine
hits them alike; rates are medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import UCI, emit, require_dev_data  # noqa: E402
from replay.readers import read_jsonl  # noqa: E402
from taggers.backends import BACKENDS, make_encoder  # noqa: E402


def texts(n_headlines: int, n_articles: int, seed: int = 0) -> tuple[list[str], list[str]]:
    by_story: dict[str, list[str]] = defaultdict(list)
    headlines = []
    for record in read_jsonl(UCI):
        headlines.append(record.parsed["title"])
        by_story[record.parsed["story"]].append(record.parsed["title"].rstrip(". ") + ".")
    rng = np.random.default_rng(seed)
    chosen = [headlines[i] for i in rng.choice(len(headlines), n_headlines, replace=False)]
    stories = [s for s in sorted(by_story) if len(by_story[s]) >= 30][:n_articles]
    articles = [" ".join(by_story[s][:30]) for s in stories]
    return chosen, articles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--headlines", type=int, default=2000)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--cache-dir", help="derived models (default: ~/.cache/storywire)")
    args = parser.parse_args()
    require_dev_data()
    headlines, articles = texts(args.headlines, args.articles)
    encoders = {b: make_encoder(b, cache_dir=args.cache_dir) for b in args.backends.split(",")}
    for encoder in encoders.values():
        encoder.encode(headlines[:64])  # load, export or distill, warm up: not timed
    rates: dict[str, dict[str, list[float]]] = {b: {"headlines": [], "articles": []} for b in encoders}
    vectors: dict[str, dict[str, np.ndarray]] = {b: {} for b in encoders}
    for _ in range(args.runs):
        for name, items in (("headlines", headlines), ("articles", articles)):
            for backend, encoder in encoders.items():
                started = time.perf_counter()
                vectors[backend][name] = encoder.encode(items)
                rates[backend][name].append(len(items) / (time.perf_counter() - started))
    result = {
        "benchmark": "encoders",
        "n_headlines": len(headlines),
        "n_articles": len(articles),
        "mean_article_words": round(float(np.mean([len(a.split()) for a in articles])), 1),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "backends": {},
    }
    reference = vectors.get("torch")
    for backend in encoders:
        entry = {}
        for name in ("headlines", "articles"):
            entry[f"{name}_per_s"] = round(statistics.median(rates[backend][name]), 1)
            entry[f"{name}_runs_per_s"] = [round(r, 1) for r in rates[backend][name]]
            if reference is not None:
                entry[f"{name}_mean_cosine_to_torch"] = round(float((vectors[backend][name] * reference[name]).sum(1).mean()), 4)
        entry["version"] = encoders[backend].version
        result["backends"][backend] = entry
    emit(result)


if __name__ == "__main__":
    main()
