import time
from dataclasses import replace

import numpy as np
import pytest

from clustering import OnlineStoryClusterer, ReclusterResult, StoryDoc
from clustering.background import ReclusterWorker
from clustering.online import window_bytes

HOUR = 3600.0


def unit(*values):
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def doc(i, vector, hours=0.0, entities=(), title=""):
    return StoryDoc(f"d{i}", vector, 1_000_000.0 + hours * HOUR, title or f"title {i}", tuple(entities))


def test_similar_articles_share_a_story_and_different_ones_do_not():
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=0.5, recluster_every=0)
    out = c.partial_fit_predict([doc(1, unit(1, 0, 0)), doc(2, unit(0.9, 0.1, 0)), doc(3, unit(0, 1, 0)), doc(4, unit(0.1, 0.95, 0))])
    assert out[0].is_new and not out[1].is_new and out[0].story_id == out[1].story_id
    assert out[2].is_new and out[2].story_id == out[3].story_id != out[0].story_id
    assert out[0].story_id == "default-000001"


def test_time_decay_opens_a_new_story_for_the_same_topic_much_later():
    c = OnlineStoryClusterer(
        calibrated=False,
        weight_lexical=0.0,
        threshold=0.5,
        time_grace_hours=0,
        time_scale_hours=24,
        time_floor=0.0,
        window_hours=1000,
        retire_after_hours=1000,
        recluster_every=0,
    )
    early, later = c.partial_fit_predict([doc(1, unit(1, 0)), doc(2, unit(0.95, 0.05), hours=96)])
    assert later.is_new and later.story_id != early.story_id


def test_shared_entities_tell_apart_stories_with_the_same_wording():
    # "Two earthquakes": identical vectors, only the entities differ. Cosine alone (1.0)
    # stays under the threshold; a shared entity adds 0.4 and decides.
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=1.1, weight_entities=0.4, recluster_every=0)
    v = unit(1, 0.3)
    chile, japan, japan2, chile2 = c.partial_fit_predict(
        [doc(1, v, entities=["Chile"]), doc(2, v, entities=["Japan"]), doc(3, v, entities=["Japan"]), doc(4, v, entities=["Chile"])]
    )
    assert japan.is_new and japan.story_id != chile.story_id
    assert japan2.story_id == japan.story_id and chile2.story_id == chile.story_id


def test_story_keeps_size_times_entities_and_representative_title():
    c = OnlineStoryClusterer(recluster_every=0)
    c.partial_fit_predict(
        [
            doc(1, unit(1, 0.1), hours=0, entities=["Chile", "Valparaiso"], title="Quake hits Chile"),
            doc(2, unit(1, 0.0), hours=2, entities=["Chile"], title="Chile quake toll rises"),
        ]
    )
    (story,) = c.stories_.values()
    assert story.size == 2 and story.last_seen - story.first_seen == 2 * HOUR
    assert story.top_entities()[0] == "Chile"
    assert "chile" in story.keywords() and story.representative_title in {"Quake hits Chile", "Chile quake toll rises"}


def test_idle_stories_are_retired_and_dropped():
    c = OnlineStoryClusterer(retire_after_hours=10, window_hours=10, recluster_every=0)
    c.partial_fit_predict([doc(1, unit(1, 0))])
    c.drain_changes()
    c.partial_fit_predict([doc(2, unit(0, 1), hours=11)])
    changed, _ = c.drain_changes()
    retired = [s for s in changed if s.status == "retired"]
    assert [s.story_id for s in retired] == ["default-000001"]
    assert list(c.stories_) == ["default-000002"]


@pytest.mark.parametrize("retire", [{"retire_after_articles": 3}, {"retire_after_hours": 10.0}])
def test_assignments_do_not_depend_on_batch_boundaries(retire):
    """A replay reads in large batches, a live stream in small ones: a story due to retire in the middle of a
    batch takes no more articles there either (without this, the first article's story took the last one
    only when both fell in one batch)."""
    stream = [doc(1, unit(1, 0, 0, 0, 0))] + [doc(i, unit(*np.eye(5)[i - 1]), hours=3 * i) for i in range(2, 6)] + [doc(6, unit(1, 0, 0, 0, 0), hours=16)]

    def assigned(batch_size):
        c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=0.7, window_hours=1e6, recluster_every=0, **retire)
        return [a.story_id for start in range(0, len(stream), batch_size) for a in c.partial_fit_predict(stream[start : start + batch_size])]

    one_by_one = assigned(1)
    assert one_by_one[5] != one_by_one[0]  # the first story retired before the follow-up came
    assert assigned(6) == assigned(4) == assigned(2) == one_by_one


