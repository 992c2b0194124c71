"""The clustering step's id rules: duplicates, edits and re-publishing after merges."""

import numpy as np

from clustering import ReclusterResult
from flows.cluster_step import DEAD, STORIES, TAGS, ShardLogic, VersionTable
from flows.config import ClusteringConfig
from flows.enrich import EnrichedArticle
from flows.schema import Article
from taggers import Entity

VERSIONS = {"ner": "n", "encoder": "e", "topics": "t"}


def item(article_id, vector, title="Quake hits Chile", hours=0.0):
    v = np.asarray(vector, dtype=np.float32)
    article = Article(article_id, title, 1e9 + hours * 3600, 1e9, "file:x", 1)
    return EnrichedArticle(article, (Entity("Chile", "GPE", "Chile", 1, True),), (), v / np.linalg.norm(v), True)


def logic(**overrides):
    return ShardLogic(None, ClusteringConfig(recluster_every=0, **overrides), lambda _: "default", lambda: VERSIONS)


def test_identical_redelivery_is_ignored_and_edit_is_a_new_version():
    step = logic()
    first = step.process([item("a", [1, 0])])
    assert [(r.output, r.key, r.body.get("version")) for r in first] == [(TAGS, "a", 1), (STORIES, "default-000001", 1)]
    assert step.process([item("a", [1, 0])]) == []
    assert step.state.duplicates == 1
    edited = step.process([item("a", [0, 1], title="Quake hits Chile, toll rises")])
    tags = [r.body for r in edited if r.output == TAGS]
    assert tags[0]["version"] == 2 and "edited" in tags[0]["flags"]
    sizes = {r.key: r.body["size"] for r in edited if r.output == STORIES}
    assert sizes == {"default-000001": 0, "default-000002": 1}  # the edit left its old story for a new one


def test_articles_of_a_merged_story_are_republished_with_the_survivor():
    step = logic(threshold=0.99, weight_entities=0.0)
    out = step.process([item("a", [1, 0.2]), item("b", [1, -0.2], hours=1)])
    ids = {r.key: r.body["story"]["id"] for r in out if r.output == TAGS}
    assert ids["a"] != ids["b"]
    step.state.clusterer.apply_recluster(ReclusterResult([[ids["a"], ids["b"]]], 1, 0))
    out = step.process([])
    republished = [r.body for r in out if r.output == TAGS]
    assert [(t["id"], t["version"], t["story"]["id"], t["story"]["previous_id"]) for t in republished] == [
        ("b", 2, ids["a"], ids["b"])
    ]
    merged = next(r.body for r in out if r.output == STORIES and r.key == ids["b"])
    assert merged["status"] == "merged" and merged["merged_into"] == ids["a"]


def test_every_tag_record_carries_story_and_model_versions():
    (tags, _) = logic().process([item("a", [1, 0])])
    body = tags.body
    assert body["story"] == {"id": "default-000001", "score": 1.0, "is_new": True}
    assert body["models"]["encoder"] == "e" and body["models"]["clustering"].startswith("online")
    assert body["entities"][0]["canonical"] == "Chile" and body["schema_version"] == 1


def test_edit_of_an_article_past_the_window_keeps_its_closed_story():
    step = logic(window_hours=10, retire_after_hours=10)
    step.process([item("old", [1, 0], hours=0)])
    step.process([item("new", [0, 1], hours=30)])  # moves the window on; "old"'s story retires
    out = step.process([item("old", [1, 0], title="Quake hits Chile (corrected)", hours=0)])
    (tags,) = [r.body for r in out if r.output == TAGS]
    assert tags["version"] == 2 and tags["story"]["id"] == "default-000001"
    assert {"edited", "outside-window"} <= set(tags["flags"])
    assert step.state.clusterer.n_stories_opened_ == 2  # no story opened for the correction


def test_an_edit_and_a_duplicate_in_the_same_batch_as_the_original():
    step = logic()
    out = step.process([item("a", [1, 0]), item("a", [1, 0]), item("a", [0.9, 0.1], title="Quake hits Chile, update")])
    tags = [(r.body["id"], r.body["version"]) for r in out if r.output == TAGS]
    assert tags == [("a", 1), ("a", 2)]
    assert step.state.duplicates == 1
    (story,) = step.state.clusterer.stories_.values()
    assert story.size == 1


def test_a_failing_batch_is_dead_lettered_and_the_shard_keeps_going():
    step = logic()
    broken = item("bad", [1, 0])
    broken = EnrichedArticle(broken.article, broken.entities, broken.topics, np.array([np.nan, 1.0, 2.0], dtype=np.float32), True)
    step.on_batch([item("a", [1, 0])])
    out, _ = step.on_batch([broken])
    assert [(r.output, r.key) for r in out] == [(DEAD, "bad")]
    assert out[0].body["reason"].startswith("clustering failed:")
    out, _ = step.on_batch([item("b", [1, 0.1])])
    assert [r.output for r in out][0] == TAGS


def test_version_table_remembers_the_latest_ids_only():
    table = VersionTable(limit=2)
    table.put("https://example.com/a", "00ff00ff00ff00ff", 1)
    table.put("b", "ffffffffffffffff", 3)
    table.set_version("https://example.com/a", 2)  # a re-publication: a is now the newest
    table.put("c", "0000000000000001", 1)
    assert table.get("https://example.com/a") == ("00ff00ff00ff00ff", 2)
    assert table.get("b") is None  # the oldest, forgotten beyond the limit
    assert table.get("c") == ("0000000000000001", 1)
    assert len(table) == 2
