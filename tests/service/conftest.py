"""A replayed demo for the service tests: the real flow over the demo firehose minus held-back articles.

The replay runs with article vectors on. Then the records the flow publishes
when re-clustering merges one story into another are appended to its output
(the merged story's final record with `merged_into`, its articles re-published
under the survivor with flag `story-merged`), so the view sees a merge
whatever the clustering settings of the day.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from replay import demo_firehose_path

HELD_BACK_EVENTS = 3  # one article from each of the largest events is kept out of the replay


def _demo_records() -> list[tuple[str, dict | None]]:
    lines = demo_firehose_path().read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        out.append((line, record if isinstance(record, dict) else None))
    return out


@pytest.fixture(scope="session")
def replayed_demo(tmp_path_factory) -> dict:
    """{"out": replay folder, "held_back": [records], "events": article id -> event}."""
    folder = tmp_path_factory.mktemp("service-demo")
    records = _demo_records()
    events = {r["id"]: r["event"] for _, r in records if r and isinstance(r.get("id"), str) and "event" in r}
    largest = [event for event, _ in Counter(events.values()).most_common(HELD_BACK_EVENTS)]
    held_back = []
    for event in largest:
        members = [r for _, r in records if r and r.get("event") == event]
        held_back.append(members[len(members) // 2])
    held_ids = {r["id"] for r in held_back}
    archive = folder / "firehose.jsonl"
    archive.write_text("".join(line + "\n" for line, r in records if not (r and r.get("id") in held_ids)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")} | {"STORYWIRE_OUTPUT__VECTORS": "true"}
    out = folder / "out"
    subprocess.run(
        [sys.executable, "-m", "commands.cli", "replay", str(archive), "--out", str(out), "--no-progress"],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    merged, survivor = _merge_two_stories(out)
    return {"out": out, "held_back": held_back, "events": events, "merged": merged, "survivor": survivor}


def _latest(path: Path, key: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if not record.get("tombstone") and record["version"] > latest.get(record[key], {"version": 0})["version"]:
            latest[record[key]] = record
    return latest


def _merge_two_stories(out: Path) -> tuple[str, str]:
    """Append what the flow publishes when the smaller of two active stories merges into the larger."""
    stories = _latest(out / "stories.jsonl", "cluster_id")
    active = sorted((s for s in stories.values() if s["status"] == "active"), key=lambda s: (-s["size"], s["cluster_id"]))
    survivor, merged = active[0], active[-1]
    tags = [t for t in _latest(out / "tags.jsonl", "id").values() if t["story"]["id"] == merged["cluster_id"]]
    with (out / "stories.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(merged | {"version": merged["version"] + 1, "status": "merged", "merged_into": survivor["cluster_id"]}) + "\n")
        handle.write(json.dumps(survivor | {"version": survivor["version"] + 1, "size": survivor["size"] + len(tags)}) + "\n")
    with (out / "tags.jsonl").open("a", encoding="utf-8") as handle:
        for tag in tags:
            story = {"id": survivor["cluster_id"], "score": tag["story"]["score"], "is_new": False, "previous_id": merged["cluster_id"]}
            handle.write(json.dumps(tag | {"version": tag["version"] + 1, "story": story, "flags": sorted({*tag["flags"], "story-merged"})}) + "\n")
    return merged["cluster_id"], survivor["cluster_id"]


@pytest.fixture(scope="session")
def service_app(replayed_demo, tmp_path_factory):
    """The app over the replayed demo (its own database), and its view."""
    from service import ServeOptions, build

    database = tmp_path_factory.mktemp("service-db") / "view.sqlite"
    return build(ServeOptions(database=database, replay_dir=replayed_demo["out"]))


@pytest.fixture(scope="session")
def client(service_app):
    from fastapi.testclient import TestClient

    app, _ = service_app
    with TestClient(app) as test_client:
        yield test_client
