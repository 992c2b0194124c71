"""The stateful clustering step: one OnlineStoryClusterer per shard, plus article versions.

It turns enriched articles into published records: the tags of each article
version and the latest state of every story that changed. It also decides the
id edge cases: an identical re-delivery is ignored, changed content is a new
version (withdrawn from its old story and assigned again), and articles whose
story was merged or split are re-published with their new story id.

No article can corrupt the shard: its vector is checked and its published_at
goes through the shard's EventClock (flows/event_time.py) before the clusterer
sees it. A run of articles is one transaction: the clusterer journals what it
changes and rolls it back if anything in the run raises (clustering.journal),
and versions, tag records and counters are recorded only once every record of
the run is built, so a run that fails leaves versions and stories exactly as
before; it is dead-lettered (with the original bytes) and re-driving those dead
letters tags them instead of ignoring them as duplicates.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from bytewax.operators import StatefulBatchLogic

from clustering import OnlineStoryClusterer, ReclusterWorker, StoryDoc, next_version
from flows import monitoring
from flows.config import ClusteringConfig, LimitsConfig
from flows.enrich import EnrichedArticle, dead_letter_for, where
from flows.event_time import CLAMPED, WARM_UP, EventClock, TooOld
from flows.minted import MintedLog
from flows.schema import ModelVersions, TaggedArticle, iso, now, story_record

log = logging.getLogger(__name__)

TAGS, STORIES, DEAD = "tags", "stories", "dead_letters"


@dataclass(frozen=True)
class OutputRecord:
    """One record for a sink: which output, its key and its JSON body."""

    output: str  # TAGS | STORIES | DEAD
    key: str
    body: dict[str, Any] | None  # None: a tombstone (delete the key on a compacted topic)


_VERSION_BITS = 2**64 - 1  # versions are generation * 10**6 + n: about 51 bits


class VersionTable:
    """Article id -> (content hash, version) for the latest `limit` ids, the oldest forgotten first.

    An entry is two ints, the id's 64-bit digest and hash << 64 | version:
    production ids are often URLs, and 200k of them as str keys with tuple
    values cost about three times as much. (Snapshots from before versions
    carried generations packed hash << 32; `widened` converts them.)
    """

    ENTRY_BYTES = 185  # measured with tracemalloc: two ints (the value up to 128 bits) and an OrderedDict node
    shift = 32  # what a snapshot without the attribute used

    def __init__(self, limit: int, max_bytes: int | None = None) -> None:
        self.limit = self.limit_for(limit, max_bytes)
        self.shift = 64
        self._entries: OrderedDict[int, int] = OrderedDict()

    @classmethod
    def limit_for(cls, limit: int, max_bytes: int | None) -> int:
        """How many ids fit both the count and the byte budget."""
        return limit if max_bytes is None else max(1, min(limit, max_bytes // cls.ENTRY_BYTES))

    @property
    def bytes(self) -> int:
        return len(self._entries) * self.ENTRY_BYTES

    def widened(self) -> "VersionTable":
        if self.shift != 64:
            narrow = (1 << self.shift) - 1
            self._entries = OrderedDict((k, (v >> self.shift) << 64 | (v & narrow)) for k, v in self._entries.items())
            self.shift = 64
        return self

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, article_id: str) -> tuple[str, int] | None:
        entry = self._entries.get(_digest(article_id))
        return None if entry is None else (f"{entry >> 64:016x}", entry & _VERSION_BITS)

    def put(self, article_id: str, content_hash: str, version: int) -> None:
        _remember(self._entries, _digest(article_id), int(content_hash, 16) << 64 | version, self.limit)

    def set_version(self, article_id: str, version: int) -> None:
        """Record a re-publication of the same content (its story changed), if the id is still tracked."""
        seen = self.get(article_id)
        if seen is not None:
            self.put(article_id, seen[0], version)


class TagStore:
    """Article id -> its latest tag record as compact JSON (a dict costs ~5x the memory), bounded
    in count and in bytes: the oldest records are forgotten first."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.bytes = 0
        self._records: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._records

    def get(self, article_id: str) -> str | None:
        return self._records.get(article_id)

    def ids(self) -> list[str]:
        return list(self._records)

    def put(self, article_id: str, record: str) -> None:
        old = self._records.pop(article_id, None)
        if old is not None:
            self.bytes -= _size(article_id, old)
        self._records[article_id] = record
        self.bytes += _size(article_id, record)
        while len(self._records) > self.max_records or (self.bytes > self.max_bytes and len(self._records) > 1):
            self.bytes -= _size(*self._records.popitem(last=False))


