"""Replaying archives: readers, replay protocols and clustering metrics (never imports flows)."""

from replay.metrics import ClusteringScores, bcubed, score_clustering
from replay.producer import ProduceReport, produce_archive
from replay.protocols import PROTOCOLS, apply_protocol, first_days, jitter
from replay.readers import FORMATS, ArchiveRecord, demo_firehose_path, read_archive, read_jsonl, read_uci

__all__ = [
    "FORMATS",
    "PROTOCOLS",
    "ArchiveRecord",
    "ClusteringScores",
    "ProduceReport",
    "apply_protocol",
    "bcubed",
    "demo_firehose_path",
    "first_days",
    "jitter",
    "produce_archive",
    "read_archive",
    "read_jsonl",
    "read_uci",
    "score_clustering",
]
