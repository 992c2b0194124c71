"""spark/ab_report.py gives `storywire ab`'s numbers from the two runs' Parquet exports (local[1], 54 articles)."""

import json

import pytest

from commands.cli import main

pytestmark = pytest.mark.slow


def test_the_spark_report_equals_storywire_ab_on_the_same_runs(ab_run, spark_available, tmp_path):
    from spark.ab_report import main as spark_main

    out, _, _, mapping = ab_run
    for side in "ab":
        assert (
            main(
                [
                    "export",
                    "--from",
                    str(out / side),
                    "--to",
                    str(tmp_path / side),
                    "--label-field",
                    "event",
                    "--topic-field",
                    "category",
                    "--topic-mapping",
                    str(mapping),
                    "--no-progress",
                ]
            )
            == 0
        )
    assert (
        spark_main(["--a", str(tmp_path / "a"), "--b", str(tmp_path / "b"), "--out", str(tmp_path / "spark"), "--master", "local[1]", "--bootstrap", "300"])
        == 0
    )
    local = json.loads((out / "report.json").read_text())
    spark = json.loads((tmp_path / "spark" / "report.json").read_text())
    for section in ("quality", "topic_accuracy", "stories", "agreement", "disagreements", "topic_changes", "bootstrap"):
        assert spark[section] == local[section], section
    assert spark["speed"] == local["speed"]
