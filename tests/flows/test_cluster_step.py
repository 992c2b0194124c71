"""The clustering step's id rules: duplicates, edits and re-publishing after merges."""

import base64
import copy
import json

import numpy as np
import pytest

from clustering import ReclusterResult
from flows.cluster_step import DEAD, STORIES, TAGS, ShardLogic, VersionTable
from flows.config import ClusteringConfig, LimitsConfig
from flows.enrich import EnrichedArticle
from flows.schema import Article, RawRecord
from taggers import Entity

VERSIONS = {"ner": "n", "encoder": "e", "topics": "t"}


def item(article_id, vector, title="Quake hits Chile", hours=0.0, received_hours=None):
    """An enriched article published `hours` after 1e9 and received then (or at `received_hours`)."""
    v = np.asarray(vector, dtype=np.float32)
    published, received = 1e9 + hours * 3600, 1e9 + (hours if received_hours is None else received_hours) * 3600
    raw = RawRecord(f'{{"id": "{article_id}", "title": "{title}"}}'.encode(), "kafka:articles", 40 + int(hours), received, 3)
    article = Article(article_id, title, published, received, raw.origin, raw.position, partition=3, record=raw)
    return EnrichedArticle(article, (Entity("Chile", "GPE", "Chile", 1, True),), (), v / np.linalg.norm(v), True)


def logic(limits=LimitsConfig(), replay=False, **overrides):
    # raw cosine, as these id rules were written against; calibration is tested in tests/clustering
    raw = {"calibrated": False, "threshold": 0.4, "weight_entities": 0.4, "weight_lexical": 0.0}
    config = ClusteringConfig(**{"recluster_every": 0, **raw, **overrides})
    return ShardLogic(None, config, lambda _: "default", lambda: VERSIONS, limits=limits, replay=replay)


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
    assert [(t["id"], t["version"], t["story"]["id"], t["story"]["previous_id"]) for t in republished] == [("b", 2, ids["a"], ids["b"])]
    merged = next(r.body for r in out if r.output == STORIES and r.key == ids["b"])
    assert merged["status"] == "merged" and merged["merged_into"] == ids["a"]


def test_every_tag_record_carries_story_and_model_versions():
    (tags, _) = logic().process([item("a", [1, 0])])
    body = tags.body
    assert body["story"] == {"id": "default-000001", "score": 1.0, "is_new": True}
    assert body["models"]["encoder"] == "e" and body["models"]["clustering"].startswith("online")
    assert body["entities"][0]["canonical"] == "Chile" and body["schema_version"] == 1


def test_edit_of_an_article_past_the_window_keeps_its_closed_story():
    step = logic(LimitsConfig(max_future_skew=48), window_hours=10, retire_after_hours=10)
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


def test_an_unclusterable_vector_is_one_dead_letter_with_the_original_bytes():
    step = logic()
    broken = item("bad", [1, 0])
    broken = EnrichedArticle(broken.article, broken.entities, broken.topics, np.array([np.nan, 1.0], dtype=np.float32), True)
    out = step.process([item("a", [1, 0]), broken, item("b", [1, 0.1])])
    assert [(r.output, r.key) for r in out][:3] == [(DEAD, "bad"), (TAGS, "a"), (TAGS, "b")]
    letter = out[0].body
    assert letter["reason"] == "cannot cluster: vector is zero or not finite"
    assert base64.b64decode(letter["raw_base64"]) == b'{"id": "bad", "title": "Quake hits Chile"}'
    assert (letter["origin"], letter["partition"], letter["position"]) == ("kafka:articles", 3, 40)