def _size(article_id: str, record: str) -> int:
    """What a stored record costs, roughly: its characters plus the id and ~100 bytes of objects."""
    return len(article_id) + len(record) + 100


def _digest(article_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass
class ShardState:
    """Everything a shard remembers; picklable so Bytewax recovery can snapshot it."""

    clusterer: OnlineStoryClusterer
    versions: VersionTable
    last_tags: TagStore
    clock: EventClock
    duplicates: int = 0
    tombstones_due: deque = field(default_factory=deque)  # (event time, story id) of retired/merged stories
    dimension: int | None = None  # of the vectors clustered so far
    warming: list = field(default_factory=list)  # a replayed shard's first articles, until its clock is warm
    generation: int = 0  # of the run that holds the state (0: replays); see `ShardLogic`


def new_shard_state(config: ClusteringConfig, shard: str, replay: bool = True, limits: LimitsConfig = LimitsConfig()) -> ShardState:
    """Fresh state for a shard."""
    params = clusterer_params(config, limits, replay)
    clusterer = OnlineStoryClusterer(**params, shard=shard, recluster_worker=recluster_worker(params))
    tags = TagStore(config.max_window, int(limits.max_stored_tags_mb * 2**20))
    versions = VersionTable(config.max_tracked_articles, int(limits.max_tracked_ids_mb * 2**20))
    return ShardState(clusterer, versions, tags, EventClock.of(limits, live=not replay))


def clusterer_params(config: ClusteringConfig, limits: LimitsConfig, replay: bool) -> dict[str, Any]:
    """The clusterer's settings; re-clustering in "auto" mode runs in the background, applied at fixed points in replays."""
    mode = config.recluster_mode if config.recluster_mode != "auto" else ("replay" if replay else "live")
    return dict(
        threshold=config.threshold,
        calibrated=config.calibrated,
        weight_cosine=config.weight_cosine,
        weight_entities=config.weight_entities,
        weight_lexical=config.weight_lexical,
        lexical_chars=config.lexical_chars,
        time_grace_hours=config.time_grace_hours,
        time_scale_hours=config.time_scale_hours,
        time_floor=config.time_floor,
        undated_decay=config.undated_decay,
        weight_years=config.weight_years,
        n_candidates=config.n_candidates,
        window_hours=config.window_hours,
        max_window=config.max_window,
        max_window_bytes=int(limits.max_window_mb * 2**20),
        retire_after_hours=config.retire_after_hours,
        retire_after_articles=config.retire_after_articles,
        max_live_stories=config.max_live_stories,
        recluster_every=config.recluster_every,
        min_cluster_size=config.min_cluster_size,
        recluster_dims=config.recluster_dims,
        reduction=config.reduction,
        merge_min_cosine=config.merge_min_cosine,
        min_split_size=config.min_split_size,
        split_max_cosine=config.split_max_cosine,
        recluster_mode=mode,
    )


def recluster_worker(params: dict[str, Any]) -> ReclusterWorker | None:
    """The shard's re-clustering process, started (and warmed up) now; None when HDBSCAN runs inline or never.
    The flow owns it, not the estimator; it ends with this process."""
    if params["recluster_mode"] == "inline" or not params["recluster_every"]:
        return None
    return ReclusterWorker(params["reduction"]).start()


def _with_settings(state: ShardState, config: ClusteringConfig, limits: LimitsConfig, replay: bool) -> ShardState:
    """Apply settings changed since the snapshot to the restored state, saying which.

    Every clusterer setting is read when it is used, so a new value takes
    effect from the next article on (a smaller window or story cap at the next
    batch); what the stories already hold is not recomputed.
    """
    clusterer = state.clusterer
    for name, value in clusterer_params(config, limits, replay).items():
        old = getattr(clusterer, name, None)
        if old != value:
            log.warning("clustering.%s changed since the snapshot (%r -> %r): applied to the restored shard %s from now on", name, old, value, clusterer.shard)
            setattr(clusterer, name, value)
    clusterer.recluster_worker = recluster_worker(clusterer_params(config, limits, replay))  # a snapshot holds no process
    state.versions.limit = VersionTable.limit_for(config.max_tracked_articles, int(limits.max_tracked_ids_mb * 2**20))
    state.last_tags.max_records, state.last_tags.max_bytes = config.max_window, int(limits.max_stored_tags_mb * 2**20)
    return state


def _migrated(state: ShardState, config: ClusteringConfig, limits: LimitsConfig, replay: bool) -> ShardState:
    """A state restored from a snapshot taken before the event clock, the tag store, generations or the reduction setting existed."""
    if not hasattr(state.clusterer, "reduction"):
        state.clusterer.reduction = "pca"  # what such a snapshot's clusterer used
    if not hasattr(state, "clock"):
        state.clock = EventClock.of(limits, live=not replay)
    if not isinstance(state.last_tags, TagStore):
        tags = TagStore(config.max_window, int(limits.max_stored_tags_mb * 2**20))
        for article_id, record in state.last_tags.items():
            tags.put(article_id, record)
        state.last_tags = tags
    state.versions.widened()
    return state


def clustering_version(config: ClusteringConfig) -> str:
    scale = "z" if config.calibrated else "cos"
    return (
        f"online+hdbscan:t{config.threshold}{scale}/we{config.weight_entities}/wl{config.weight_lexical}"
        f"/tg{config.time_grace_hours}h/ts{config.time_scale_hours}h/tf{config.time_floor}"
    )


class ShardLogic(StatefulBatchLogic[EnrichedArticle, OutputRecord, ShardState]):
    """Bytewax logic for one shard key.

    `generation` (0 in replays) is minted by the runner at every start
    (flows/generation.py). A state restored from a snapshot moves to a
    generation above both it and its own, so IDs and versions minted from here
    on differ from anything the run that crashed after the snapshot published;
    and every story and tag record the state holds is re-published under the
    new generation at once, so what that lost run said about them is superseded;
    stories it alone opened are deleted with tombstones, found through the
    `minted` directory's write-ahead record (flows/minted.py; the recovery
    directory, None without one).
    """

    def __init__(
        self,
        state: ShardState | None,
        config: ClusteringConfig,
        shard_of: Callable[[EnrichedArticle], str],
        versions: Callable[[], dict[str, str]],
        tombstone_after_hours: float = 24.0,
        limits: LimitsConfig = LimitsConfig(),
        snapshots: bool = True,
        replay: bool = True,
        generation: int = 0,
        minted: Path | None = None,
    ) -> None:
        restored = _with_settings(_migrated(state, config, limits, replay), config, limits, replay) if state is not None else None
        self.state = restored  # None until the first batch
        self.generation = generation
        self.minted_dir = Path(minted) if minted is not None and generation else None
        self._minted: MintedLog | None = None
        self._lost_stories: list[str] = []  # opened by runs lost to a crash: tombstones due
        self._restarts_reported = self.state.clusterer.recluster_worker_restarts_ if self.state is not None else 0
        self._republish = False  # a restored state's tag records are due under the new generation
        if self.state is not None and generation:
            self._begin_generation(max(generation, self.state.generation + 1))
        self.config = config
        self.shard_of = shard_of
        self.model_versions = versions  # called lazily: model versions are known once models load
        self._models: ModelVersions | None = None
        self.tombstone_after_s = tombstone_after_hours * 3600
        self.limits = limits
        self.snapshots = snapshots  # False without a recovery store: copying the state would be wasted work
        self.replay = replay

    def on_batch(self, values: list[EnrichedArticle]) -> tuple[Iterable[OutputRecord], bool]:
        return self._timed(values), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[OutputRecord], bool]:
        return self._timed([], final=True), StatefulBatchLogic.RETAIN

    def _timed(self, items: list[EnrichedArticle], final: bool = False) -> list[OutputRecord]:
        """`process`, its cost recorded: the shard is one worker, so this is what bounds its throughput."""
        started = time.perf_counter()
        out = self.process(items, final)
        if self.state is not None:
            monitoring.clustered(self.state.clusterer.shard, len(items), time.perf_counter() - started)
        return out

    def notify_at(self) -> datetime | None:
        """At once after a restore: re-publishing must not wait for the next article."""
        return datetime.now(timezone.utc) if self._republish else None

    def on_notify(self) -> tuple[Iterable[OutputRecord], bool]:
        return self.process([]), StatefulBatchLogic.RETAIN

    def _begin_generation(self, generation: int) -> None:
        clusterer = self.state.clusterer
        log.info("cluster step: shard %s continues from its snapshot as generation %d (was %d)", clusterer.shard, generation, self.state.generation)
        self._open_minted_log(self.state.generation, generation)
        self.state.generation = generation
        self.state.clusterer.begin_generation(generation)
        self._republish = True

    def _open_minted_log(self, snapshot_generation: int, generation: int) -> None:
        """Read which story IDs runs since the snapshot may have published; record this generation's start."""
        if self.minted_dir is None:
            return
        clusterer = self.state.clusterer
        count = getattr(clusterer, "n_stories_opened_", 0)
        self._minted = MintedLog(self.minted_dir / f"minted-{clusterer.shard}.json")
        self._lost_stories = [
            f"{clusterer.shard}-{g}-{n:06d}" for g, first, last in self._minted.lost(snapshot_generation, count) for n in range(first, last + 1)
        ]
        self._minted.restart(snapshot_generation, generation, count)
        self._republish = True

    def _lost_tombstones(self) -> list[OutputRecord]:
        ids, self._lost_stories = self._lost_stories, []
        if ids:
            log.info("cluster step: deleting up to %d stories opened after the snapshot by runs that crashed (%s .. %s)", len(ids), ids[0], ids[-1])
        return [OutputRecord(STORIES, story_id, None) for story_id in ids]

    def _republished_tags(self) -> list[OutputRecord]:
        """Every stored tag record again, under the state's generation."""
        self._republish = False
        state, out = self.state, []
        for article_id in state.last_tags.ids():
            record = json.loads(state.last_tags.get(article_id))
            record["version"] = next_version(record["version"], state.generation)
            state.versions.set_version(article_id, record["version"])
            state.last_tags.put(article_id, _compact(record))
            out.append(OutputRecord(TAGS, article_id, record))
        log.info("cluster step: re-published %d tag records under generation %d", len(out), state.generation)
        return out

    def snapshot(self) -> ShardState | None:
        if not self.snapshots:
            return None
        if self._minted is not None:
            self._minted.snapshotted(self.state.generation)
        return copy.deepcopy(self.state)

    def process(self, items: list[EnrichedArticle], final: bool = False) -> list[OutputRecord]:
        """Cluster a batch in order; an id seen twice in it splits it, so edits see their first version.

        Each run is a transaction: one that fails (a bug here or in the clusterer
        must not stop the stream) is dead-lettered and leaves no versions behind.
        A replayed shard holds its first articles until its event clock is warm
        (or the input ends: `final`).
        """
        if self.state is None and items:
            try:
                self.state = new_shard_state(self.config, self.shard_of(items[0]), self.replay, self.limits)
                self._open_minted_log(0, self.generation)  # a run that crashed before its first snapshot
                self.state.generation = self.generation
                self.state.clusterer.begin_generation(self.generation)
            except Exception as exc:  # noqa: BLE001
                log.error("cluster step: cannot start a shard, dead-lettering %d articles: %s: %s", len(items), type(exc).__name__, exc, exc_info=True)
                monitoring.dead_lettered("cluster", len(items))
                return [self._dead(item, f"clustering failed: {type(exc).__name__}: {exc}") for item in items]
        if self.state is None:
            return []
        items = self._warmed(items, final)
        out: list[OutputRecord] = (self._lost_tombstones() + self._republished_tags()) if self._republish else []
        for run in _runs_of_distinct_ids(items):
            recent = copy.copy(self.state.clock.recent)
            try:
                records = self._process_run(run)
            except Exception as exc:  # noqa: BLE001 - the run is dead-lettered, the shard keeps going
                positions = ", ".join(where(item.article) for item in run[:5]) + (", ..." if len(run) > 5 else "")
                log.error(
                    "cluster step: a run of %d articles failed, dead-lettered (%s): %s: %s",
                    len(run),
                    positions,
                    type(exc).__name__,
                    exc,
                    exc_info=True,
                )
                self.state.clock.recent = recent
                records = [self._dead(item, f"clustering failed: {type(exc).__name__}: {exc}") for item in run]
            monitoring.dead_lettered("cluster", sum(r.output == DEAD for r in records))
            out.extend(records)
        if self._minted is not None:  # on record before any of these records leaves the process
            self._minted.cover(self.state.generation, getattr(self.state.clusterer, "n_stories_opened_", 0))
        return out

    def _warmed(self, items: list[EnrichedArticle], final: bool) -> list[EnrichedArticle]:
        """The articles to cluster now: all of them once the shard's clock is warm."""
        state = self.state
        if state.clock.warm:
            return items
        state.warming.extend(items)
        if len(state.warming) < WARM_UP and not final:
            return []
        items, state.warming = state.warming, []
        state.clock.prime([item.article.published_at for item in items])
        return items

    def _dead(self, item: EnrichedArticle, reason: str) -> OutputRecord:
        letter = dead_letter_for(item.article, reason, self.limits.dead_letter_raw_bytes)
        return OutputRecord(DEAD, letter.key, letter.to_json())

    def _process_run(self, items: list[EnrichedArticle]) -> list[OutputRecord]:
        """Cluster one run of distinct ids and build its records, then record it: all or nothing.

        Everything that can fail (the clusterer, building and serialising records)
        happens inside the clusterer's transaction, before anything is recorded
        here; recording is plain table inserts."""
        state = self.state
        with state.clusterer.transaction():
            out, duplicates, fresh, kept = self._screen(items)
            assignments = state.clusterer.partial_fit_predict([to_story_doc(item, at) for item, _, at, _ in fresh])
            processed_at = now()
            placed = [
                (item, version, {"id": a.story_id, "score": a.score, "is_new": a.is_new}, flags + (["late"] if a.late else []))
                for (item, version, _, flags), a in zip(fresh, assignments)
            ] + [(item, version, story, flags + ["outside-window"]) for item, version, story, flags in kept]
            tagged = [(item, version, self._tags(item, version, story, flags, processed_at).to_json()) for item, version, story, flags in placed]
            stored = {item.article.id: _compact(tags) for item, _, tags in tagged}  # what the tag store will hold
            versions = {item.article.id: (item.article.content_hash, version) for item, version, _ in tagged}
            out.extend(OutputRecord(TAGS, item.article.id, tags) for item, _, tags in tagged)
            stories, moved = state.clusterer.drain_changes()
            for move in moved:
                previous = stored.get(move.doc_id) or state.last_tags.get(move.doc_id)
                if previous is None:  # older than what we keep; the story record still says merged_into
                    continue
                republished = json.loads(previous)
                republished.update(
                    version=next_version(republished["version"], state.generation),
                    processed_at=iso(processed_at),
                    story={"id": move.story_id, "score": republished["story"]["score"], "is_new": False, "previous_id": move.old_story_id},
                    flags=sorted(set(republished["flags"]) | {f"story-{move.reason}"}),
                )
                stored.pop(move.doc_id, None)  # re-inserted: recorded after the run's tags, as the newest
                stored[move.doc_id] = _compact(republished)
                content_hash = versions.pop(move.doc_id, (_known_hash(state.versions, move.doc_id), 0))[0]
                versions[move.doc_id] = (content_hash, republished["version"])
                out.append(OutputRecord(TAGS, move.doc_id, republished))
            out.extend(OutputRecord(STORIES, s.story_id, story_record(s)) for s in stories)
            # The run is clustered and every record built: from here on, record it.
            state.duplicates += duplicates
            if fresh:
                state.dimension = len(fresh[0][0].vector)
            for article_id, (content_hash, version) in versions.items():
                if content_hash is not None:
                    state.versions.put(article_id, content_hash, version)
            for article_id, record in stored.items():
                state.last_tags.put(article_id, record)
            out.extend(self._tombstones([s for s in stories if s.status != "active"]))
        monitoring.duplicates(duplicates)
        for item, _, _ in tagged:
            monitoring.LATENCY.observe(max(0.0, processed_at - item.article.received_at))
        monitoring.tagged(len(tagged))
        self._report(state)
        return out

    def _screen(self, items: list[EnrichedArticle]) -> tuple[list[OutputRecord], int, list, list]:
        """Sort a run's articles: dead letters, duplicates (counted), articles to cluster (withdrawn from their
        old story if edited: `fresh`) and edits of articles past the window, which keep their story (`kept`)."""
        state = self.state
        out: list[OutputRecord] = []
        duplicates = 0
        fresh: list[tuple[EnrichedArticle, int, float, list[str]]] = []  # item, version, time to cluster at, flags
        kept: list[tuple[EnrichedArticle, int, dict, list[str]]] = []
        for item in items:
            article = item.article
            problem = _unclusterable(item, state.dimension)
            if problem:
                out.append(self._dead(item, f"cannot cluster: {problem}"))
                continue
            seen = state.versions.get(article.id)
            if seen is not None and seen[0] == article.content_hash:
                duplicates += 1
                log.info("ignoring duplicate of article %s (identical content)", article.id)
                continue
            try:
                at, clamped = state.clock.check(article.published_at, article.received_at)
            except TooOld as exc:
                out.append(self._dead(item, str(exc)))
                continue
            version = next_version(0 if seen is None else seen[1], state.generation)
            flags = (["edited"] if seen is not None else []) + ([CLAMPED] if clamped else [])
            if seen is not None and state.clusterer.remove(article.id) is None and article.id in state.last_tags:
                # Its story is closed or past the window: re-tag, but do not reopen or move it.
                kept.append((item, version, dict(json.loads(state.last_tags.get(article.id))["story"], is_new=False), flags))
                continue
            fresh.append((item, version, at, flags))
        return out, duplicates, fresh, kept

    @property
    def models(self) -> ModelVersions:
        """The versions stamped on every record, looked up once."""
        if self._models is None:
            self._models = ModelVersions(**self.model_versions(), clustering=clustering_version(self.config))
        return self._models

    def _tags(self, item: EnrichedArticle, version: int, story: dict, flags: list[str], processed_at: float) -> TaggedArticle:
        article = item.article
        flags = [
            f for f, on in (("edited", "edited" in flags), ("lang-not-covered", not item.lang_covered), ("title-truncated", article.title_truncated)) if on
        ] + [f for f in flags if f != "edited"]
        return TaggedArticle(
            id=article.id,
            version=version,
            published_at=article.published_at,
            processed_at=processed_at,
            received_at=article.received_at,
            title=article.title,
            entities=[e.to_json() for e in item.entities],
            topics=[t.to_json() for t in item.topics],
            story=story,
            models=self.models,
            lang=article.lang,
            body_truncated=article.body_truncated,
            flags=flags,
        )

    def _tombstones(self, ended: list) -> list[OutputRecord]:
        """Delete ended stories from the compacted topic once their grace period has passed."""
        state = self.state
        watermark = state.clusterer.watermark_
        state.tombstones_due.extend((watermark + self.tombstone_after_s, s.story_id) for s in ended)
        due = []
        while state.tombstones_due and state.tombstones_due[0][0] <= watermark:
            due.append(OutputRecord(STORIES, state.tombstones_due.popleft()[1], None))
        return due

    def _report(self, state: ShardState) -> None:
        clusterer = state.clusterer
        restarts = clusterer.recluster_worker_restarts_
        monitoring.RECLUSTER_WORKER_RESTARTS.inc(restarts - self._restarts_reported)
        self._restarts_reported = restarts
        monitoring.ACTIVE_STORIES.labels(clusterer.shard).set(len(getattr(clusterer, "stories_", {})))
        monitoring.STORED_TAGS_BYTES.labels(clusterer.shard).set(state.last_tags.bytes)
        monitoring.TRACKED_IDS.labels(clusterer.shard).set(len(state.versions))
        monitoring.TRACKED_IDS_BYTES.labels(clusterer.shard).set(state.versions.bytes)
        monitoring.WINDOW_BYTES.labels(clusterer.shard).set(getattr(clusterer, "window_bytes_", 0))
        durations = getattr(clusterer, "recluster_seconds_", [])
        for seconds in durations:
            monitoring.RECLUSTER_SECONDS.observe(seconds)
        window = getattr(clusterer, "last_recluster_window_", 0)
        monitoring.RECLUSTER_WINDOW.labels(clusterer.shard).set(window)
        monitoring.record_recluster(sum(durations), window)  # what re-clustering added to this batch
        if hasattr(clusterer, "recluster_seconds_"):
            clusterer.recluster_seconds_.clear()
        monitoring.batch_done()


