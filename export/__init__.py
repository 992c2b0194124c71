"""`storywire export`: a run's tags, stories (all versions) and labels as partitioned Parquet training data.

Pure over output records (never imports flows): the CLI reads a run's folder
or the Kafka topics and hands the records here.
"""

from export.parquet import (
    LABELS_SCHEMA,
    STORIES_SCHEMA,
    TAGS_SCHEMA,
    ExportReport,
    archive_labels,
    read_training_rows,
    write_export,
)

__all__ = ["LABELS_SCHEMA", "STORIES_SCHEMA", "TAGS_SCHEMA", "ExportReport", "archive_labels", "read_training_rows", "write_export"]