def test_a_run_the_clusterer_fails_on_leaves_no_versions_and_is_tagged_when_redriven(monkeypatch, caplog):
    step = logic()
    step.process([item("a", [1, 0])])
    stories_before = {k: (s.version, s.size) for k, s in step.state.clusterer.stories_.items()}
    clusterer = step.state.clusterer
    real = clusterer.partial_fit_predict

    def failing(docs):
        raise RuntimeError("bug in the clusterer")

    monkeypatch.setattr(clusterer, "partial_fit_predict", failing)
    out, _ = step.on_batch([item("b", [1, 0.1], hours=1), item("a", [0, 1], title="Quake hits Chile, update", hours=1)])
    assert [(r.output, r.key) for r in out] == [(DEAD, "b"), (DEAD, "a")]
    assert out[0].body["reason"] == "clustering failed: RuntimeError: bug in the clusterer"
    assert (
        "cluster step: a run of 2 articles failed, dead-lettered (kafka:articles/3@41 ('b'), kafka:articles/3@41 ('a')): RuntimeError: bug in the clusterer"
    ) in caplog.text
    assert step.state.versions.get("b") is None and step.state.versions.get("a")[1] == 1
    assert step.state.duplicates == 0
    monkeypatch.setattr(clusterer, "partial_fit_predict", real)
    redriven = step.process([item("b", [1, 0.1], hours=1)])
    assert [(r.output, r.key, r.body["version"]) for r in redriven if r.output == TAGS] == [(TAGS, "b", 1)]
    assert {k: (s.version, s.size) for k, s in step.state.clusterer.stories_.items()} != stories_before  # b joined now