def _known_hash(versions: VersionTable, article_id: str) -> str | None:
    """The content hash recorded for an id (None: no longer tracked, so a re-publication records nothing)."""
    seen = versions.get(article_id)
    return None if seen is None else seen[0]


def _remember(table: OrderedDict, key: Any, value: Any, limit: int) -> None:
    """Insert as newest and forget the oldest entries beyond `limit` (bounded memory)."""
    table[key] = value
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)


def _compact(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _runs_of_distinct_ids(items: list[EnrichedArticle]) -> list[list[EnrichedArticle]]:
    runs: list[list[EnrichedArticle]] = [[]]
    ids: set[str] = set()
    for item in items:
        if item.article.id in ids:
            runs.append([])
            ids.clear()
        runs[-1].append(item)
        ids.add(item.article.id)
    return runs


def _unclusterable(item: EnrichedArticle, dimension: int | None) -> str | None:
    """Why the clusterer must not see this article's vector or time, if it must not."""
    vector = item.vector
    if vector.ndim != 1 or (dimension is not None and len(vector) != dimension):
        return f"vector of shape {vector.shape}, the shard clusters {dimension}-dimensional vectors"
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        return "vector is zero or not finite"
    if not math.isfinite(item.article.published_at):
        return "published_at is not finite"
    return None


def to_story_doc(item: EnrichedArticle, published_at: float) -> StoryDoc:
    """What the clusterer sees of an article, at the time the EventClock allowed."""
    return StoryDoc(
        id=item.article.id,
        vector=item.vector,
        published_at=published_at,
        title=item.article.title,
        entities=tuple(e.canonical for e in item.entities),
        topics=tuple(t.label for t in item.topics),
        text=item.article.text(),
        dated=item.article.dated,
    )
