"""Spark jobs for what outgrows one machine: A/B statistics over Parquet exports, and the distributed backfill.

PySpark is an optional dependency (`pip install 'storywire[spark]'`, Java 17);
local mode is the embedded default and the same jobs run on a cluster with --master.
"""
