"""ANN index for the story service: recall@10 against exact search, query latency, build time, memory.

Real 384-d headline embeddings (all-MiniLM-L6-v2 over UCI dev titles, read from
an embedding cache, filled on first run) and, beyond them, real vectors plus
Gaussian noise (renormalised): each synthetic vector is a real one moved by
noise of norm ~0.6, so neighbourhoods stay as clustered as real news. Queries
are fresh noisy copies, not in the index. Exact search (numpy, one matrix
product) gives the truth; every usearch setting is built once per size and
queried one vector at a time, as the service does; at 1M only the default
setting is built. Bytes per vector are the
serialised index (vectors and graph) over its size.

    .venv/bin/python benchmarks/vector_index.py [--sizes 10000,100000,1000000] [--queries 300]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
from common import UCI, emit, require_dev_data
from usearch.index import Index

SETTINGS = [  # (name, dtype, connectivity, expansion_add, expansion_search)
    ("usearch-hnsw-f16-m16-ef64", "f16", 16, 128, 64),
    ("usearch-hnsw-f16-m16-ef128", "f16", 16, 128, 128),
    ("usearch-hnsw-i8-m16-ef64", "i8", 16, 128, 64),
    ("usearch-hnsw-f32-m32-ef128", "f32", 32, 128, 128),
]
DEFAULT = "usearch-hnsw-f16-m16-ef64"  # service/vectors.py; the only setting built beyond ALL_SETTINGS_UP_TO
ALL_SETTINGS_UP_TO = 100_000  # building every setting at 1M would take most of an hour on 2 shared cores
NOISE_PER_DIMENSION = 0.03  # noise norm 0.03 * sqrt(384) ~ 0.59: cosine ~0.86 to the real vector


def real_vectors(cache: Path, n: int) -> np.ndarray:
    """n real embeddings: from the cache, encoding UCI titles into it when it has too few."""

    def read() -> np.ndarray:
        if not cache.exists():
            return np.zeros((0, 384), dtype=np.float32)
        with sqlite3.connect(cache) as db:
            rows = db.execute("SELECT vector FROM embeddings WHERE length(vector) = 1536 LIMIT ?", (n,)).fetchall()
        return np.array([np.frombuffer(r[0], dtype=np.float32) for r in rows], dtype=np.float32).reshape(-1, 384)

    vectors = read()
    if len(vectors) < n:
        from taggers import CachedEncoder, SentenceEncoder

        require_dev_data()
        with gzip.open(UCI, "rt", encoding="utf-8") as handle:
            titles = [json.loads(line)["title"] for _, line in zip(range(n), handle)]
        CachedEncoder(SentenceEncoder(), cache).encode(titles)
        vectors = read()
    return vectors


def noisy(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    rows = base[rng.integers(0, len(base), n)] + rng.normal(0, NOISE_PER_DIMENSION, (n, base.shape[1])).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def dataset(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The real vectors first, then noisy copies up to `size`."""
    real = base[:size]
    return real if len(real) == size else np.vstack([real, noisy(base, size - len(real), rng)])


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    top = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 50):
        scores = queries[start : start + 50] @ data.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        top[start : start + 50] = np.take_along_axis(part, order, axis=1)
    return top


def measure(name: str, dtype: str, m: int, ef_add: int, ef_search: int, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int) -> dict:
    index = Index(ndim=data.shape[1], metric="cos", dtype=dtype, connectivity=m, expansion_add=ef_add, expansion_search=ef_search)
    started = time.perf_counter()
    index.add(np.arange(len(data)), data)
    build_s = time.perf_counter() - started
    latencies, hits = [], 0
    for query, true in zip(queries, truth):
        t = time.perf_counter()
        found = index.search(query, k).keys
        latencies.append((time.perf_counter() - t) * 1000)
        hits += len(set(found.tolist()) & set(true.tolist()))
    return {
        "index": name,
        "recall_at_10": round(hits / (k * len(queries)), 4),
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "build_s": round(build_s, 2),
        "bytes_per_vector": round(index.serialized_length / len(data), 1),
    }


def exact_latency(data: np.ndarray, queries: np.ndarray, k: int) -> dict:
    latencies = []
    for query in queries[:100]:
        t = time.perf_counter()
        scores = data @ query
        np.argpartition(-scores, k)[:k]
        latencies.append((time.perf_counter() - t) * 1000)
    return {
        "index": "exact-numpy-f32",
        "recall_at_10": 1.0,
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "build_s": 0.0,
        "bytes_per_vector": data.shape[1] * 4,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="index sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--real", type=int, default=20000, help="real embeddings to start from")
    parser.add_argument("--cache", type=Path, default=Path("out/embeddings.sqlite"), help="embedding cache (SQLite) to read or fill")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    k, rng = 10, np.random.default_rng(args.seed)
    base = real_vectors(args.cache, args.real)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        data = dataset(base, size, rng)
        queries = noisy(base, args.queries, rng)
        truth = exact_top(data, queries, k)
        settings = [s for s in SETTINGS if size <= ALL_SETTINGS_UP_TO or s[0] == DEFAULT]
        rows = [exact_latency(data, queries, k)] + [measure(*setting, data, queries, truth, k) for setting in settings]
        print(f"{size}: done", file=sys.stderr, flush=True)
        results.append({"size": size, "results": rows})
        del data
    emit({"dimensions": 384, "real_vectors": len(base), "noise_per_dimension": NOISE_PER_DIMENSION, "k": k, "queries": args.queries, "sizes": results})


if __name__ == "__main__":
    main()
