"""Snapshot, restore, continue = uninterrupted: the whole dataflow, through Bytewax's own recovery.

A run over the demo firehose is aborted mid-stream (after several snapshots), then resumed
from the same recovery store. What a consumer ends with (the latest record per article and
per story) must equal what one uninterrupted run publishes.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSource, run_main

from flows.config import RunConfig
from flows.dataflow import Sinks, build_flow
from flows.schema import RawRecord
from replay import demo_firehose_path, read_archive, read_outputs

CONFIG = RunConfig().with_values({"batch": {"max_size": 8}, "clustering": {"recluster_every": 0}, "source": {"progress": False}})
RECORDS = [RawRecord(r.payload, "file:demo", i, time.time(), 0) for i, r in enumerate(read_archive(demo_firehose_path(), "jsonl"))]


def latest(path, key: str) -> dict[str, dict]:
    """The highest version per key, as a deduplicating consumer keeps it; processing times left out."""
    out: dict[str, dict] = {}
    for record in read_outputs(path):
        if record[key] not in out or record["version"] >= out[record[key]]["version"]:
            out[record[key]] = {k: v for k, v in record.items() if k not in ("processed_at", "received_at")}
    return out


def run(items: list, out, recovery=None) -> None:
    flow = build_flow(CONFIG, TestingSource(items, batch_size=8), Sinks.files(out), snapshots=recovery is not None, recovery_directory=recovery)
    options = {"recovery_config": RecoveryConfig(recovery)} if recovery is not None else {}
    run_main(flow, epoch_interval=timedelta(seconds=0), **options)


def test_aborted_run_resumed_from_its_snapshot_publishes_what_an_uninterrupted_run_does(tmp_path):
    run(RECORDS, tmp_path / "straight")

    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    middle = len(RECORDS) // 2
    items = [*RECORDS[:middle], TestingSource.ABORT(), *RECORDS[middle:]]
    run(items, tmp_path / "resumed", recovery)  # stops at the abort, after the snapshots of the first half
    first_half = latest(tmp_path / "resumed" / "tags.jsonl", "id")
    assert 0 < len(first_half) < len(latest(tmp_path / "straight" / "tags.jsonl", "id"))
    run(items, tmp_path / "resumed", recovery)  # resumes after the abort from the last snapshot

    for name, key in (("tags.jsonl", "id"), ("stories.jsonl", "cluster_id")):
        assert latest(tmp_path / "resumed" / name, key) == latest(tmp_path / "straight" / name, key), name
    assert dead_letters(tmp_path / "resumed") == dead_letters(tmp_path / "straight")


def dead_letters(out) -> set[tuple]:
    return {(d["reason"], d["raw_sha256"]) for d in read_outputs(out / "dead-letters.jsonl")}
