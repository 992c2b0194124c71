"""The materialised view on hand-made records: versions, re-delivery, merges, splits, tombstones, restarts."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from service.queries import NotFound, lineage, resolve_story, story_detail
from service.store import Store
from service.view import Item, View


def story(cluster_id: str, version: int, status: str = "active", merged_into: str | None = None, size: int = 2) -> Item:
    return Item(
        "story",
        cluster_id,
        {
            "cluster_id": cluster_id,
            "version": version,
            "status": status,
            "merged_into": merged_into,
            "size": size,
            "first_seen": "2026-03-01T00:00:00Z",
            "last_seen": "2026-03-01T06:00:00Z",
            "representative_title": f"title {cluster_id} v{version}",
            "top_entities": ["Chile"],
            "top_topics": ["disaster"],
            "keywords": ["quake"],
        },
    )


def article(article_id: str, version: int, story_id: str, hour: int = 1, flags=(), previous: str | None = None) -> Item:
    return Item(
        "article",
        article_id,
        {
            "id": article_id,
            "version": version,
            "published_at": f"2026-03-01T{hour:02d}:00:00Z",
            "title": f"article {article_id}",
            "flags": list(flags),
            "entities": [{"text": "Chile", "label": "GPE", "canonical": "Chile", "count": 1, "in_title": True}],
            "topics": [{"code": "medtop:20000139", "label": "earthquake", "level": 2, "score": 0.5, "ancestors": ["medtop:03000000"]}],
            "story": {"id": story_id, "score": 0.8, "is_new": False, **({"previous_id": previous} if previous else {})},
        },
    )


def vector(article_id: str, values: np.ndarray, hour: int = 1) -> Item:
    scale = float(np.abs(values).max()) / 127
    data = base64.b64encode(np.round(values / scale).astype(np.int8).tobytes()).decode()
    return Item(
        "vector",
        article_id,
        {
            "id": article_id,
            "content_hash": f"h{hour}{values[0]:.3f}",
            "published_at": f"2026-03-01T{hour:02d}:00:00Z",
            "dtype": "int8",
            "scale": scale,
            "vector": data,
        },
    )


@pytest.fixture
def view(tmp_path) -> View:
    return View(Store(tmp_path / "view.sqlite"), dimension=4, window_hours=10)


def test_the_highest_version_wins_whatever_the_order_and_repeats(view):
    view.apply([story("s1", 2, size=5), story("s1", 1, size=1), story("s1", 2, size=99)])
    assert view.store.one("SELECT version, size FROM stories WHERE id = 's1'")[:] == (2, 5)
    view.apply([article("a1", 2, "s1"), article("a1", 1, "s0")])
    assert view.store.one("SELECT version, story_id FROM articles WHERE id = 'a1'")[:] == (2, "s1")


def test_a_merge_resolves_to_the_survivor_and_shows_in_both_lineages(view):
    view.apply([story("s1", 1), story("s2", 1), story("s3", 1)])
    view.apply([story("s2", 2, "merged", "s1"), story("s3", 2, "merged", "s2")])
    assert resolve_story(view.store, "s3") == ("s1", ["s3", "s2", "s1"])
    assert lineage(view.store, "s1")["merged_from"] == ["s2"]
    assert lineage(view.store, "s2") == {"merged_into": "s1", "merged_from": ["s3"], "split_from": [], "split_into": []}


def test_a_split_is_read_from_the_republished_articles(view):
    view.apply([story("s1", 1), story("s9", 1), article("a1", 1, "s1")])
    view.apply([article("a1", 2, "s9", flags=["story-split"], previous="s1")])
    assert lineage(view.store, "s9")["split_from"] == ["s1"]
    assert lineage(view.store, "s1")["split_into"] == ["s9"]


def test_a_tombstone_deletes_the_story_for_good_but_a_merged_id_still_finds_its_survivor(view):
    view.apply([story("s1", 1), story("s2", 1), story("s2", 2, "merged", "s1")])
    view.apply([Item("story", "s2", None), Item("story", "s7", None)])
    view.apply([story("s2", 2, "merged", "s1")])  # a late re-delivery does not bring it back
    assert view.store.one("SELECT deleted FROM stories WHERE id = 's2'")[0] == 1
    assert story_detail(view.store, "s2")["id"] == "s1"
    view.apply([story("s4", 1), Item("story", "s4", None)])
    with pytest.raises(NotFound):
        story_detail(view.store, "s4")


def test_vectors_enter_the_index_and_leave_it_with_the_window_and_deletions(view):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
    view.apply([article("a1", 1, "s1", hour=1), vector("a1", a, hour=1), article("a2", 1, "s1", hour=2), vector("a2", b, hour=2)])
    assert len(view.index) == 2
    nearest = view.index.search(a / np.linalg.norm(a), 1)[0]
    assert nearest.article_id == "a1" and nearest.similarity > 0.99
    view.apply([article("a3", 1, "s1", hour=12)])  # the window is 10 h: a1 (01:00) leaves, a2 (02:00) stays
    assert view.index.ids() == ["a2"]
    view.apply([Item("article", "a2", None)])
    assert len(view.index) == 0


def test_a_restart_rebuilds_the_index_and_keeps_source_positions(tmp_path):
    rng = np.random.default_rng(1)
    first = View(Store(tmp_path / "view.sqlite"), dimension=4)
    first.apply([article("a1", 1, "s1"), vector("a1", rng.normal(size=4).astype(np.float32))], {"file:x": 1234})
    again = View(Store(tmp_path / "view.sqlite"), dimension=4)
    assert again.index.ids() == ["a1"]
    assert again.store.position("file:x") == 1234


def test_a_malformed_record_is_skipped_and_counted(view):
    view.apply([Item("story", "s1", {"cluster_id": "s1"}), story("s2", 1)])
    assert view.rejected == 1
    assert view.store.one("SELECT COUNT(*) FROM stories")[0] == 1


def test_story_centroids_follow_moves_deletions_and_the_window(view):
    rng = np.random.default_rng(2)
    vectors = {f"a{i}": rng.normal(size=4).astype(np.float32) for i in range(6)}
    view.apply([vector("a0", vectors["a0"], hour=1)])  # the vector before its tags
    view.apply([article(a, 1, "s1" if i < 3 else "s2", hour=i + 1) for i, a in enumerate(vectors)])
    view.apply([vector(a, v, hour=i + 1) for i, (a, v) in enumerate(vectors.items()) if a != "a0"])
    view.apply([article("a2", 2, "s2", hour=3, flags=["story-merged"])])  # re-published under s2
    view.apply([Item("article", "a5", None)])  # deleted

    def expected() -> dict[str, np.ndarray]:
        members: dict[str, list] = {}
        for article_id in view.index.ids():
            story_id = view.store.one("SELECT story_id FROM articles WHERE id = ?", (article_id,))[0]
            members.setdefault(story_id, []).append(view.index.vector(article_id))
        return {s: np.sum(v, axis=0) / np.linalg.norm(np.sum(v, axis=0)) for s, v in members.items()}

    story_ids, matrix = view.centroids.snapshot(4)
    assert story_ids == ["s1", "s2"] and view.centroids.members("s1") == 2 and view.centroids.members("s2") == 3
    for story_id, row in zip(story_ids, matrix):
        assert np.allclose(row, expected()[story_id], atol=1e-5)
    view.apply([article("a9", 1, "s3", hour=13)])  # the window (10 h) drops a0 and a1: s1 has no member left
    assert view.centroids.snapshot(4)[0] == ["s2"]
