"""`storywire export`: gather a run's records (its output folder, or the Kafka output topics until idle) and the
archive's true labels, and write them with export.parquet.

The one module of export/ that knows where records come from (flows' Kafka settings, admin's topic reader);
the Parquet layout itself stays pure over output records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from admin.topics import follow
from export.parquet import ExportReport, archive_labels, write_export
from flows.config import ConfigError, RunConfig
from flows.kafka import check_connectivity
from replay import read_archive, read_outputs
from taxonomy import load_taxonomy
from taxonomy.mapping import load_mapping


@dataclass(frozen=True)
class LabelOptions:
    """Where the true labels come from: the archive the run replayed and the fields to read."""

    archive: str | None = None  # default: the input named in the folder's metrics.json
    archive_format: str | None = None  # default: from metrics.json, else jsonl
    label_field: str | None = None
    topic_field: str | None = None
    topic_mapping: str | None = None


def export_run(source: str, config: RunConfig, to: Path, labels: LabelOptions, idle_exit_s: float = 10.0, progress: bool = True) -> str:
    """Export `source` (a run's output folder, or "kafka") to `to`; returns the line to print."""
    if source == "kafka":
        k = config.kafka
        check_connectivity(k, [k.tags_topic, k.stories_topic])
        tags = (value for _, value in follow(k, k.tags_topic, True, None, idle_exit_s) if value is not None)
        stories = [value or {"cluster_id": key, "tombstone": True} for key, value in follow(k, k.stories_topic, True, None, idle_exit_s)]
        run_info: dict = {"source": f"kafka {k.bootstrap_servers} {k.tags_topic} {k.stories_topic}"}
    else:
        folder = Path(source)
        if not (folder / "tags.jsonl").exists():
            raise FileNotFoundError(f"{folder}/tags.jsonl does not exist: give a run's output folder or kafka")
        tags, stories = read_outputs(folder / "tags.jsonl"), list(read_outputs(folder / "stories.jsonl"))
        run_info = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
        run_info["source"] = str(folder)
    true_labels = {}
    if labels.label_field or labels.topic_field:
        given = run_info.get("input", {})
        archive = labels.archive or given.get("path")
        if not archive:
            raise ConfigError("labels need the archive: give --archive (the folder's metrics.json names none)")
        mapping = load_mapping(labels.topic_mapping, load_taxonomy(config.topics.taxonomy)) if labels.topic_mapping else {}
        records = (r.parsed for r in read_archive(archive, labels.archive_format or given.get("format", "jsonl")))
        true_labels = archive_labels(records, labels.label_field, labels.topic_field, mapping)
    with tqdm(tags, desc="export tags", unit="record", disable=not progress) as counted:
        report: ExportReport = write_export(counted, stories, true_labels, to, run_info)
    return (
        f"wrote {to}: {report.tags} articles over {report.days} days in tags/, {report.stories} story records "
        f"in stories/, {report.labels} labelled articles in labels/"
    )
