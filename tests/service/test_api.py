"""The API on a replayed demo, in process (FastAPI's TestClient)."""

from __future__ import annotations

import json
import time
from collections import Counter

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _stories_file(replayed_demo) -> list[dict]:
    return [json.loads(line) for line in (replayed_demo["out"] / "stories.jsonl").read_text().splitlines()]


def test_the_view_holds_the_latest_version_of_every_story_and_article(client, replayed_demo):
    latest: dict[str, dict] = {}
    for record in _stories_file(replayed_demo):
        if not record.get("tombstone") and record["version"] > latest.get(record["cluster_id"], {"version": 0})["version"]:
            latest[record["cluster_id"]] = record
    active = {k for k, r in latest.items() if r["status"] == "active"}
    listed = client.get("/api/stories", params={"limit": 200}).json()
    assert {s["id"] for s in listed["items"]} == active
    assert listed["total"] == len(active)
    health = client.get("/api/health").json()
    assert health["journal_mode"] == "wal"
    assert health["articles"] == 161 - len(replayed_demo["held_back"])


def test_top_stories_by_size_are_the_largest_events(client):
    page = client.get("/api/stories", params={"sort": "size", "limit": 3}).json()
    sizes = [s["size"] for s in page["items"]]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] >= 8
    top = page["items"][0]
    assert top["title"] and top["entities"] and len(top["sparkline"]) == 12
    trending = client.get("/api/stories", params={"limit": 5}).json()["items"]
    assert [s["trending"] for s in trending] == sorted((s["trending"] for s in trending), reverse=True)


def test_a_merged_story_answers_with_its_survivor_and_lineage_goes_both_ways(client, replayed_demo):
    merged, survivor = replayed_demo["merged"], replayed_demo["survivor"]
    assert merged in {s["id"] for s in client.get("/api/stories", params={"status": "merged"}).json()["items"]}
    answer = client.get(f"/api/stories/{merged}").json()
    assert (answer["id"], answer["resolved_from"], answer["merge_chain"]) == (survivor, merged, [merged, survivor])
    assert answer["status"] == "active" and merged in answer["lineage"]["merged_from"]
    own = client.get(f"/api/stories/{merged}", params={"follow": "false"}).json()
    assert own["status"] == "merged" and own["lineage"]["merged_into"] == survivor and "resolved_from" not in own
    assert own["members"] == [] and answer["member_count"] == answer["size"]
    moved = [
        a
        for a in replayed_demo["events"]
        if client.get(f"/api/articles/{a}").status_code == 200 and "story-merged" in client.get(f"/api/articles/{a}").json()["flags"]
    ]
    assert moved and all(client.get(f"/api/articles/{a}").json()["story"]["id"] == survivor for a in moved)


def test_a_story_has_members_timeline_and_top_entities(client):
    top = client.get("/api/stories", params={"sort": "size", "limit": 1}).json()["items"][0]
    story = client.get(f"/api/stories/{top['id']}").json()
    assert story["member_count"] == len(story["members"]) == top["size"]
    assert sum(h["articles"] for h in story["timeline"]["articles_per_hour"]) == top["size"]
    assert [v["version"] for v in story["timeline"]["versions"]][-1] == story["version"]
    assert story["top_entities"][0]["articles"] >= 2
    assert all(t["code"].startswith("medtop:") for t in story["top_topics"])


def test_match_finds_the_story_of_a_held_back_article(client, replayed_demo):
    events = replayed_demo["events"]
    for record in replayed_demo["held_back"]:
        answer = client.post("/api/match", json={"title": record["title"], "body": record.get("summary"), "k": 5}).json()
        assert answer["would_join"], answer
        story = client.get(f"/api/stories/{answer['story_id']}").json()
        member_events = Counter(events[m["id"]] for m in story["members"])
        assert member_events.most_common(1)[0][0] == record["event"], (record["title"], story["title"])
        assert events[answer["nearest_articles"][0]["id"]] == record["event"]


def test_similar_articles_come_from_the_same_event(client, replayed_demo):
    events = replayed_demo["events"]
    top = client.get("/api/stories", params={"sort": "size", "limit": 1}).json()["items"][0]
    member = client.get(f"/api/stories/{top['id']}").json()["members"][-1]["id"]
    similar = client.get(f"/api/articles/{member}/similar", params={"k": 3}).json()["similar"]
    assert len(similar) == 3 and member not in {s["id"] for s in similar}
    assert events[similar[0]["id"]] == events[member]


