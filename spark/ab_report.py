"""The A/B report from two Parquet exports at any size: Spark aggregates, abtest computes the statistics.

Spark reduces the two exports (storywire export) to the counts the report
reads (abtest.AbCounts: contingency tables and story sizes, whose size grows
with the number of stories, not of articles); the bootstrap and every other
statistic then run in the driver with the very functions `storywire ab` uses,
so both give the same numbers on the same runs.

    python -m spark.ab_report --a EXPORT_A --b EXPORT_B --out DIR [--master local[2] | spark://host:7077]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from abtest import AbCounts, VariantCounts, build_report, summary, write_report
from abtest.compare import NO_TOPIC
from replay.output_scores import resolve
from spark.session import spark_session


def final_stories(spark, export: str):
    """id, final story (merges followed), title and top topic of each article's latest version in an export."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    tags = spark.read.parquet(f"{export}/tags")
    latest = Window.partitionBy("id").orderBy(F.col("version").desc())
    tags = tags.withColumn("_rank", F.row_number().over(latest)).where("_rank = 1")
    merged = spark.read.parquet(f"{export}/stories").where(F.col("merged_into").isNotNull()).select("cluster_id", "merged_into")
    links = {row.cluster_id: row.merged_into for row in merged.distinct().collect()}  # merged stories only: few
    survivors = spark.createDataFrame([(s, resolve(s, links)) for s in links] or [("", "")], "story_id string, survivor string")
    return tags.join(F.broadcast(survivors), "story_id", "left").select(
        "id", F.coalesce("survivor", "story_id").alias("story"), "title", "top_topic", "top_topic_label"
    )


def ab_counts(spark, export_a: str, export_b: str) -> AbCounts:
    """The counts of abtest.counts_from_runs, aggregated by Spark from two exports (labels from A's)."""
    from pyspark.sql import functions as F

    runs = {side: final_stories(spark, path) for side, path in (("a", export_a), ("b", export_b))}
    labels = spark.read.parquet(f"{export_a}/labels").select("id", "event", "topic_code")
    common = (
        runs["a"]
        .select("id", F.col("story").alias("story_a"), "title", F.col("top_topic").alias("topic_a"))
        .join(runs["b"].select("id", F.col("story").alias("story_b"), F.col("top_topic").alias("topic_b")), "id")
        .join(labels, "id", "left")
    ).cache()
    cross = common.groupBy("story_a", "story_b").agg(F.count("*").alias("n"), F.min_by("title", "id").alias("title")).orderBy("story_a", "story_b").collect()
    topics = (
        common.groupBy(*(F.coalesce(c, F.lit(NO_TOPIC)).alias(c) for c in ("topic_code", "topic_a", "topic_b")))
        .count()
        .orderBy("topic_code", "topic_a", "topic_b")
        .collect()
    )
    names = {
        r.top_topic: r.top_topic_label
        for side in runs.values()
        for r in side.where("top_topic IS NOT NULL").select("top_topic", "top_topic_label").distinct().collect()
    }
    counts = AbCounts(
        a=_variant(spark, common, runs["a"], "a", export_a),
        b=_variant(spark, common, runs["b"], "b", export_b),
        cross=[(r.story_a, r.story_b, r.n, r.title or "") for r in cross],
        topics=[(r.topic_code, r.topic_a, r.topic_b, r["count"]) for r in topics],
        topic_names=names,
    )
    common.unpersist()
    return counts


def _variant(spark, common, run, side: str, export: str) -> VariantCounts:
    from pyspark.sql import functions as F

    story, topic = F.col(f"story_{side}"), F.col(f"topic_{side}")
    labelled = common.where(F.col("event").isNotNull())
    truth = labelled.groupBy("event", story.alias("story")).count().orderBy("event", "story").collect()
    hits = (
        labelled.where(F.col("topic_code").isNotNull())
        .groupBy("event")
        .agg(F.count("*").alias("n"), F.sum((F.coalesce(topic, F.lit(NO_TOPIC)) == F.col("topic_code")).cast("int")).alias("ok"))
        .orderBy("event")
        .collect()
    )
    sizes = sorted(r["count"] for r in run.groupBy("story").count().collect())
    metrics = json.loads((Path(export) / "run.json").read_text())
    return VariantCounts([(r.event, r.story, r["count"]) for r in truth], [(r.event, r.n, r.ok) for r in hits], sizes, metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark.ab_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="Parquet export of variant A (storywire export)")
    parser.add_argument("--b", required=True, help="Parquet export of variant B")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json and report.html")
    parser.add_argument("--master", default="local[2]", help="Spark master (default: local[2]; a cluster: spark://host:7077)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (default: 1000)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the replicates (default: 0)")
    args = parser.parse_args(argv)
    spark = spark_session(args.master, "storywire-ab-report")
    try:
        counts = ab_counts(spark, args.a, args.b)
    finally:
        spark.stop()
    report = build_report(counts, args.bootstrap, args.bootstrap_seed)
    names = (args.a, args.b)
    write_report(report, args.out, names)
    print(summary(report, names))
    print(f"\nwrote {args.out}/report.html and {args.out}/report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
