"""Running the dataflow: build the source and sinks from the config and execute it."""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Iterator

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from flows import logs, monitoring
from flows.config import RunConfig
from flows.connectors import ArchiveSource
from flows.dataflow import Sinks, build_flow
from flows.enrich import Enricher, load_enricher
from flows.generation import mint_generation
from flows.heap import freeze_loaded_objects, keep_large_allocations_mapped
from flows.kafka import ArticlesSource, check_connectivity, check_recovery_store
from replay import ArchiveRecord, RecordSpool, ReplayPlan, apply_slot, demo_firehose_path, plan_replay, read_archive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleOptions:
    """Bytewax's worker, process and recovery options, passed through unchanged."""

    workers_per_process: int = 1
    process_id: int | None = None
    addresses: list[str] | None = None
    recovery_directory: Path | None = None
    snapshot_interval_s: float | None = None
    backup_interval_s: float | None = None
    recovery_partitions: int = 1

    @property
    def primary(self) -> bool:
        """Process 0 (or the only process): it reads a replayed archive and writes the output files."""
        return not self.process_id

    def label(self) -> str:
        """This process in messages ("process I of N"); empty for a single process."""
        return f"process {self.process_id} of {len(self.addresses)}" if self.addresses else ""


@dataclass
class Archive:
    """A sliced, ordered archive: its replay plan in memory, its records spooled on disk.

    Memory then grows by four integers per record (plan and spool offsets)
    rather than with the records themselves, and the true labels are read back only when scoring,
    so a long replay measures the service, not the harness.
    """

    path: Path
    plan: ReplayPlan
    spool: RecordSpool
    label_field: str

    @classmethod
    def load(cls, config: RunConfig) -> "Archive":
        src = config.source
        path = demo_firehose_path() if src.path == "demo" else Path(src.path)
        spool = RecordSpool()
        plan = plan_replay(spool.keep(read_archive(path, src.format)), src.protocol, src.seed, src.days, src.limit)
        return cls(path, plan, spool, src.label_field)

    def __len__(self) -> int:
        return len(self.plan)

    def records(self) -> Iterator[ArchiveRecord]:
        """The records in replay order, read back from the spool."""
        return (apply_slot(self.spool.get(slot.position), slot) for slot in self.plan)

    def labels(self) -> dict[str, str]:
        """The true label of every replayed record that has one, by article id."""
        return dict(pair for pair in map(self._label, self.records()) if pair is not None)

    def has_labels(self) -> bool:
        return any(self._label(r) is not None for r in self.records())

    def _label(self, record: ArchiveRecord) -> tuple[str, str] | None:
        doc = record.parsed
        if doc is None or doc.get(self.label_field) is None or doc.get("id") is None:
            return None
        return str(doc["id"]), str(doc[self.label_field])