def test_filters_topic_with_descendants_entity_text_and_time(client):
    everything = client.get("/api/stories", params={"limit": 200}).json()["items"]
    disaster = client.get("/api/stories", params={"topic": "medtop:03000000", "limit": 200}).json()["items"]
    assert disaster and len(disaster) < len(everything)
    quake = next(s for s in everything if "earthquake" in s["title"].lower())
    assert quake["id"] in {s["id"] for s in disaster}
    entity = quake["entities"][0]
    by_entity = client.get("/api/stories", params={"entity": entity.upper(), "limit": 200}).json()["items"]
    assert quake["id"] in {s["id"] for s in by_entity} and len(by_entity) < len(everything)
    by_text = client.get("/api/stories", params={"q": "earthquake", "limit": 200}).json()["items"]
    assert quake["id"] in {s["id"] for s in by_text}
    late = client.get("/api/stories", params={"since": quake["last_seen"], "limit": 200}).json()["items"]
    assert all(s["last_seen"] >= quake["last_seen"] for s in late) and quake["id"] in {s["id"] for s in late}


def test_trending_entities_rank_by_velocity(client):
    trend = client.get("/api/trending/entities", params={"limit": 5}).json()
    assert trend["items"]
    velocities = [t["velocity"] for t in trend["items"]]
    assert velocities == sorted(velocities, reverse=True) and all(t["recent"] >= 2 for t in trend["items"])


def test_the_event_stream_replays_story_changes_in_order(client):
    with client.stream("GET", "/api/events", params={"after": 0, "max_events": 5}) as response:
        body = "".join(response.iter_text())
    ids = [int(line[4:]) for line in body.splitlines() if line.startswith("id: ")]
    assert ids == sorted(ids) and len(ids) == 5
    first = json.loads(next(line[6:] for line in body.splitlines() if line.startswith("data: ")))
    assert {"id", "version", "status", "size", "title", "deleted"} <= set(first)


def test_the_map_has_a_point_per_article_in_the_window_and_turns_to_umap_in_the_background(client):
    deadline = time.monotonic() + 300
    answer = client.get("/api/map").json()
    while answer["method"] != "umap" and time.monotonic() < deadline:  # numba compiles umap-learn on first use
        time.sleep(1)
        answer = client.get("/api/map").json()
    assert answer["method"] == "umap"
    points = answer["points"]
    health = client.get("/api/health").json()
    assert len(points) == health["indexed_vectors"] > 10
    assert all(-1.0 <= p["x"] <= 1.0 and -1.0 <= p["y"] <= 1.0 and p["story_id"] for p in points)
    by_story: dict[str, list] = {}
    for p in points:
        by_story.setdefault(p["story_id"], []).append((p["x"], p["y"]))
    spread = np.mean([np.std(xy, axis=0).mean() for xy in by_story.values() if len(xy) >= 3])
    assert spread < np.std([(p["x"], p["y"]) for p in points], axis=0).mean() / 2  # stories sit together on the map


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "message"),
    [
        ("get", "/api/stories", {"sort": "loudest"}, 400, "sort"),
        ("get", "/api/stories", {"limit": 0}, 400, "limit"),
        ("get", "/api/stories", {"topic": "medtop:99999999"}, 400, "not a code"),
        ("get", "/api/stories", {"since": "yesterday"}, 400, "not a time"),
        ("get", "/api/stories", {"since": "2026-03-05T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, 400, "after"),
        ("post", "/api/match", {}, 400, "title"),
        ("post", "/api/match", {"title": "   "}, 400, "blank"),
        ("post", "/api/match", {"title": "x", "k": 1000}, 400, "k"),
        ("get", "/api/stories/no-such-story", None, 404, "no story"),
        ("get", "/api/articles/no-such-article", None, 404, "no article"),
        ("get", "/api/trending/weather", None, 400, "what"),
    ],
)
def test_bad_requests_get_a_clear_4xx(client, method, path, payload, status, message):
    response = client.get(path, params=payload) if method == "get" else client.post(path, json=payload)
    assert response.status_code == status
    assert message in response.json()["error"]
