"""Online story assignment: each article joins the best live story or opens a new one."""

from __future__ import annotations

import heapq
import math
import sys
import time
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from clustering.background import BackgroundReclusterer, ReclusterWorker
from clustering.calibration import CosineBackground
from clustering.evidence import text_years, year_contradiction
from clustering.index import CentroidIndex
from clustering.journal import Journal, del_item, set_item
from clustering.lexical import Terms, TermStatistics
from clustering.recluster import REDUCTIONS, ReclusterResult, recluster
from clustering.story import Story, StoryDoc, next_version
from clustering.window import WindowVectors

HOUR = 3600.0
MAX_DOC_TERMS = 64  # hashed words kept per article for its story's lexical profile
RECLUSTER_MODES = ("inline", "live", "replay")
# what a transaction saves once, at `begin`: the counters, and the containers drain_changes replaces
_SAVED_AT_BEGIN = ("n_docs_seen_", "n_stories_opened_", "generation_", "watermark_", "window_bytes_", "last_recluster_window_", "_changed", "_moved")


@dataclass(frozen=True)
class Assignment:
    """Where one article went, and how sure we are."""

    doc_id: str
    story_id: str
    score: float
    is_new: bool
    late: bool = False


@dataclass(frozen=True)
class Reassignment:
    """An article whose story changed after it was assigned: its story was merged, or it was split off."""

    doc_id: str
    old_story_id: str
    story_id: str
    reason: str  # "merged" | "split"


@dataclass
class _WindowEntry:
    doc: StoryDoc
    story_id: str
    row: int  # of the doc's vector in the window matrix
    nbytes: int  # what the entry holds in memory (window_bytes)


def window_bytes(doc: StoryDoc) -> int:
    """What a window entry costs in memory, roughly: its vector row, its strings and terms, and object overhead.

    Titles are capped upstream but ids, entities and terms vary per article, so a
    count alone does not bound the window's bytes (a feed of long URLs as ids).
    """
    strings = sys.getsizeof(doc.id) + sys.getsizeof(doc.title) + sum(sys.getsizeof(e) for e in doc.entities)
    strings += sum(sys.getsizeof(t) for t in doc.topics)
    terms = sum(sys.getsizeof(k) for k in doc.terms.keys) + 32 * len(doc.terms.weights) + 8 * len(doc.terms.keys)
    return doc.vector.nbytes + strings + terms + 400  # the entry, the doc and their dict/deque slots


