"""Spark tests run only where pyspark and a Java runtime are installed (the `spark` or `test` extra, Java 17)."""

import shutil

import pytest


@pytest.fixture(scope="session")
def spark_available():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: pyspark needs Java 17")
