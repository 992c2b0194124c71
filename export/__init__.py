"""`storywire export`: a run's tags, stories (all versions) and labels as partitioned Parquet training data.

parquet.py and enriched.py are pure over output records (they never import flows);
command.py gathers the records from a run's folder or the Kafka topics and hands them there.
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
