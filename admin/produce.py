"""`storywire replay --to-kafka`: an archive's records produced to the articles topic, paced by rate or by its own clock."""

from __future__ import annotations

from tqdm import tqdm

from flows.config import RunConfig
from flows.kafka import check_connectivity
from flows.runner import Archive
from replay import produce_archive


def produce_to_kafka(config: RunConfig, topic: str | None = None, rate: float | None = None, speed: float | None = None) -> int:
    """Produce the configured archive slice to `topic` (default kafka.articles_topic); the exit code (1: some failed)."""
    archive = Archive.load(config)
    topic = topic or config.kafka.articles_topic
    check_connectivity(config.kafka, [topic])
    with tqdm(total=len(archive), desc=f"produce {topic}", unit="record", disable=not config.source.progress) as bar:
        report = produce_archive(archive.records(), config.kafka.client_config(), topic, rate, speed, bar.update)
    print(
        f"produced {report.sent} of {len(archive)} records to {topic} at {config.kafka.bootstrap_servers} "
        f"in {report.seconds:.1f}s ({report.rate:.1f}/s); failed: {report.failed}" + (f" (first error: {report.first_error})" if report.first_error else "")
    )
    return 0 if report.failed == 0 else 1