@pytest.mark.parametrize(
    "where", [("Story", "add", 2), ("Story", "remove", 1), ("CentroidIndex", "upsert", 3), ("OnlineStoryClusterer", "_expire", 1), ("Story", "rank_terms", 1)]
)
def test_a_run_that_fails_inside_the_clusterer_leaves_it_exactly_as_before_and_is_tagged_when_redriven(monkeypatch, state_of, where):
    """Issue 15: the failure strikes after the run changed stories (an edit withdrawn, articles joined); the rollback
    undoes all of it, and re-driving the run gives what a shard that never saw the failure gives."""
    from clustering import OnlineStoryClusterer, Story
    from clustering.index import CentroidIndex

    step = logic()
    step.process([item("a", [1, 0]), item("b", [0, 1], hours=1)])
    twin = copy.deepcopy(step)  # never sees the failure
    before = state_of(step.state)
    owner, name, k = {"Story": Story, "CentroidIndex": CentroidIndex, "OnlineStoryClusterer": OnlineStoryClusterer}[where[0]], where[1], where[2]
    real, calls = getattr(owner, name), []

    def failing(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == k:
            raise RuntimeError(f"{name} broke")
        return result

    run = [item("c", [1, 0.1], hours=2), item("a", [0.2, 1], title="Quake hits Chile, update", hours=2), item("d", [0.1, 1], hours=2)]
    monkeypatch.setattr(owner, name, failing)
    out, _ = step.on_batch(run)
    monkeypatch.setattr(owner, name, real)
    assert [(r.output, r.key, r.body["reason"]) for r in out] == [(DEAD, x.article.id, f"clustering failed: RuntimeError: {name} broke") for x in run]
    assert state_of(step.state) == before
    redriven, expected = step.process(run), twin.process(run)
    assert [(r.output, r.key) for r in redriven] == [(r.output, r.key) for r in expected] and any(r.output == TAGS for r in redriven)
    assert [{**r.body, "processed_at": None} for r in redriven if r.body] == [{**r.body, "processed_at": None} for r in expected if r.body]


@pytest.mark.parametrize("replay", [True, False])
def test_a_far_future_article_cannot_move_the_watermark(replay):
    """Issue 15: one article dated decades ahead among a story's articles."""
    step = logic(replay=replay)
    out = step.process([item(f"a{i}", [1, 0.01 * i], hours=i) for i in range(7)])
    story = out[0].body["story"]["id"]
    future = item("future", [1, 0.05], hours=90 * 365 * 24, received_hours=7)  # published ~2090, received with the others
    out = step.process([future])
    (tags,) = [r.body for r in out if r.output == TAGS]
    assert "published-at-clamped" in tags["flags"] and tags["published_at"].startswith("2091")
    assert step.state.clusterer.watermark_ <= 1e9 + 7 * 3600
    out = step.process([item(f"b{i}", [1, 0.01 * i], hours=8 + i) for i in range(3)])
    later = [r.body for r in out if r.output == TAGS]
    assert all(t["story"]["id"] == story and "late" not in t["flags"] for t in later)
    assert step.state.clusterer.stories_[story].status == "active"


@pytest.mark.parametrize("replay", [True, False])
def test_an_article_older_than_max_age_before_the_stream_is_a_dead_letter(replay):
    step = logic(LimitsConfig(max_age=48), replay=replay)
    step.process([item(f"a{i}", [1, 0.01 * i], hours=100 + i, received_hours=10_000) for i in range(7)])
    out = step.process([item("old", [1, 0], hours=0, received_hours=10_000)])
    assert [(r.output, r.key) for r in out] == [(DEAD, "old")]
    assert out[0].body["reason"].startswith("published_at 2001-09-09T01:46:40.000Z is 103 h before the stream's event time")


def test_live_an_archive_produced_into_kafka_is_not_too_old():
    step = logic(LimitsConfig(max_age=48), replay=False)
    out = step.process([item(f"a{i}", [1, 0.01 * i], hours=i, received_hours=10_000) for i in range(3)])
    assert [r.output for r in out].count(TAGS) == 3 and not any("published-at-clamped" in r.body.get("flags", []) for r in out)


def test_replayed_time_follows_a_real_jump_after_a_few_articles():
    step = logic(LimitsConfig(max_future_skew=1), replay=True)
    step.process([item(f"a{i}", [1, 0.01 * i], hours=i * 0.1, received_hours=10_000) for i in range(15)])
    out = step.process([item(f"b{i}", [0.01 * i, 1], hours=100 + i * 0.1, received_hours=10_000) for i in range(15)])
    clamped = [r.body["id"] for r in out if r.output == TAGS and "published-at-clamped" in r.body["flags"]]
    assert clamped == [f"b{i}" for i in range(8)]  # until they are the median of the last 15


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


def test_version_table_budget_in_bytes_caps_the_ids_it_remembers():
    table = VersionTable(limit=1000, max_bytes=10 * VersionTable.ENTRY_BYTES)
    for i in range(50):
        table.put(f"id-{i}", "00000000000000ff", 1)
    assert len(table) == 10 and table.bytes <= 10 * VersionTable.ENTRY_BYTES
    assert table.get("id-49") is not None and table.get("id-39") is None


def test_stored_tag_records_are_bounded_in_count_and_bytes():
    from flows.cluster_step import TagStore

    store = TagStore(max_records=3, max_bytes=1000)
    store.put("a", "x" * 300)
    store.put("b", "y" * 300)
    assert len(store) == 2 and store.bytes == 2 * (1 + 300 + 100)
    store.put("c", "z" * 300)  # 1203 bytes: the oldest goes
    assert "a" not in store and store.get("c") == "z" * 300 and store.bytes == 802
    store.put("b", "short")  # replacing a record counts its new size only
    assert store.bytes == 401 + 106
    store.put("d", "d")
    store.put("e", "e")
    assert len(store) == 3 and "c" not in store


def test_a_snapshot_from_before_the_event_clock_is_migrated():
    from collections import OrderedDict

    step = logic()
    step.process([item("a", [1, 0])])
    old = step.state
    del old.clock
    old.last_tags = OrderedDict(a=old.last_tags.get("a"))  # what it was before TagStore
    restored = ShardLogic(old, ClusteringConfig(recluster_every=0), lambda _: "default", lambda: VERSIONS, replay=False)
    out = restored.process([item("a", [0, 1], title="Quake hits Chile, update", hours=1)])
    assert [(r.output, r.key, r.body["version"]) for r in out if r.output == TAGS] == [(TAGS, "a", 2)]


def test_a_far_future_first_record_of_a_replay_is_judged_with_the_next_ones():
    """A replayed shard holds its first articles until it can take their median, so no first record locks its clock."""
    step = logic(LimitsConfig(max_age=48), replay=True)
    first = item("first", [0, 1], hours=90 * 365 * 24, received_hours=10**6)  # published ~2090
    assert step.process([first]) == [] and step.process([item(f"a{i}", [1, 0.01 * i], hours=i, received_hours=10**6) for i in range(5)]) == []
    out = step.process([item("a5", [1, 0.05], hours=5, received_hours=10**6)])
    tags = {r.key: r.body for r in out if r.output == TAGS}
    assert sorted(tags) == ["a0", "a1", "a2", "a3", "a4", "a5", "first"] and tags["first"]["flags"] == ["published-at-clamped"]
    assert step.state.clusterer.watermark_ <= 1e9 + 5 * 3600
    later = step.process([item(f"b{i}", [1, 0.01 * i], hours=6 + i, received_hours=10**6) for i in range(10)])
    assert [r.output for r in later].count(TAGS) == 10 and not any("late" in r.body.get("flags", []) for r in later)


def test_a_replayed_shard_with_few_articles_flushes_them_at_the_end_of_the_input():
    step = logic(replay=True)
    assert step.process([item("a", [1, 0]), item("b", [1, 0.1], hours=1)]) == []
    out, _ = step.on_eof()
    assert [r.key for r in out if r.output == TAGS] == ["a", "b"]


def test_the_step_reports_what_clustering_costs_per_article():
    from flows import monitoring

    monitoring.reset_peaks()
    assert monitoring.cluster_ms_per_article() is None
    step = logic()
    step.on_batch([item("a", [1, 0]), item("b", [0, 1], hours=1)])
    ms = monitoring.cluster_ms_per_article()
    assert ms is not None and 0 < ms < 1000
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("storywire_cluster_articles_total", {"shard": "default"}) >= 2


def _bodies(records):
    return {(r.output, r.key, r.body["version"]): json.dumps(r.body, sort_keys=True) for r in records if r.body is not None}


def test_a_run_restored_from_an_older_snapshot_reuses_no_id_and_no_version(tmp_path):
    """Issue 16: after a crash the epoch after the snapshot is processed again, in another order."""
    config = ClusteringConfig(recluster_every=0, calibrated=False, threshold=0.4, weight_entities=0.0, weight_lexical=0.0)

    def started(state, generation):
        return ShardLogic(state, config, lambda _: "default", lambda: VERSIONS, limits=LimitsConfig(), replay=False, generation=generation, minted=tmp_path)

    first = started(None, 100)
    published = _bodies(first.process([item("a", [1, 0]), item("b", [0, 1], hours=1)]))
    assert {k for o, k, _ in published if o == STORIES} == {"default-100-000001", "default-100-000002"}
    snapshot = first.snapshot()
    published.update(_bodies(first.process([item("c", [1, 0.1], hours=2), item("d", [-1, 0.2], hours=2)])))  # then a crash

    again = started(copy.deepcopy(snapshot), 100)  # the clock was set back: still a newer generation
    assert again.state.generation == 101 and again.notify_at() is not None
    replayed = list(again.on_notify()[0]) + again.process([item("d", [-1, 0.2], hours=2), item("c", [1, 0.1], hours=2)])
    assert again.notify_at() is None

    redone = _bodies(replayed)
    assert not set(redone) & set(published)  # no (key, version) published twice, let alone with two contents
    newest = {}
    for output, key, version in published:
        newest[(output, key)] = max(version, newest.get((output, key), 0))
    for output, key, version in redone:
        assert version > newest.get((output, key), 0)  # what the lost run said is superseded
    assert {k for o, k, _ in redone if o == TAGS} == {"a", "b", "c", "d"}
    assert {k for o, k, _ in redone if o == STORIES} >= {"default-100-000001", "default-100-000002"}
    new_ids = {json.loads(b)["story"]["id"] for (o, _, _), b in redone.items() if o == TAGS} - set(snapshot.clusterer.stories_)
    assert new_ids and all(i.startswith("default-101-") for i in new_ids)
    # the story only the lost run opened (d's) is deleted, nothing the snapshot or the new run knows is
    deleted = {r.key for r in replayed if r.output == STORIES and r.body is None}
    assert "default-100-000003" in deleted and any(k == ("stories", "default-100-000003", 100_000_001) for k in published)
    assert not deleted & (set(snapshot.clusterer.stories_) | new_ids)


def test_settings_changed_since_the_snapshot_are_applied_and_said(caplog):
    step = logic(weight_entities=0.0)
    step.process([item("a", [1, 0])])
    changed = ClusteringConfig(recluster_every=0, calibrated=False, threshold=0.9, weight_entities=0.0, weight_lexical=0.0, max_window=100)
    restored = ShardLogic(copy.deepcopy(step.snapshot()), changed, lambda _: "default", lambda: VERSIONS, replay=False)
    assert restored.state.clusterer.threshold == 0.9 and restored.state.last_tags.max_records == 100
    assert "clustering.threshold changed since the snapshot (0.4 -> 0.9): applied to the restored shard default" in caplog.text
    out = restored.process([item("b", [1, 0.6])])  # cosine 0.86: joined a's story at 0.4, not at 0.9
    assert {r.body["story"]["id"] for r in out if r.output == TAGS} != {"default-000001"}
    assert next(r.body for r in out if r.output == TAGS)["models"]["clustering"].startswith("online+hdbscan:t0.9")


def test_stories_of_a_run_that_crashed_before_its_first_snapshot_are_deleted(tmp_path):
    def started(generation):
        config = ClusteringConfig(recluster_every=0)
        return ShardLogic(None, config, lambda _: "default", lambda: VERSIONS, replay=False, generation=generation, minted=tmp_path)

    lost = [r.key for r in started(7).process([item("a", [1, 0])]) if r.output == STORIES]
    again = started(8).process([item("a", [1, 0])])
    assert lost == ["default-7-000001"]
    assert lost[0] in {r.key for r in again if r.output == STORIES and r.body is None}
    assert {r.key for r in again if r.output == STORIES and r.body is not None} == {"default-8-000001"}


def test_a_store_whose_snapshots_were_deleted_keeps_its_stories(tmp_path):
    def started(generation):
        config = ClusteringConfig(recluster_every=0)
        return ShardLogic(None, config, lambda _: "default", lambda: VERSIONS, replay=False, generation=generation, minted=tmp_path)

    first = started(7)
    first.process([item("a", [1, 0])])
    first.snapshot()  # it took a snapshot: a later start without one lost the store, not this run's epoch
    again = started(8).process([item("b", [0, 1])])
    assert not [r for r in again if r.output == STORIES and r.body is None]


def test_the_flow_owns_the_reclustering_process_and_hands_it_to_the_clusterer():
    """Issue 17: the estimator starts no process; the step starts one per shard (and one for a restored shard)."""
    from clustering import ReclusterWorker
    from flows.cluster_step import new_shard_state

    assert new_shard_state(ClusteringConfig(recluster_mode="inline"), "default").clusterer.recluster_worker is None
    assert new_shard_state(ClusteringConfig(recluster_every=0), "default").clusterer.recluster_worker is None
    state = new_shard_state(ClusteringConfig(), "default", replay=True)
    workers = [state.clusterer.recluster_worker]
    try:
        assert isinstance(workers[0], ReclusterWorker) and workers[0]._pool is not None  # started, warming up
        restored = ShardLogic(copy.deepcopy(state), ClusteringConfig(), lambda _: "default", lambda: VERSIONS, replay=True)
        workers.append(restored.state.clusterer.recluster_worker)
        assert workers[1] is not workers[0] and workers[1]._pool is not None  # the snapshot held none: the step gave it one
    finally:
        for worker in workers:
            worker.close()
