"""A failed batch rolls the clusterer back exactly; a snapshot restores it exactly (issue 15, issue 17)."""

import copy
import pickle
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from clustering import OnlineStoryClusterer, Story, StoryDoc
from clustering.calibration import CosineBackground
from clustering.index import CentroidIndex
from clustering.lexical import TermStatistics
from clustering.window import WindowVectors

HOUR = 3600.0
PLACES = ["Valparaiso", "Hokkaido", "Lagos", "Quito", "Perth", "Oslo", "Cairo", "Lima"]
WORDS = ["earthquake", "election", "merger", "strike", "flood", "verdict", "launch", "summit"]


def stream(seed: int, n: int = 150, topics: int = 8) -> list[StoryDoc]:
    """Articles on a few topics, in 16 dimensions, hours apart in bursts: stories open, join, merge,
    split (a strict threshold opens several per topic; re-clustering reunites them), retire and leave the window."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, 16))
    docs = []
    for i in range(n):
        t = int(rng.integers(0, topics)) if i % 7 else i % topics
        v = centres[t] + 0.08 * rng.normal(size=16)
        place, word = PLACES[t % len(PLACES)], WORDS[(t * 3 + i) % len(WORDS)]
        text = f"{word} in {place}: {int(rng.integers(1, 50))} reported as {word} hits {place} {WORDS[t % len(WORDS)]}"
        docs.append(
            StoryDoc(
                f"d{i}",
                (v / np.linalg.norm(v)).astype(np.float32),
                1e6 + HOUR * (i // 10) * 5 + i,
                text[:40],
                (place,) if i % 3 else (place, f"Person{t}"),
                text=text,
            )
        )
    return docs


PARAMS = dict(
    threshold=9.0,
    recluster_every=25,
    min_cluster_size=4,
    recluster_dims=0,
    merge_min_cosine=0.3,
    min_split_size=3,
    split_max_cosine=0.9,
    window_hours=30,
    max_window=90,
    retire_after_articles=30,
    max_live_stories=12,
    n_candidates=5,
)


def clusterer(**overrides) -> OnlineStoryClusterer:
    return OnlineStoryClusterer(**{**PARAMS, **overrides})


def feed(c: OnlineStoryClusterer, docs: list[StoryDoc], edits: tuple[str, ...] = ()) -> list[tuple[str, str, bool]]:
    """One batch as the cluster step runs it: withdraw edited articles, assign, drain the changes."""
    for doc_id in edits:
        c.remove(doc_id)
    out = [(a.doc_id, a.story_id, a.is_new) for a in c.partial_fit_predict(docs)]
    changed, moved = c.drain_changes()
    c.recluster_seconds_.clear()  # wall-clock timings, reported and cleared after every batch
    return out + [(s.story_id, s.status, s.version) for s in changed] + [(m.doc_id, m.story_id, m.reason) for m in moved]


class Injected(Exception):
    pass


# where a failure can strike: every place the batch changes state, including re-clustering's merges and splits
TARGETS = [
    (Story, "add"),
    (Story, "remove"),
    (Story, "absorb"),
    (Story, "rank_terms"),
    (CentroidIndex, "upsert"),
    (CentroidIndex, "discard"),
    (WindowVectors, "add"),
    (WindowVectors, "release"),
    (TermStatistics, "observe"),
    (CosineBackground, "observe"),
    (OnlineStoryClusterer, "_touch"),
    (OnlineStoryClusterer, "_merge"),
    (OnlineStoryClusterer, "_split"),
    (OnlineStoryClusterer, "_move"),
    (OnlineStoryClusterer, "_leave_window"),
    (OnlineStoryClusterer, "_expire"),
    (OnlineStoryClusterer, "apply_recluster"),
    (OnlineStoryClusterer, "_open_story"),
]


@contextmanager
def failing(owner, name: str, k: int, after: bool):
    """`owner.name` raises on its k-th call, before doing anything or after doing all of it."""
    real = getattr(owner, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == k and not after:
            raise Injected(f"{owner.__name__}.{name} call {k}")
        result = real(*args, **kwargs)
        if calls[0] == k:
            raise Injected(f"{owner.__name__}.{name} call {k}, after it")
        return result

    setattr(owner, name, wrapper)
    try:
        yield calls
    finally:
        setattr(owner, name, real)


# no shrinking: a failing example is printed as drawn (shrinking re-runs whole streams for minutes)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.generate])
@given(seed=st.integers(0, 2**16), target=st.sampled_from(TARGETS), k=st.integers(1, 40), after=st.booleans(), failed_at=st.integers(3, 9))
def test_a_failed_batch_rolls_back_to_exactly_the_state_before_it(state_of, seed, target, k, after, failed_at):
    docs = stream(seed)
    batches = [docs[i : i + 10] for i in range(0, len(docs), 10)]
    c = clusterer()
    for batch in batches[:failed_at]:
        with c.transaction():
            feed(c, batch)
    untouched = copy.deepcopy(c)  # never sees the failed batch
    before = state_of(c)
    failed = batches[failed_at]
    edits = tuple(d.id for d in batches[failed_at - 1][:3])  # edits of the last batch's articles, still in the window
    c.begin()
    with failing(*target, k, after):
        try:
            feed(c, [*failed, *(StoryDoc(i, d.vector[::-1].copy(), d.published_at, d.title) for i, d in zip(edits, failed))], edits)
        except Injected:
            pass
    c.rollback()  # also when the batch got through: rollback undoes a whole batch as well as part of one
    assert state_of(c) == before
    assert all(c._window[e.doc.id] is e for e in c._order if e.doc.id in c._window)  # the window and its order are one
    for batch in batches[failed_at + 1 :]:
        assert feed(c, batch) == feed(untouched, batch)
    assert state_of(c) == state_of(untouched)


def test_the_failed_batch_in_the_property_reaches_merges_splits_and_retirements():
    """The stream above exercises what a rollback must undo (else the property would test little)."""
    seen, windows = [], []
    for seed in range(3):
        c = clusterer()
        seen += [x for i in range(0, 150, 10) for x in feed(c, stream(seed)[i : i + 10])]
        windows.append(len(c._window))
    reasons = {x[2] for x in seen if x[2] in ("merged", "split")}
    statuses = {x[1] for x in seen if x[1] in ("merged", "retired")}
    assert reasons == {"merged", "split"} and statuses == {"merged", "retired"}
    assert max(windows) < 150  # articles left the window


def test_a_rolled_back_batch_takes_the_background_result_again_and_unsubmits_its_own(state_of):
    """Replay mode: the failed batch took the re-clustering started a period earlier, applied it and submitted
    the next; after the rollback the same result is applied at the same point and the next job starts again."""
    from clustering import ReclusterWorker

    worker = ReclusterWorker()
    try:
        c = clusterer(recluster_mode="replay", recluster_worker=worker)
        docs = stream(0)
        batches = [docs[i : i + 10] for i in range(0, len(docs), 10)]
        for batch in batches[:4]:  # 40 articles: the job submitted at 25 is in flight
            feed(c, batch)
        assert c._background.pending
        untouched = copy.deepcopy(c)
        untouched.recluster_worker = worker
        before, in_flight = state_of(c), c._background._job
        c.begin()
        with failing(OnlineStoryClusterer, "_expire", 1, after=False), pytest.raises(Injected):
            feed(c, batches[4] + batches[5])  # took and applied the result at 50, submitted the next, then failed
        assert c._background._job is not in_flight and c.drain_changes()[1]  # the next one, and the result moved articles
        c.rollback()
        assert state_of(c) == before and c._background._job is in_flight
        for batch in batches[4:]:
            assert feed(c, batch) == feed(untouched, batch)
        assert state_of(c) == state_of(untouched)
    finally:
        worker.close()


def test_a_transaction_that_raises_rolls_back_and_one_that_ends_commits(state_of):
    c = clusterer()
    docs = stream(1)
    with c.transaction():
        feed(c, docs[:20])
    before = state_of(c)
    with pytest.raises(Injected), c.transaction():
        feed(c, docs[20:40])
        raise Injected("after the batch")
    assert state_of(c) == before and c._journal is None
    with c.transaction():
        feed(c, docs[20:40])
    assert state_of(c) != before and c._journal is None
    with pytest.raises(RuntimeError, match="no transaction is open"):
        c.rollback()


def test_rolling_back_the_first_batch_leaves_an_unfitted_estimator(state_of):
    c = clusterer()
    before = state_of(c)
    with pytest.raises(Injected), c.transaction():
        feed(c, stream(2)[:10])
        raise Injected
    assert state_of(c) == before and not hasattr(c, "stories_")


@pytest.mark.parametrize("cut", [40, 75, 110])
def test_a_snapshot_restored_mid_stream_continues_as_if_never_interrupted(state_of, cut):
    """River's check: pickle mid-stream, restore, continue = uninterrupted (story assignments and IDs)."""
    docs = stream(3)
    starts = sorted({*range(0, len(docs), 10), cut})  # the same batches both ways
    batches = {start: docs[start:end] for start, end in zip(starts, [*starts[1:], len(docs)])}
    uninterrupted, first = clusterer(), clusterer()
    whole = [x for start in starts for x in feed(uninterrupted, batches[start])]
    before = [x for start in starts if start < cut for x in feed(first, batches[start])]
    restored = pickle.loads(pickle.dumps(first))
    assert state_of(restored) == state_of(first)
    after = [x for start in starts if start >= cut for x in feed(restored, batches[start])]
    assert before + after == whole
    assert state_of(restored) == state_of(uninterrupted)


def test_parameters_are_checked_at_the_first_batch_with_the_fix_in_the_message():
    with pytest.raises(TypeError):
        OnlineStoryClusterer(5.5)  # keyword-only
    unchecked = OnlineStoryClusterer(time_floor=1.5)  # the constructor only stores
    with pytest.raises(ValueError, match=r"time_floor=1.5, must be in \[0, 1\]"):
        unchecked.partial_fit_predict([])
    with pytest.raises(ValueError, match="recluster_mode='live' re-clusters in a worker process the caller owns: pass recluster_worker="):
        OnlineStoryClusterer(recluster_mode="live").partial_fit_predict([])
    with pytest.raises(ValueError, match="reduction='tsne', use one of pca, umap"):
        OnlineStoryClusterer(reduction="tsne").partial_fit_predict([])
    with pytest.raises(ValueError, match="max_window=0, must be an integer >= 1"):
        OnlineStoryClusterer(max_window=0).partial_fit_predict([])
