"""A Spark session for storywire's jobs: embedded local mode by default, any cluster with a master URL."""

from __future__ import annotations

import os
import sys


def spark_session(master: str, app: str, shuffle_partitions: int = 8, driver_memory: str = "2g"):
    """A session with Arrow transfers on and a small shuffle for local runs (raise it on a cluster).

    Python workers run this interpreter (PYSPARK_PYTHON overrides it), so they see storywire's packages.
    `driver_memory` applies when this call starts the JVM (local mode): Spark's 1 GiB default ran out of
    heap fetching a 14-day backfill's partitions.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the install
        raise RuntimeError("pyspark is not installed: pip install 'storywire[spark]' (needs Java 17)") from None
    return (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
