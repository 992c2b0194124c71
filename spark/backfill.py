"""Distributed backfill: tag and embed a long archive in Spark, then re-cluster the precomputed vectors in event-time order.

1. The driver reads the archive in replay order (the replay protocol, as
   `storywire replay` applies it), decodes each record as the flow does and
   numbers the valid articles; batch = seq // batch.max_size, the flow's
   micro-batches. The first article of every distinct text (the enricher's
   memo key) is marked.
2. Spark, per batch (applyInPandas; the models load once per executor Python
   worker): embeddings and entities of the batch's first-seen texts in one
   call, as the flow's memo computes them.
3. Spark, per batch: topics for the whole batch from its vectors, as the flow
   predicts them; rows written to OUT/enriched as Parquet (export.enriched).
4. The real flow replays the archive with `models.precomputed = OUT/enriched`:
   the clustering step sees exactly what a plain replay sees, at the cost of
   a lookup per article, and writes OUT/tags.jsonl and OUT/stories.jsonl.

    python -m spark.backfill --input ARCHIVE [--format uci --protocol jitter --days 14] --out DIR [--master local[2]]

Limits: the driver decodes the archive once (JSON parsing, no models) and the
replay holds the enrichments of the slice in memory; a year is backfilled in
slices (--days) whose enrichments are written side by side. An evicted memo
entry (over models.memo_size distinct texts) is re-encoded in a later batch
by the flow; the backfill keeps the first, which can differ in the last bits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from flows.config import ModelsConfig, RunConfig, TopicsConfig
from replay.times import utc_day

if TYPE_CHECKING:
    from flows.enrich import Enricher

ENCODED_SCHEMA = "key string, vector array<float>, entities string"
ROWS_PER_PARTITION = 2_000


def _articles(config: RunConfig, payloads, lines):
    from flows.schema import RawRecord, decode_record

    return [decode_record(RawRecord(bytes(p), "backfill", int(n), 0.0), config.limits) for p, n in zip(payloads, lines)]


def plan(config: RunConfig):
    """The replay's valid articles as a pandas frame: seq, batch, first (of its text), id, key, covered, day, payload, line."""
    import pandas as pd

    from flows.enrich import Enricher
    from flows.runner import Archive
    from flows.schema import InvalidArticle, RawRecord, decode_record

    archive = Archive.load(config)
    rows, seen = [], set()
    covered_langs = config.models.languages
    for record in archive.records():
        try:
            article = decode_record(RawRecord(record.payload, "backfill", record.line, 0.0), config.limits)
        except InvalidArticle:
            continue  # the replay dead-letters it, as a plain one does
        covered = article.lang is None or article.lang.split("-")[0].lower() in covered_langs
        key = Enricher.text_key(_KeyOnly(config), article, covered)
        seq = len(rows)
        day = utc_day(article.published_at) if article.published_at is not None else "unknown"
        rows.append((seq, seq // config.batch.max_size, key not in seen, article.id, key, covered, day, record.payload, record.line))
        seen.add(key)
    return pd.DataFrame(rows, columns=["seq", "batch", "first", "id", "key", "covered", "day", "payload", "line"]), archive


class _KeyOnly:
    """What Enricher.text_key reads (the models section), without loading a model in the driver."""

    def __init__(self, config: RunConfig) -> None:
        self.models = config.models


@lru_cache(maxsize=1)
def _worker_enricher(models: ModelsConfig, topics: TopicsConfig) -> Enricher:
    """The models of one Spark Python worker, loaded on its first batch and kept for the next ones."""
    from flows.enrich import load_enricher

    return load_enricher(models, topics)


def enrich_in_spark(spark, config: RunConfig, frame, out: Path) -> int:
    """Steps 2 and 3 (and the model versions, from an executor); returns the rows written."""
    from export.enriched import ENRICHED_SCHEMA
    from export.parquet import write_table

    def embed(batch):
        """One encoder call over a batch's first-seen texts, as the flow's memo makes it."""
        import pandas as pd

        batch = batch.sort_values("seq")
        enricher = _worker_enricher(config.models, config.topics)  # once per Python worker
        articles = _articles(config, batch["payload"], batch["line"])
        vectors, entities = enricher.embed_and_tag(articles, list(batch["covered"]))
        return pd.DataFrame({"key": batch["key"].tolist(), "vector": list(vectors), "entities": [json.dumps([e.to_json() for e in es]) for es in entities]})

    def assemble(batch):
        """Topics for the whole batch from its vectors, as the flow predicts them; rows of export.enriched."""
        import numpy as np
        import pandas as pd

        from export.enriched import enriched_row
        from taggers import Entity

        batch = batch.sort_values("seq")
        enricher = _worker_enricher(config.models, config.topics)
        articles = _articles(config, batch["payload"], batch["line"])
        entities = [tuple(Entity(**e) for e in json.loads(x)) for x in batch["entities"]]
        vectors = np.stack([np.asarray(v, dtype=np.float32) for v in batch["vector"]])
        enriched = enricher.assemble(articles, list(batch["covered"]), vectors, entities)
        rows = [
            enriched_row(int(s), e.article.id, k, bool(c), e.vector, e.entities, e.topics, d)
            for s, k, c, d, e in zip(batch["seq"], batch["key"], batch["covered"], batch["day"], enriched)
        ]
        return pd.DataFrame({"row": [json.dumps(r) for r in rows]})

    df = spark.createDataFrame(frame).repartition(spark.sparkContext.defaultParallelism, "batch").cache()
    encoded = df.where("first").groupBy("batch").applyInPandas(embed, ENCODED_SCHEMA)
    joined = df.join(encoded, "key").select("seq", "batch", "id", "key", "covered", "day", "payload", "line", "vector", "entities")
    assembled = joined.groupBy("batch").applyInPandas(assemble, "row string")
    # nested rows cross as JSON, a partition at a time, written by pyarrow
    rows = (json.loads(r.row) for r in assembled.toLocalIterator())
    write_table(rows, ENRICHED_SCHEMA, out)
    versions = spark.sparkContext.parallelize([0], 1).map(lambda _: _worker_enricher(config.models, config.topics).versions()).first()
    (out / "_models.json").write_text(json.dumps(versions) + "\n")
    df.unpersist()
    return len(frame)


def main(argv: list[str] | None = None) -> int:
    from replay import FORMATS, PROTOCOLS

    parser = argparse.ArgumentParser(prog="python -m spark.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="archive to backfill")
    parser.add_argument("--format", choices=FORMATS, help="archive format (default: jsonl)")
    parser.add_argument("--protocol", choices=PROTOCOLS, help="replay protocol (default: none)")
    parser.add_argument("--seed", type=int, help="seed for the jitter and shuffle protocols")
    parser.add_argument("--days", type=int, help="only the first N UTC days that have data")
    parser.add_argument("--limit", type=int, help="at most N records")
    parser.add_argument("--config", type=Path, help="TOML config (models, topics, batch, clustering)")
    parser.add_argument("--out", type=Path, required=True, help="folder for enriched/ and the replay's outputs")
    parser.add_argument("--master", default="local[2]", help="Spark master (default: local[2]; a cluster: spark://host:7077)")
    parser.add_argument("--no-progress", action="store_true", help="hide the replay's progress bar")
    args = parser.parse_args(argv)
    source = {"path": args.input, "progress": not args.no_progress}
    source.update({k: getattr(args, k) for k in ("format", "protocol", "seed", "days", "limit") if getattr(args, k) is not None})
    config = RunConfig.load(args.config).with_values({"source": source, "output": {"kind": "file", "directory": str(args.out)}})
    timings = backfill(config, args.out, args.master)
    print(json.dumps(timings, indent=2))
    return 0


def backfill(config: RunConfig, out: Path, master: str) -> dict:
    """All four steps; returns their wall times. The replay's outputs go to config.output.directory."""
    from flows.runner import run
    from spark.session import spark_session

    started = time.perf_counter()
    frame, archive = plan(config)
    planned = time.perf_counter()
    # partitions of ~2,000 articles: the driver fetches the enriched rows one partition at a time
    spark = spark_session(master, "storywire-backfill", shuffle_partitions=max(8, len(frame) // ROWS_PER_PARTITION))
    # adaptive execution would coalesce those partitions into one, and the driver would fetch it whole
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    try:
        rows = enrich_in_spark(spark, config, frame, out / "enriched")
    finally:
        spark.stop()
    enriched = time.perf_counter()
    run(config.with_values({"models": {"precomputed": str(out / "enriched")}}), archive=archive)
    done = time.perf_counter()
    return {
        "articles": rows,
        "plan_s": round(planned - started, 1),
        "spark_enrich_s": round(enriched - planned, 1),
        "replay_s": round(done - enriched, 1),
        "total_s": round(done - started, 1),
        "master": master,
    }


if __name__ == "__main__":
    # Run the module under its import name: Spark's workers unpickle `_worker_enricher` by that name, and
    # `python -m` would have it look in `__main__`, which on a worker is pyspark's daemon.
    from spark.backfill import main as imported_main

    sys.exit(imported_main())