def test_stories_do_not_retire_for_time_alone_by_default():
    """A follow-up a year later finds its story (the time decay weighs the gap); the article count retires stories."""
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=0.7, recluster_every=0)
    first = c.partial_fit_predict([doc(1, unit(1, 0))])[0]
    c.partial_fit_predict([doc(2, unit(0, 1), hours=200 * 24)])  # another story, half a year on
    later = c.partial_fit_predict([doc(3, unit(1, 0.05), hours=365 * 24)])[0]
    assert later.story_id == first.story_id and not later.is_new


def test_window_is_bounded_by_count_and_time():
    c = OnlineStoryClusterer(max_window=50, window_hours=5, retire_after_hours=1e6, recluster_every=0)
    rng = np.random.default_rng(0)
    for i in range(20):
        c.partial_fit_predict([doc(i * 10 + j, unit(*rng.normal(size=8)), hours=i) for j in range(10)])
    assert len(c._window) <= 50
    assert min(e.doc.published_at for e in c._window.values()) >= c.watermark_ - 5 * HOUR


def test_merge_keeps_the_oldest_id_and_moves_members():
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=0.95, merge_min_cosine=0.7, recluster_every=0)
    a, b = c.partial_fit_predict([doc(1, unit(1, 0.2)), doc(2, unit(1, -0.2), hours=1)])
    assert a.story_id != b.story_id
    c.drain_changes()
    c.apply_recluster(ReclusterResult(groups=[[b.story_id, a.story_id]], n_clusters=1, n_noise=0))
    changed, moved = c.drain_changes()
    by_id = {s.story_id: s for s in changed}
    assert by_id[b.story_id].status == "merged" and by_id[b.story_id].merged_into == a.story_id
    assert by_id[a.story_id].size == 2
    assert [(m.doc_id, m.story_id) for m in moved] == [("d2", a.story_id)]


def test_merge_is_refused_when_centroids_disagree():
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=0.95, merge_min_cosine=0.7, recluster_every=0)
    a, b = c.partial_fit_predict([doc(1, unit(1, 0)), doc(2, unit(0, 1))])
    c.apply_recluster(ReclusterResult(groups=[[a.story_id, b.story_id]], n_clusters=1, n_noise=0))
    assert len(c.stories_) == 2


def test_removed_article_leaves_its_story():
    c = OnlineStoryClusterer(recluster_every=0)
    c.partial_fit_predict([doc(1, unit(1, 0)), doc(2, unit(1, 0.1))])
    story_id = c.remove("d2")
    assert c.stories_[story_id].size == 1
    assert c.remove("unknown") is None


def test_periodic_recluster_runs_hdbscan_and_is_deterministic():
    rng = np.random.default_rng(3)
    centers = [unit(*rng.normal(size=16)) for _ in range(3)]
    docs = [doc(i, unit(*(centers[i % 3] + 0.05 * rng.normal(size=16))), hours=i / 10) for i in range(120)]

    def labels(recluster_every=40):
        # a threshold so strict that online assignment alone opens a story per article or so: only HDBSCAN groups them
        c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=0.99, recluster_every=recluster_every, min_cluster_size=5)
        return [a.story_id for a in c.partial_fit_predict(docs)], c

    first, c = labels()
    assert first == labels()[0]
    assert len(c.stories_) == 3
    assert len(labels(recluster_every=0)[1].stories_) > 100


@pytest.mark.parametrize(("hours", "late"), [(-100, True), (-25, True), (-23, False), (5, False)])
def test_article_older_than_the_window_is_flagged_late(hours, late):
    c = OnlineStoryClusterer(window_hours=24, retire_after_hours=1e6, recluster_every=0)
    c.partial_fit_predict([doc(1, unit(1, 0), hours=0)])
    (assignment,) = c.partial_fit_predict([doc(2, unit(0, 1), hours=hours)])
    assert assignment.late is late and assignment.is_new