class OnlineStoryClusterer:
    """Incremental event clustering over a sliding window (scikit-learn style estimator).

    Candidates for an article are the `n_candidates` live stories with the
    highest time-decayed cosine to their centroid. Each candidate scores
        (w_cos * z(cosine) + w_ent * entity_cosine + w_lex * lexical_cosine) * time_decay
    - z(cosine): with `calibrated`, the cosine to the story's centroid in robust
      standard deviations above the cosines of unrelated articles of this
      stream (clustering.calibration), so the threshold means the same on
      headlines and on full text; without it, the raw cosine;
    - entity_cosine, lexical_cosine: IDF-weighted cosines between the article's
      entities (words of its first `lexical_chars` characters) and the story's,
      with document frequencies from the stream (clustering.lexical): names,
      places and numbers tell apart events of one kind;
    - time_decay = floor + (1 - floor) * exp(-max(0, gap - time_grace_hours) / time_scale_hours),
      gap the hours between the article and the story's span: a story stays
      fully open for the grace (day-only dates, multi-day events), then fades
      to `time_floor`, so only a close follow-up joins a story idle for weeks.
      An undated article (no published_at) has no gap: its time factor is
      `undated_decay` (as far apart: content alone must carry the join), and
      the years its text mentions stand in for the date: minus `weight_years`
      times the share of the story's year-mentioning members that mention none
      of them, scaled by the article's share of MAX_DOC_TERMS words (clustering.evidence).
    The article joins the best story scoring at least `threshold`, else opens a new story.

    Every `recluster_every` articles HDBSCAN re-clusters the window (after
    `reduction`, "pca" or "umap", to `recluster_dims`) and its clusters are reconciled with the stories
    (clustering.recluster). `recluster_mode` says where it runs: "inline" (in
    the stream, simple), "live" (a background process; applied as soon as it is
    ready) or "replay" (a background process; applied exactly one period later,
    waiting if needed, so replays are reproducible); the background modes need a
    `recluster_worker` (clustering.background.ReclusterWorker): the caller owns
    that process, the estimator starts none. Stories it unites are
    merged if their centroids agree (cosine >= `merge_min_cosine`), the oldest
    ID surviving; parts it splits off (at least `min_split_size` articles, 0 =
    never, whose centroid is below `split_max_cosine` to the rest) become a new
    story, the old ID staying on the larger part. State is bounded: articles
    leave the window after `window_hours` of event time or beyond `max_window`;
    stories are retired and dropped while `retire_after_articles` other
    articles arrived (a dense feed moves on in hours, a sparse one's follow-ups
    come months later), when idle for `retire_after_hours` of event time (0,
    the default, never: time is evidence, scored by the decay, not a reason to
    forget), or the longest idle beyond `max_live_stories`. Retirement runs once
    per batch, but a story due to retire is no candidate for the articles
    after that point, so assignments do not depend on batch boundaries: a
    replay's large batches decide as a live stream's small ones do.

    The defaults are the ones chosen on every labelled dev set at once
    (benchmarks/tune_clustering.py; flows.config.ClusteringConfig mirrors
    them; see the README, "Story quality").

    Story IDs are `{shard}-{n:06d}` and versions count 1, 2, 3, ... until
    `begin_generation` is called with a generation g > 0 (a live service does at
    every start): IDs minted then are `{shard}-{g}-{n:06d}` and versions jump
    to g * VERSION_SPAN + 1 (clustering.story.next_version), so a restart from
    an older snapshot never mints an ID or a (story, version) that the lost run
    already published.

    A batch is atomic when wrapped in `transaction()` (or `begin`, then
    `commit` or `rollback`): every change it makes records its inverse in an
    undo log (clustering.journal), so `rollback` restores exactly the state
    before `begin` at a cost in the changes, not in the state's size.

    Parameters are checked when the first batch is fitted (and at every batch,
    as settings may change on a restored estimator): a bad one raises
    ValueError naming it.

    Learned attributes: `stories_` (live stories by ID), `n_docs_seen_`, `window_bytes_`, `generation_`,
    `watermark_` (latest published_at seen), `recluster_seconds_`, `last_recluster_window_`
    (articles in the latest window handed to HDBSCAN), `recluster_worker_restarts_`.
    """

    # set on the first batch (`_initialize`), not in the constructor: an estimator's constructor only stores parameters
    _background: BackgroundReclusterer
    _changed: dict[str, Story]
    _moved: list[Reassignment]
    _journal: Journal | None = None  # set while a transaction is open

    def __init__(
        self,
        *,
        threshold: float = 5.5,
        calibrated: bool = True,
        weight_cosine: float = 1.0,
        weight_entities: float = 4.0,
        weight_lexical: float = 5.5,
        lexical_chars: int = 2000,
        time_grace_hours: float = 24.0,
        time_scale_hours: float = 24.0,
        time_floor: float = 0.8,
        undated_decay: float = 0.8,
        weight_years: float = 2.0,
        window_hours: float = 72.0,
        max_window: int = 50_000,
        max_window_bytes: int = 256 * 2**20,
        retire_after_hours: float = 0.0,
        retire_after_articles: int = 1_000,
        max_live_stories: int = 20_000,
        recluster_every: int = 2000,
        min_cluster_size: int = 5,
        recluster_dims: int = 16,
        reduction: str = "pca",
        merge_min_cosine: float = 0.7,
        min_split_size: int = 10,
        split_max_cosine: float = 0.5,
        recluster_mode: str = "inline",
        n_candidates: int = 20,
        shard: str = "default",
        recluster_worker: ReclusterWorker | None = None,
    ) -> None:
        self.threshold = threshold
        self.calibrated = calibrated
        self.weight_cosine = weight_cosine
        self.weight_entities = weight_entities
        self.weight_lexical = weight_lexical
        self.lexical_chars = lexical_chars
        self.time_grace_hours = time_grace_hours
        self.time_scale_hours = time_scale_hours
        self.time_floor = time_floor
        self.undated_decay = undated_decay
        self.weight_years = weight_years
        self.window_hours = window_hours
        self.max_window = max_window
        self.max_window_bytes = max_window_bytes
        self.retire_after_hours = retire_after_hours
        self.retire_after_articles = retire_after_articles
        self.max_live_stories = max_live_stories
        self.recluster_every = recluster_every
        self.min_cluster_size = min_cluster_size
        self.recluster_dims = recluster_dims
        self.reduction = reduction
        self.merge_min_cosine = merge_min_cosine
        self.min_split_size = min_split_size
        self.split_max_cosine = split_max_cosine
        self.recluster_mode = recluster_mode
        self.n_candidates = n_candidates
        self.shard = shard
        self.recluster_worker = recluster_worker

    def _validate_params(self) -> None:
        """Say which parameter is wrong and what it takes, before it corrupts a story."""

        def check(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"OnlineStoryClusterer: {name}={getattr(self, name)!r}, {rule}")

        def finite(name: str, low: float = -math.inf) -> None:
            value = getattr(self, name)
            check(
                isinstance(value, (int, float)) and math.isfinite(value) and value >= low,
                name,
                "must be a finite number" + (f" >= {low}" if low > -math.inf else ""),
            )

        def integer(name: str, low: int) -> None:
            value = getattr(self, name)
            check(isinstance(value, int) and not isinstance(value, bool) and value >= low, name, f"must be an integer >= {low}")

        for name in ("threshold", "merge_min_cosine", "split_max_cosine"):
            finite(name)
        for name in ("weight_cosine", "weight_entities", "weight_lexical", "time_grace_hours"):
            finite(name, 0.0)
        finite("retire_after_hours", 0.0)
        for name in ("time_scale_hours", "window_hours"):
            finite(name, 0.0)
            check(getattr(self, name) > 0, name, "must be > 0")
        for name in ("time_floor", "undated_decay"):
            finite(name, 0.0)
            check(getattr(self, name) <= 1, name, "must be in [0, 1]")
        finite("weight_years", 0.0)
        for name, low in (
            ("lexical_chars", 0),
            ("max_window", 1),
            ("max_window_bytes", 1),
            ("retire_after_articles", 1),
            ("max_live_stories", 1),
            ("recluster_every", 0),
            ("min_cluster_size", 2),
            ("recluster_dims", 0),
            ("min_split_size", 0),
            ("n_candidates", 1),
        ):
            integer(name, low)
        check(self.reduction in REDUCTIONS, "reduction", f"use one of {', '.join(REDUCTIONS)}")
        check(self.recluster_mode in RECLUSTER_MODES, "recluster_mode", f"use {', '.join(RECLUSTER_MODES)}")
        check(
            self.recluster_mode == "inline" or not self.recluster_every or isinstance(self.recluster_worker, ReclusterWorker),
            "recluster_worker",
            f"recluster_mode={self.recluster_mode!r} re-clusters in a worker process the caller owns: "
            "pass recluster_worker=clustering.background.ReclusterWorker(reduction) (or use recluster_mode='inline')",
        )
        check(isinstance(self.shard, str) and bool(self.shard), "shard", "must be a non-empty string")

    # -- transactions ----------------------------------------------------

    def begin(self) -> None:
        """Open a transaction: from here every change is journaled until `commit` or `rollback`."""
        if self._journal is not None:
            raise RuntimeError("a transaction is already open")
        journal = Journal()
        if hasattr(self, "stories_"):
            journal.record(self.__dict__.update, {name: getattr(self, name) for name in _SAVED_AT_BEGIN})
            journal.record(self._restore_order, list(self.recluster_seconds_))
        else:  # a rollback returns to no learned state at all
            journal.record(self._forget_learned, set(self.__dict__))
        self._journal = journal

    def commit(self) -> None:
        """Keep the transaction's changes and drop its journal."""
        self.__dict__.pop("_journal", None)

    def rollback(self) -> None:
        """Undo every change since `begin`, newest first: the state is exactly what it was."""
        journal = self.__dict__.pop("_journal", None)
        if journal is None:
            raise RuntimeError("no transaction is open")
        journal.rollback()

    @contextmanager
    def transaction(self) -> Iterator["OnlineStoryClusterer"]:
        """`with clusterer.transaction():` commits when the block ends, rolls back if it raises."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def _forget_learned(self, keep: set[str]) -> None:
        for name in set(self.__dict__) - keep:
            del self.__dict__[name]

    def _restore_order(self, recluster_seconds: list[float]) -> None:
        """The last undo: the re-clustering timings as they were, and the order of the dicts that
        lost keys (a key put back goes to the end). Live stories are in the order they were opened,
        the window in arrival order, which `_order` keeps."""
        self.recluster_seconds_[:] = recluster_seconds
        stories = sorted(self.stories_.items(), key=lambda item: _opening_number(item[0]))
        window = [(e.doc.id, e) for e in self._order if self._window.get(e.doc.id) is e]
        self.stories_.clear()
        self.stories_.update(stories)
        self._window.clear()
        self._window.update(window)

    # -- estimator API ---------------------------------------------------

    def partial_fit_predict(self, docs: list[StoryDoc]) -> list[Assignment]:
        """Assign a batch of articles in order; updates the stories as it goes."""
        self._validate_params()
        if not hasattr(self, "stories_"):
            self._initialize()
        assignments = []
        self._apply_if_ready()
        for doc in docs:
            self._apply_if_ready()
            assignments.append(self._assign(doc))
            self.n_docs_seen_ += 1
            if self.recluster_every and self.n_docs_seen_ % self.recluster_every == 0:
                self._timed(self._recluster)
        self._expire()
        return assignments

    def _apply_if_ready(self) -> None:
        if self.recluster_mode == "live" and self._background.pending and self._background.ready(self._worker):
            self._timed(self._apply_taken)

    @property
    def _worker(self) -> ReclusterWorker:
        assert self.recluster_worker is not None, "checked by _validate_params"
        return self.recluster_worker

    def _apply_taken(self) -> None:
        result = self._background.take(self._worker, wait=False, journal=self._journal)
        if result is not None:  # None: its worker died, the job was sent again
            self.apply_recluster(result)

    def _recluster(self) -> None:
        if self.recluster_mode == "replay" and self._background.pending:
            result = self._background.take(self._worker, journal=self._journal)  # the fixed point: one period after it was started
            assert result is not None  # a waiting take always returns the result
            self.apply_recluster(result)
        if self.recluster_mode != "inline" and self._background.pending:
            return  # live: the one in flight is applied when ready
        snapshot = self._window_snapshot()
        self.last_recluster_window_ = len(snapshot[0])
        if self.recluster_mode == "inline":
            self.apply_recluster(recluster(snapshot, *self._recluster_args()))
        else:
            self._background.submit(self._worker, snapshot, *self._recluster_args(), journal=self._journal)

    def _recluster_args(self) -> tuple[int, int, int, str]:
        return self.min_cluster_size, self.recluster_dims, self.min_split_size, self.reduction

    def _timed(self, work) -> None:
        """Run re-clustering work on the stream's thread and record how long it held the stream."""
        started = time.perf_counter()
        work()
        self.recluster_seconds_.append(time.perf_counter() - started)

    @property
    def recluster_worker_restarts_(self) -> int:
        """Background re-clustering workers that died and were replaced (clustering.background)."""
        worker = getattr(self, "recluster_worker", None)
        return worker.restarts if worker is not None else 0

    def partial_fit(self, docs: list[StoryDoc]) -> "OnlineStoryClusterer":
        self.partial_fit_predict(docs)
        return self

    def remove(self, doc_id: str) -> str | None:
        """Withdraw an article (it was edited and will be re-assigned); returns its old story.

        Returns None, and changes nothing, when the article has left the window or
        its story is no longer live: closed stories are not reopened.
        """
        entry = self._window.get(doc_id) if hasattr(self, "_window") else None
        if entry is None or entry.story_id not in self.stories_:
            return None
        self._leave_window(entry)
        story = self.stories_[entry.story_id]
        self._save(story)
        story.remove(entry.doc)
        self._touch(story)
        return entry.story_id

    def begin_generation(self, generation: int) -> None:
        """Mint IDs and versions of `generation` from now on and mark every live story changed,
        so the next `drain_changes` re-publishes them all under it."""
        if not hasattr(self, "stories_"):
            self._initialize()
        self.generation_ = generation
        for story in self.stories_.values():
            self._touch(story)

    def drain_changes(self) -> tuple[list[Story], list[Reassignment]]:
        """Stories changed since the last call (each once, latest version) and moved articles."""
        if not hasattr(self, "stories_"):
            return [], []
        changed = [self._changed[sid] for sid in sorted(self._changed)]
        for story in changed:  # once per batch, not per article: the keywords a story record carries
            if story.status == "active":
                self._save(story)
                story.rank_terms(self._title_term_rarity)
        moved = self._moved
        self._changed, self._moved = {}, []
        return changed, moved

    # -- internals -------------------------------------------------------

    def _initialize(self) -> None:
        self.stories_: dict[str, Story] = {}
        self.n_docs_seen_ = 0
        self.n_stories_opened_ = 0
        self.generation_ = 0
        self.recluster_seconds_: list[float] = []  # time re-clustering held the stream, not yet reported
        self.last_recluster_window_ = 0
        self._background = BackgroundReclusterer()
        self.watermark_ = -math.inf
        self._window: dict[str, _WindowEntry] = {}  # in arrival order
        self.window_bytes_ = 0
        self._vectors = WindowVectors()
        self._order: deque[_WindowEntry] = deque()  # window entries in arrival order
        self._changed: dict[str, Story] = {}
        self._index = CentroidIndex()
        self._moved: list[Reassignment] = []
        self._start_stream_statistics()

    def _start_stream_statistics(self) -> None:
        self._cosines = CosineBackground()
        self._words = TermStatistics()
        self._entities = TermStatistics(n_buckets=2**18)
        # live story -> IDF norms of its (words, entities) profiles; dropped when the story changes and
        # recomputed when it is next scored, so a story that grows by many articles between scorings costs one
        self._norms: dict[str, tuple[float, float]] = {}

    def __setstate__(self, state: dict) -> None:
        """Restore a snapshot; one taken before the stream statistics existed starts them afresh."""
        self.__dict__.update(state)
        self.__dict__.setdefault("max_window_bytes", 256 * 2**20)
        self.__dict__.setdefault("recluster_worker", None)  # from before the caller owned the worker: it hands one in
        self.__dict__.setdefault("undated_decay", 0.8)
        self.__dict__.setdefault("weight_years", 2.0)
        if hasattr(self, "_window") and not hasattr(self, "window_bytes_"):
            for entry in self._window.values():
                entry.nbytes = window_bytes(entry.doc)
            self.window_bytes_ = sum(e.nbytes for e in self._window.values())
        if hasattr(self, "stories_") and not hasattr(self, "_cosines"):
            self._start_stream_statistics()
            for story in self.stories_.values():
                story.__dict__.setdefault("lexical", Counter())
                story.__dict__.setdefault("distinctive_terms", [])
                story.__dict__.setdefault("last_article", self.n_docs_seen_)

    def _save(self, story: Story) -> None:
        """Before a story's first change in a transaction: its before-image (counters copied, as they change in place)."""
        journal = self._journal
        if journal is not None and journal.first_change(story):
            attributes = story.__dict__.copy()
            counters = {k: dict(v) for k, v in attributes.items() if isinstance(v, Counter)}  # a plain copy is ~10x faster
            journal.record(_restore_story, story, attributes, counters)

    def _touch(self, story: Story) -> None:
        self._save(story)
        story.version = next_version(story.version, getattr(self, "generation_", 0))
        set_item(self._journal, self._changed, story.story_id, story)
        if story.story_id in self._norms:
            del_item(self._journal, self._norms, story.story_id)
        if story.status == "active":
            self._index.upsert(story, self._journal)
        else:
            self._index.discard(story.story_id, self._journal)

    def _profile_norms(self, story: Story) -> tuple[float, float]:
        norms = self._norms.get(story.story_id)
        if norms is None:
            norms = (self._words.norm(story.lexical), self._entities.norm(story.entity_counts))
            set_item(self._journal, self._norms, story.story_id, norms)
        return norms

    def _title_term_rarity(self, terms: list[str]) -> np.ndarray:
        """log(1 + documents / documents with the term): the IDF part of class-based TF-IDF."""
        return np.log1p(self._words.n_docs_ / (1.0 + self._words.document_frequency(terms)))

    def _decay(self, gap_s: np.ndarray) -> np.ndarray:
        """How much of a story's score survives a time gap: all of it within the grace, then exponentially less."""
        fading = np.exp(-np.maximum(0.0, gap_s / HOUR - self.time_grace_hours) / self.time_scale_hours)
        return self.time_floor + (1.0 - self.time_floor) * fading

    def _join_scores(self, doc: StoryDoc, candidates: list[Story], cosine: np.ndarray, gap_s: np.ndarray) -> np.ndarray:
        """How strongly the article belongs to each candidate: calibrated cosine plus entity and word evidence, decayed with time."""
        scores = self.weight_cosine * (self._cosines.standardize(cosine) if self.calibrated else cosine)
        for weight, stats, terms, which in (
            (self.weight_entities, self._entities, Terms.of_entities(doc.entities), 1),
            (self.weight_lexical, self._words, doc.terms, 0),
        ):
            if weight and terms.keys:
                profiles = [s.entity_counts if which else s.lexical for s in candidates]
                norms = np.array([self._profile_norms(s)[which] for s in candidates])
                scores = scores + weight * stats.cosines(terms, stats.idf(terms.keys), profiles, norms)
        if doc.dated:
            return scores * self._decay(gap_s)
        if self.weight_years and doc.years:
            length = min(1.0, len(doc.terms.keys) / MAX_DOC_TERMS)  # long text: more reliable evidence
            scores = scores - self.weight_years * length * year_contradiction(doc.years, candidates)
        return scores * self.undated_decay

    def _observe(self, doc: StoryDoc) -> None:
        """Let the article inform the stream's statistics (after it was scored against them)."""
        self._cosines.observe(doc.vector, self._journal)
        self._words.observe(doc.terms.keys, self._journal)
        self._entities.observe(set(doc.entities), self._journal)

    def _assign(self, doc: StoryDoc) -> Assignment:
        late = doc.published_at < self.watermark_ - self.window_hours * HOUR
        self.watermark_ = max(self.watermark_, doc.published_at)
        text = doc.text or doc.title
        terms = self._words.terms(text, self.lexical_chars, MAX_DOC_TERMS)
        doc = replace(doc, text="", terms=terms, years=text_years(text, self.lexical_chars))  # the window keeps these, not the text
        ids, cosine, gap_s = self._index.candidates(  # stories due to retire are no candidates
            doc.vector, doc.published_at, self._decay, self.n_candidates, seen_since=self._idle_since(), article_since=self._quiet_since()
        )
        found: Story | None = None
        best_score = 0.0
        if ids:
            candidates = [self.stories_[i] for i in ids]
            scores = self._join_scores(doc, candidates, cosine, gap_s)
            i = int(np.argmax(scores))
            found, best_score = candidates[i], float(scores[i])
        self._observe(doc)
        is_new = found is None or best_score < self.threshold
        if found is None or is_new:
            best, best_score = self._open_story(doc.published_at, late, len(doc.vector)), 1.0
        else:
            best = found
        self._save(best)
        best.add(doc)
        best.last_article = self.n_docs_seen_
        self._touch(best)
        if doc.id in self._window:  # an edit that was not withdrawn first
            self._leave_window(self._window[doc.id])
        entry = _WindowEntry(doc, best.story_id, self._vectors.add(doc.vector, self._journal), window_bytes(doc))
        set_item(self._journal, self._window, doc.id, entry)
        self.window_bytes_ += entry.nbytes
        self._order.append(entry)
        if self._journal is not None:
            self._journal.record(self._order.pop)
        return Assignment(doc.id, best.story_id, round(best_score, 4), is_new, late)

    def _idle_since(self) -> float:
        """Stories last seen before this event time retire (never, with `retire_after_hours` 0)."""
        return self.watermark_ - self.retire_after_hours * HOUR if self.retire_after_hours else -math.inf

    def _quiet_since(self) -> int:
        """Stories whose last article is numbered below this retire: `retire_after_articles` others arrived since."""
        return self.n_docs_seen_ - self.retire_after_articles

    def _open_story(self, published_at: float, late: bool, dimension: int) -> Story:
        """A new, empty story with the next deterministic ID."""
        self.n_stories_opened_ += 1
        generation = getattr(self, "generation_", 0)
        story_id = f"{self.shard}-{generation}-{self.n_stories_opened_:06d}" if generation else f"{self.shard}-{self.n_stories_opened_:06d}"
        story = Story(story_id, published_at, published_at, np.zeros(dimension, dtype=np.float32), late=late)
        if self._journal is not None:
            self._journal.created(story)
        set_item(self._journal, self.stories_, story_id, story)
        return story

    def _window_snapshot(self) -> tuple[list[str], np.ndarray, list[str]]:
        """(ids, vectors, story ids) of the window in arrival order: one matrix copy, no stacking."""
        entries = list(self._window.values())
        rows = np.fromiter((e.row for e in entries), dtype=np.intp, count=len(entries))
        return [e.doc.id for e in entries], self._vectors.take(rows), [e.story_id for e in entries]

    def _leave_window(self, entry: _WindowEntry) -> None:
        del_item(self._journal, self._window, entry.doc.id)
        self._vectors.release(entry.row, self._journal)
        self.window_bytes_ -= entry.nbytes

    def _move(self, entry: _WindowEntry, story_id: str, reason: str) -> None:
        """An article in the window changes story (a merge or a split): noted for re-publishing."""
        self._moved.append(Reassignment(entry.doc.id, entry.story_id, story_id, reason))
        if self._journal is not None:
            self._journal.record(self._moved.pop)
            self._journal.record(setattr, entry, "story_id", entry.story_id)
        entry.story_id = story_id

    def apply_recluster(self, result: ReclusterResult) -> None:
        """Merge the stories re-clustering grouped if their centroids agree; split off parts that differ."""
        members: dict[str, list[_WindowEntry]] | None = None  # window entries per story, built once if needed
        for group in result.groups:
            stories = sorted(
                (self.stories_[s] for s in group if s in self.stories_ and self.stories_[s].status == "active"),
                key=lambda s: (s.first_seen, s.story_id),
            )
            if len(stories) < 2:
                continue
            survivor = stories[0]
            for other in stories[1:]:
                if float(survivor.centroid @ other.centroid) < self.merge_min_cosine:
                    continue
                if members is None:
                    members = {}
                    for entry in self._window.values():
                        members.setdefault(entry.story_id, []).append(entry)
                self._merge(other, survivor, members)
        for part in result.splits:
            self._split(part)

    def _split(self, doc_ids: list[str]) -> None:
        """Move articles still in the window (and in a live story) to a new story, if they differ
        enough from what stays behind; the old stories keep their IDs."""
        entries = [self._window[d] for d in doc_ids if d in self._window and self._window[d].story_id in self.stories_]
        if not entries or (self.min_split_size and len(entries) < self.min_split_size):
            return
        part = np.sum([e.doc.vector for e in entries], axis=0)
        for story_id in {e.story_id for e in entries}:
            rest = self.stories_[story_id].vector_sum - np.sum([e.doc.vector for e in entries if e.story_id == story_id], axis=0)
            if _cosine(part, rest) >= self.split_max_cosine:
                return
        new = self._open_story(min(e.doc.published_at for e in entries), False, len(entries[0].doc.vector))
        for entry in sorted(entries, key=lambda e: (e.doc.published_at, e.doc.id)):
            old = self.stories_[entry.story_id]
            self._save(old)
            self._save(new)
            old.remove(entry.doc)
            new.add(entry.doc)
            new.last_article = max(new.last_article, old.last_article)
            self._move(entry, new.story_id, "split")
            self._touch(old)
        self._touch(new)

    def _merge(self, loser: Story, survivor: Story, members: dict[str, list[_WindowEntry]]) -> None:
        """Fold `loser` into `survivor`. Its articles still in the window move (and are
        reported); older ones stay counted on the merged story, which points to the survivor."""
        moved = members.pop(loser.story_id, [])
        for entry in moved:
            self._move(entry, survivor.story_id, "merged")
        members.setdefault(survivor.story_id, []).extend(moved)
        self._save(survivor)
        self._save(loser)
        survivor.absorb(loser, len(moved))
        survivor.last_article = max(survivor.last_article, loser.last_article)
        loser.size -= len(moved)
        loser.status, loser.merged_into = "merged", survivor.story_id
        self._touch(survivor)
        self._touch(loser)
        del_item(self._journal, self.stories_, loser.story_id)

    def _expire(self) -> None:
        """Drop articles past the window and retire idle stories."""
        horizon = self.watermark_ - self.window_hours * HOUR
        while self._order and (self._order[0].doc.published_at < horizon or len(self._window) > self.max_window or self.window_bytes_ > self.max_window_bytes):
            entry = self._order.popleft()
            if self._journal is not None:
                self._journal.record(self._order.appendleft, entry)
            if self._window.get(entry.doc.id) is entry:  # not already replaced by an edit
                self._leave_window(entry)
        idle_since = self._idle_since()
        quiet_since = self._quiet_since()
        retiring: list[Story] = []
        keep: list[Story] = []
        for story in self.stories_.values():
            (retiring if story.last_seen < idle_since or story.last_article < quiet_since else keep).append(story)
        excess = len(keep) - self.max_live_stories
        if excess > 0:  # over the cap: the longest idle go first
            retiring += heapq.nsmallest(excess, keep, key=lambda s: (s.last_seen, s.story_id))
        for story in retiring:
            self._save(story)
            story.status = "retired"
            self._touch(story)
            del_item(self._journal, self.stories_, story.story_id)


def _restore_story(story: Story, attributes: dict, counters: dict[str, dict]) -> None:
    """Back to a before-image, in place: `stories_` and `_changed` refer to the story object."""
    story.__dict__.clear()
    story.__dict__.update(attributes)
    story.__dict__.update({k: Counter(v) for k, v in counters.items()})  # in the order they were in


def _opening_number(story_id: str) -> int:
    """n of `{shard}-{n:06d}` or `{shard}-{g}-{n:06d}`: the order stories were opened in."""
    return int(story_id.rsplit("-", 1)[1])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0
