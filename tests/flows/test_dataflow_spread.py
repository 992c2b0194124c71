"""Scale-out: micro-batches from several partitions, or from a replay's one partition, are enriched on
several workers, while every article is still tagged once and story IDs come from one shard."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import cluster_main

from flows import dataflow
from flows.config import RunConfig
from flows.connectors import ArchiveSource
from flows.dataflow import Sinks, build_flow
from flows.schema import RawRecord
from replay import demo_firehose_path, read_archive, read_outputs

pytestmark = pytest.mark.slow

PARTITIONS = 4
BATCH = 8  # ~20 batches of the demo's 161 articles: all on one of two workers by chance has p ~ 2e-6


class _Partition(StatefulSourcePartition[RawRecord, int]):
    def __init__(self, records: list[RawRecord]) -> None:
        self.records = records

    def next_batch(self) -> list[RawRecord]:
        if not self.records:
            raise StopIteration
        batch, self.records = self.records[:BATCH], self.records[BATCH:]
        return batch

    def snapshot(self) -> int:
        return 0


class PartitionedDemo(FixedPartitionedSource[RawRecord, int]):
    """The demo firehose dealt over partitions as a Kafka topic would hold it (origin, partition, offset)."""

    def list_parts(self) -> list[str]:
        return [str(p) for p in range(PARTITIONS)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Partition:
        p = int(for_part)
        records = list(read_archive(demo_firehose_path(), "jsonl"))[p::PARTITIONS]
        return _Partition([RawRecord(r.payload, "kafka:articles", offset, time.time(), p) for offset, r in enumerate(records)])


@pytest.fixture
def enriching_threads(monkeypatch):
    """Which worker thread enriched each batch, by the partitions its articles came from (the real enrichment runs)."""
    seen: dict[int, set] = defaultdict(set)
    real = dataflow.enrich_batch

    def spy(enricher, raw_cap, keyed_batch):
        seen[threading.get_ident()].update(a.partition for a in keyed_batch[1])
        return real(enricher, raw_cap, keyed_batch)

    monkeypatch.setattr(dataflow, "enrich_batch", spy)
    return seen


def _run_on_two_workers(source, out) -> tuple[dict, list]:
    config = RunConfig.load().with_values({"batch": {"max_size": BATCH}, "source": {"progress": False}})
    cluster_main(build_flow(config, source, Sinks.files(out)), [], 0, worker_count_per_proc=2)
    tags = {t["id"]: t for t in read_outputs(out / "tags.jsonl")}
    return tags, list(read_outputs(out / "dead-letters.jsonl"))


def test_batches_from_several_partitions_are_enriched_on_several_workers(tmp_path, enriching_threads):
    tags, dead = _run_on_two_workers(PartitionedDemo(), tmp_path)

    assert len(enriching_threads) == 2, "both workers enrich"
    assert set().union(*enriching_threads.values()) == set(range(PARTITIONS))
    assert len(tags) == 161 and len(dead) == 6  # every record tagged once or dead-lettered, as with one worker
    assert {t["story"]["id"].rsplit("-", 1)[0] for t in tags.values()} == {"default"}  # IDs minted by one shard


def test_a_replay_of_one_partition_is_enriched_on_several_workers(tmp_path, enriching_threads):
    path = demo_firehose_path()
    source = ArchiveSource(lambda: read_archive(path, "jsonl"), origin=f"file:{path.name}", batch_size=BATCH, progress=False)
    tags, dead = _run_on_two_workers(source, tmp_path)

    assert len(enriching_threads) == 2
    assert len(tags) == 161 and len(dead) == 6