def three_topic_stream(n=240, seed=3):
    rng = np.random.default_rng(seed)
    centers = [unit(*rng.normal(size=16)) for _ in range(3)]
    return [doc(i, unit(*(centers[i % 3] + 0.05 * rng.normal(size=16))), hours=i / 10) for i in range(n)]


def test_background_replay_mode_is_reproducible_and_merges():
    docs = three_topic_stream()

    def run():
        # A strict threshold splits each topic into several stories; re-clustering merges them back.
        worker = ReclusterWorker()
        c = OnlineStoryClusterer(
            calibrated=False,
            weight_lexical=0.0,
            threshold=0.985,
            recluster_every=60,
            min_cluster_size=5,
            merge_min_cosine=0.9,
            recluster_mode="replay",
            recluster_worker=worker,
        )
        ids = [a.story_id for batch in range(0, len(docs), 20) for a in c.partial_fit_predict(docs[batch : batch + 20])]
        changed, moved = c.drain_changes()
        worker.close()
        return ids, moved, len(c.stories_)

    first, second = run(), run()
    assert first[0] == second[0] and [(m.doc_id, m.story_id) for m in first[1]] == [(m.doc_id, m.story_id) for m in second[1]]
    assert first[1], "the background re-clustering was applied and merged stories"


def test_background_live_mode_keeps_assigning_while_hdbscan_runs():
    docs = three_topic_stream()
    worker = ReclusterWorker()
    c = OnlineStoryClusterer(
        calibrated=False,
        weight_lexical=0.0,
        threshold=0.985,
        recluster_every=60,
        min_cluster_size=5,
        merge_min_cosine=0.9,
        recluster_mode="live",
        recluster_worker=worker,
    )
    c.partial_fit_predict(docs[:120])
    assert c._background.pending or c.drain_changes()[1]
    deadline = time.monotonic() + 60
    moved = []
    while time.monotonic() < deadline and not moved:
        time.sleep(0.2)
        c.partial_fit_predict([])  # a later batch applies the result when it is ready
        moved = c.drain_changes()[1]
    worker.close()
    assert moved


def test_clusterer_with_a_background_worker_pickles_without_it():
    import pickle

    worker = ReclusterWorker().start()
    c = OnlineStoryClusterer(recluster_mode="replay", recluster_worker=worker)
    c.partial_fit_predict([doc(1, unit(1, 0))])
    restored = pickle.loads(pickle.dumps(c))
    worker.close()
    assert list(restored.stories_) == ["default-000001"] and not restored._background.pending
    assert restored.recluster_worker._pool is None  # the snapshot holds no process


def test_words_tell_apart_events_of_one_kind_when_the_vectors_cannot():
    # Two earthquakes whose embeddings agree: the places and tolls in the text decide.
    c = OnlineStoryClusterer(calibrated=False, threshold=1.2, weight_entities=0.0, weight_lexical=0.5, recluster_every=0)
    v = unit(1, 0.2)
    texts = [
        "Magnitude 7.1 earthquake strikes Valparaiso, 12 dead as buildings collapse in Valparaiso port",
        "Magnitude 6.4 earthquake strikes Hokkaido, 3 dead as landslides bury Atsuma homes",
        "Valparaiso earthquake toll rises to 12 as rescuers search the port",
        "Hokkaido earthquake: Atsuma landslides leave 3 dead",
    ]
    chile, japan, chile2, japan2 = c.partial_fit_predict([StoryDoc(f"q{i}", v, 1e6 + i, text=t) for i, t in enumerate(texts)])
    assert japan.is_new and japan.story_id != chile.story_id
    assert chile2.story_id == chile.story_id and japan2.story_id == japan.story_id


