"""A replayed demo for the service tests: the real flow over the demo firehose minus held-back articles.

The replay runs with article vectors on, a strict join threshold (0.7) and
re-clustering every 40 articles, so stories are opened apart and then merged:
the view sees merges, lineage and many versions per story. Tombstones come
1000 h after a merge, so merged stories stay listed (tests/service/test_view.py
covers tombstones).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

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
    env = dict(os.environ, STORYWIRE_OUTPUT__VECTORS="true", STORYWIRE_CLUSTERING__THRESHOLD="0.7",
               STORYWIRE_CLUSTERING__RECLUSTER_EVERY="40", STORYWIRE_OUTPUT__TOMBSTONE_AFTER_HOURS="1000")
    out = folder / "out"
    subprocess.run([sys.executable, "-m", "flows.cli", "replay", str(archive), "--out", str(out), "--no-progress"],
                   check=True, env=env, capture_output=True, timeout=600)
    return {"out": out, "held_back": held_back, "events": events}


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
