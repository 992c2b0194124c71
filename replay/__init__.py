"""Replaying archives: readers, replay protocols, clustering metrics and output checks (never imports flows)."""

from replay.consistency import ConsistencyReport, check_outputs
from replay.producer import ProduceReport, produce_archive
from replay.protocols import PROTOCOLS, ReplayPlan, Slot, apply_protocol, apply_slot, plan_replay
from replay.quality import ClusteringScores, bcubed, score_clustering
from replay.readers import FORMATS, ArchiveRecord, demo_firehose_path, read_archive, read_jsonl, read_outputs, read_uci
from replay.spool import RecordSpool

__all__ = [
    "FORMATS",
    "PROTOCOLS",
    "ArchiveRecord",
    "ClusteringScores",
    "ConsistencyReport",
    "ProduceReport",
    "RecordSpool",
    "ReplayPlan",
    "Slot",
    "apply_protocol",
    "apply_slot",
    "bcubed",
    "check_outputs",
    "demo_firehose_path",
    "plan_replay",
    "produce_archive",
    "read_archive",
    "read_jsonl",
    "read_outputs",
    "read_uci",
    "score_clustering",
]