def test_a_follow_up_within_the_grace_joins_its_story_and_fades_after():
    def follow_up_joins(gap_hours, grace_hours, floor=0.0, follow_up=unit(0.95, 0.05)):
        c = OnlineStoryClusterer(
            calibrated=False,
            weight_lexical=0.0,
            threshold=0.5,
            time_grace_hours=grace_hours,
            time_scale_hours=24,
            time_floor=floor,
            window_hours=1e5,
            retire_after_hours=1e5,
            recluster_every=0,
        )
        first, later = c.partial_fit_predict([doc(1, unit(1, 0)), doc(2, follow_up, hours=gap_hours)])
        return later.story_id == first.story_id

    assert follow_up_joins(30, grace_hours=36) and follow_up_joins(50, grace_hours=36)  # a day-dated follow-up, two days on
    assert not follow_up_joins(30, grace_hours=0)
    assert not follow_up_joins(200, grace_hours=36)
    # With a floor, a close follow-up still finds its story weeks later; a looser one does not.
    assert follow_up_joins(24 * 60, grace_hours=24, floor=0.8)
    assert not follow_up_joins(24 * 60, grace_hours=24, floor=0.8, follow_up=unit(0.56, 0.8285))
    assert follow_up_joins(30, grace_hours=36, floor=0.8, follow_up=unit(0.56, 0.8285))


def test_keywords_say_what_sets_a_story_apart_not_what_stories_share():
    c = OnlineStoryClusterer(calibrated=False, weight_lexical=0.0, threshold=0.9, recluster_every=0)
    titles = ["Earthquake hits Valparaiso", "Earthquake hits Hokkaido", "Valparaiso earthquake damage", "Hokkaido earthquake damage"]
    vectors = [unit(1, 0), unit(0, 1), unit(1, 0.01), unit(0.01, 1)]
    c.partial_fit_predict([doc(i, v, hours=i, title=t) for i, (t, v) in enumerate(zip(titles, vectors))])
    chile, japan = sorted(c.drain_changes()[0], key=lambda s: s.story_id)  # what the story records carry
    assert chile.keywords()[0] == "valparaiso" and japan.keywords()[0] == "hokkaido"
    assert "earthquake" in chile.keywords() and "earthquake" in japan.keywords()


def test_live_stories_are_capped_the_longest_idle_retiring_first():
    c = OnlineStoryClusterer(
        calibrated=False, weight_lexical=0.0, threshold=0.99, max_live_stories=3, retire_after_hours=1e6, window_hours=1e6, recluster_every=0
    )
    rng = np.random.default_rng(0)
    c.partial_fit_predict([doc(i, unit(*rng.normal(size=32)), hours=i) for i in range(5)])
    assert sorted(c.stories_) == ["default-000003", "default-000004", "default-000005"]
    retired = [s.story_id for s in c.drain_changes()[0] if s.status == "retired"]
    assert retired == ["default-000001", "default-000002"]


def test_a_story_quiet_while_the_feed_moved_on_retires_however_little_time_passed():
    c = OnlineStoryClusterer(
        calibrated=False, weight_lexical=0.0, threshold=0.99, retire_after_articles=3, retire_after_hours=1e6, window_hours=1e6, recluster_every=0
    )
    rng = np.random.default_rng(1)
    first = c.partial_fit_predict([doc(0, unit(1, *np.zeros(31)))])[0]
    c.partial_fit_predict([doc(i, unit(*rng.normal(size=32)), hours=i / 100) for i in range(1, 3)])
    assert first.story_id in c.stories_, "two other articles: still live"
    c.partial_fit_predict([doc(i, unit(*rng.normal(size=32)), hours=i / 100) for i in range(3, 6)])
    assert first.story_id not in c.stories_ and len(c.stories_) == 3


def test_window_is_bounded_in_bytes_whatever_the_ids_cost():
    budget = 64 * 1024
    c = OnlineStoryClusterer(max_window_bytes=budget, window_hours=1e6, retire_after_hours=1e6, recluster_every=0)
    rng = np.random.default_rng(0)
    for i in range(40):
        batch = [doc(i * 10 + j, unit(*rng.normal(size=8)), hours=i) for j in range(10)]
        c.partial_fit_predict([replace(d, id=d.id + "x" * 2000) for d in batch])  # long URL-like ids
    held = sum(window_bytes(e.doc) for e in c._window.values())
    assert c.window_bytes_ == held
    assert 0 < held <= budget
    assert len(c._window) < 40  # the count bound (50k) alone would have kept all 400