def run(config: RunConfig, scale: ScaleOptions = ScaleOptions(), archive: Archive | None = None, enricher: Enricher | None = None) -> Archive | None:
    """Run the flow as configured until its source ends (an archive) or SIGTERM (Kafka).

    Returns the replayed archive (for summaries), or None for a Kafka source and in the
    other processes of a replay: process 0 alone reads the archive and writes the output files,
    the others enrich and cluster what it deals them. `enricher`: models already loaded for
    `config` (the eval harness loads them first to time start-up apart); default: loaded here.
    """
    _check_kafka(config)
    stop = threading.Event()  # SIGTERM sets it: the sources end, the flow drains, flushes and snapshots
    if config.source.kind == "kafka":
        if scale.recovery_directory is not None:
            check_recovery_store(config.kafka, scale.recovery_directory)
        source = ArticlesSource(config.kafka, config.source.starting_offset, config.partition_offsets(), config.source.offset_reset, stop)
        archive = None
    elif scale.primary:
        archive = archive or Archive.load(config)
        source = ArchiveSource(
            archive.records,
            origin=f"file:{archive.path.name}",
            batch_size=config.batch.max_size,
            total=len(archive),
            progress=config.source.progress,
            stop=stop,
        )
        log.info("replaying %d records from %s", len(archive), archive.path)
    else:
        source, archive = ArchiveSource(lambda: (), origin="file:elsewhere", local=False), None
    _set_process_environment(config, scale)
    keep_large_allocations_mapped()
    enricher = enricher or load_enricher(config.models, config.topics)
    enricher.warm_up()
    monitoring.ready()
    m = config.metrics
    monitoring.configure_health(m.stall_after_s, m.max_dead_letter_ratio, m.dead_letter_min_records)
    freeze_loaded_objects()
    live = "kafka" in (config.source.kind, config.output.kind)  # published where other runs publish too
    flow = build_flow(
        config,
        source,
        Sinks.for_config(config, local=scale.primary, stop=stop),
        replay=config.source.kind == "file",
        snapshots=scale.recovery_directory is not None,
        generation=mint_generation(scale.recovery_directory, scale.process_id) if live else 0,
        recovery_directory=scale.recovery_directory,
        enricher=enricher,
    )
    server = monitoring.serve(config.metrics.host, config.metrics.port + (scale.process_id or 0)) if config.metrics.port else None
    previous = signal.signal(signal.SIGTERM, functools.partial(_request_shutdown, stop))
    try:
        monitoring.mark("running")
        (logs.lifecycle if live else log).info(
            "%s models loaded, starting the dataflow%s",
            scale.label() or "single process:",
            f" (source {_describe(config, 'source')}, outputs {_describe(config, 'output')})",
        )
        cli_main(flow, **_bytewax_options(scale))
        monitoring.mark("stopped")
    except BaseException:
        monitoring.mark("failed")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.shutdown()
    return archive


def _describe(config: RunConfig, section: str) -> str:
    """Where a run reads or writes, for the lifecycle log."""
    kind = getattr(config, section).kind
    if kind == "file":
        return config.source.path if section == "source" else f"files in {config.output.directory}"
    k = config.kafka
    topics = k.articles_topic if section == "source" else ", ".join((k.tags_topic, k.stories_topic, k.dlq_topic))
    return f"Kafka {k.bootstrap_servers} topic(s) {topics}"


def _set_process_environment(config: RunConfig, scale: ScaleOptions) -> None:
    """What only the environment can say: Bytewax's API server (read by its Rust side when the flow
    starts) and the thread count of the processes this one starts (the re-clustering worker)."""
    if config.models.torch_threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(config.models.torch_threads))
    if config.metrics.bytewax_api_port:
        os.environ["BYTEWAX_DATAFLOW_API_ENABLED"] = "true"
        os.environ["BYTEWAX_DATAFLOW_API_PORT"] = str(config.metrics.bytewax_api_port + (scale.process_id or 0))


def _request_shutdown(stop: threading.Event, signum, frame) -> None:
    """SIGTERM: sources end, the flow finishes its batches, flushes the sinks and snapshots."""
    log.warning("SIGTERM: finishing in-flight batches, flushing outputs and stopping")
    stop.set()


def _check_kafka(config: RunConfig) -> None:
    """Fail fast (Bytewax's Kafka source otherwise hangs) when a Kafka endpoint is not reachable."""
    topics = []
    if config.source.kind == "kafka":
        topics.append(config.kafka.articles_topic)
    if config.output.kind == "kafka":
        topics += [config.kafka.tags_topic, config.kafka.stories_topic, config.kafka.dlq_topic]
    if topics:
        check_connectivity(config.kafka, topics)


def _bytewax_options(scale: ScaleOptions) -> dict:
    options: dict = {"workers_per_process": scale.workers_per_process}
    if scale.process_id is not None:
        options.update(process_id=scale.process_id, addresses=scale.addresses)
    if scale.snapshot_interval_s is not None:
        options["epoch_interval"] = timedelta(seconds=scale.snapshot_interval_s)
    if scale.recovery_directory is not None:
        directory = Path(scale.recovery_directory)
        if not any(directory.glob("*.sqlite3")):
            directory.mkdir(parents=True, exist_ok=True)
            init_db_dir(directory, scale.recovery_partitions)
        backup = timedelta(seconds=scale.backup_interval_s) if scale.backup_interval_s is not None else None
        options["recovery_config"] = RecoveryConfig(directory, backup)
    return options
