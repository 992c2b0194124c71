"""The distributed backfill (Spark tagging and embedding, then a replay over the precomputed enrichments)
gives the same tags and stories as a plain replay: the demo firehose, local[1]."""

import json

import pytest

from commands.cli import main
from flows.config import RunConfig

pytestmark = pytest.mark.slow
WALL_CLOCK = ("processed_at", "received_at")


def _outputs(folder):
    tags = [{k: v for k, v in json.loads(line).items() if k not in WALL_CLOCK} for line in (folder / "tags.jsonl").read_text().splitlines()]
    stories = [json.loads(line) for line in (folder / "stories.jsonl").read_text().splitlines()]
    dead = [json.loads(line)["reason"] for line in (folder / "dead-letters.jsonl").read_text().splitlines()]
    return tags, stories, dead


def test_backfill_gives_the_stories_of_a_plain_replay(spark_available, tmp_path):
    from spark.backfill import backfill

    assert main(["replay", "demo", "--out", str(tmp_path / "plain"), "--no-progress"]) == 0
    config = RunConfig.load().with_values({"source": {"path": "demo", "progress": False}, "output": {"directory": str(tmp_path / "backfill")}})
    timings = backfill(config, tmp_path / "backfill", "local[1]")
    plain, filled = _outputs(tmp_path / "plain"), _outputs(tmp_path / "backfill")
    assert timings["articles"] >= len({t["id"] for t in plain[0]})  # valid articles, identical re-deliveries included
    assert filled[0] == plain[0]  # every tag record: entities, topics, story and version
    assert filled[1] == plain[1]  # every story record
    assert filled[2] == plain[2]  # the same dead letters
    assert list((tmp_path / "backfill" / "enriched").glob("day=*/*.parquet"))
