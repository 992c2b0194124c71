"""The storywire dataflow.

    source -> decode -> micro-batch -> enrich -> key by shard -> cluster -> route -> tags, stories
                | errs                   | errs                               | errs
                +---------------------> dead letters <------------------------+

`decode`, `enrich` and `route` are Bytewax operators returning typed streams
(`Results(oks, errs)`, `ClusterOut(tags, stories, dead_letters)`), as Bytewax's
own Kafka operators do, so the wiring below reads as the picture above.

Decoding is per record on the worker that reads it; micro-batches form per
source partition and are then dealt to every worker (`op.redistribute`), so
enrichment runs on all workers and processes even when the source has one
partition (a replay) or fewer partitions than workers; clustering is stateful
per shard key, so story IDs are minted in one place. Nothing raises out of user code: failures become dead
letters with a reason.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Generic, TypeVar, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream, operator
from bytewax.inputs import Source
from bytewax.outputs import Sink

from flows import monitoring
from flows.batching import micro_batch
from flows.cluster_step import DEAD, STORIES, TAGS, OutputRecord, ShardLogic
from flows.config import RunConfig
from flows.connectors import jsonl_sink, to_line
from flows.enrich import EnrichedArticle, Enricher, load_enricher
from flows.kafka import KafkaRecordSink
from flows.outputs import fit_line
from flows.schema import Article, DeadLetter, InvalidArticle, RawRecord, decode_record
from flows.vectors import vector_line

log = logging.getLogger(__name__)

X = TypeVar("X")

DEFAULT_SHARD = "default"
OTHER_LANGUAGES_SHARD = "other-languages"  # one bounded shard for every language the models do not cover
REPLAY_BATCH_TIMEOUT = timedelta(days=365)  # replays batch by size only, so results do not depend on timing


@dataclass(frozen=True)
class Sinks:
    """The three outputs; each takes (key, JSON line) pairs."""

    tags: Sink
    stories: Sink
    dead_letters: Sink
    null_tombstones: bool  # Kafka deletes a key with a null value; files get a marker line
    vectors: Sink | None = None  # article embeddings (output.vectors), see flows/vectors.py

    @classmethod
    def files(cls, directory: str | Path, vectors: bool = False, local: bool = True) -> "Sinks":
        """JSON-lines files; `local=False` in the other processes of a cluster: process 0 writes them."""
        directory = Path(directory)
        return cls(
            tags=jsonl_sink(directory / "tags.jsonl", local),
            stories=jsonl_sink(directory / "stories.jsonl", local),
            dead_letters=jsonl_sink(directory / "dead-letters.jsonl", local),
            null_tombstones=False,
            vectors=jsonl_sink(directory / "article-vectors.jsonl", local) if vectors else None,
        )

    @classmethod
    def kafka(cls, config: RunConfig, stop: threading.Event | None = None) -> "Sinks":
        """The output topics; `stop` (the run's shutdown request) ends a wait for an unreachable broker."""
        k = config.kafka
        return cls(
            tags=KafkaRecordSink(k, k.tags_topic, stop),
            stories=KafkaRecordSink(k, k.stories_topic, stop),
            dead_letters=KafkaRecordSink(k, k.dlq_topic, stop),
            null_tombstones=True,
            vectors=KafkaRecordSink(k, k.vectors_topic, stop) if config.output.vectors else None,
        )

    @classmethod
    def for_config(cls, config: RunConfig, local: bool = True, stop: threading.Event | None = None) -> "Sinks":
        if config.output.kind == "kafka":
            return cls.kafka(config, stop)
        return cls.files(config.output.directory, config.output.vectors, local)

    def line(self, max_bytes: int, record: OutputRecord) -> tuple[str, str | None]:
        """(key, JSON line, or None for a tombstone), fitted to the sink's maximum message size."""
        if record.body is not None:
            return record.key, fit_line(record.key, record.body, max_bytes)
        return record.key, None if self.null_tombstones else to_line({"cluster_id": record.key, "tombstone": True})


def decode(config: RunConfig, record: RawRecord, skip: frozenset[tuple[int, int]] = frozenset()) -> Article | DeadLetter:
    """A validated article or a dead letter; never raises, whatever the bytes.

    `skip` holds (partition, offset) of articles-topic records to dead-letter unread (kafka.skip_offsets).
    """
    monitoring.article_in()
    try:
        if skip and record.origin == f"kafka:{config.kafka.articles_topic}" and (record.partition, record.position) in skip:
            raise InvalidArticle(f"skipped unread: kafka.skip_offsets lists {record.partition}:{record.position}")
        return decode_record(record, config.limits)
    except InvalidArticle as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - a decoder bug must not stop the flow: the record is dead-lettered
        partition = f"/{record.partition}" if record.partition is not None else ""
        log.error("decode step: %s%s@%s failed, dead-lettered: %s: %s", record.origin, partition, record.position, type(exc).__name__, exc, exc_info=True)
        reason = f"decode failed: {type(exc).__name__}: {exc}"
    monitoring.dead_lettered("decode")
    return DeadLetter.from_raw(record, reason, config.limits.dead_letter_raw_bytes)


def batch_key(article: Article) -> str:
    """Micro-batches form per source partition (an archive is one): a batch never mixes partitions,
    and several partitions batch on several workers. Where a batch is enriched is decided after."""
    return article.origin if article.partition is None else f"{article.origin}/{article.partition}"


def enrich_batch(enricher: Enricher, raw_cap: int, keyed_batch: tuple[str, list[Article]]) -> list[EnrichedArticle | DeadLetter]:
    _, articles = keyed_batch
    results = enricher.enrich_or_dead_letter(articles, raw_cap)
    monitoring.dead_lettered("enrich", sum(isinstance(r, DeadLetter) for r in results))
    return results


def shard_of(item: EnrichedArticle) -> str:
    """One shard for the languages the models cover, one for all others: a producer's `lang`
    values cannot open shards, re-clustering processes or metric labels without bound."""
    return DEFAULT_SHARD if item.lang_covered else OTHER_LANGUAGES_SHARD


@dataclass(frozen=True)
class Results(Generic[X]):
    """What a step made of its input: the items that went through, and dead letters for the rest."""

    oks: Stream[X]
    errs: Stream[DeadLetter]


@dataclass(frozen=True)
class ClusterOut:
    """The clustering step's records by output: tag records, story records (and tombstones), dead letters."""

    tags: Stream[OutputRecord]
    stories: Stream[OutputRecord]
    dead_letters: Stream[OutputRecord]


@operator
def decode_records(step_id: str, up: Stream[RawRecord], config: RunConfig) -> Results[Article]:
    """Every raw record to a validated article or a dead letter (see `decode`)."""
    decoded = op.map("decode", up, functools.partial(decode, config, skip=config.kafka.skipped_offsets()))
    valid = op.branch("validate", decoded, lambda x: isinstance(x, Article))
    return Results(cast(Stream[Article], valid.trues), cast(Stream[DeadLetter], valid.falses))


@operator
def enrich_batches(step_id: str, up: Stream[tuple[str, list[Article]]], enricher: Enricher, raw_cap: int) -> Results[EnrichedArticle]:
    """Each (key, micro-batch) to its enriched articles, and a dead letter for each article the models failed on."""
    enriched = op.flat_map("enrich", up, functools.partial(enrich_batch, enricher, raw_cap))
    ok = op.branch("enriched", enriched, lambda x: isinstance(x, EnrichedArticle))
    return Results(cast(Stream[EnrichedArticle], ok.trues), cast(Stream[DeadLetter], ok.falses))


@operator
def route_outputs(step_id: str, up: Stream[OutputRecord]) -> ClusterOut:
    """The clustering step's records split by the output they belong to."""
    is_tags = op.branch("route_tags", up, lambda r: r.output == TAGS)
    is_story = op.branch("route_stories", is_tags.falses, lambda r: r.output == STORIES)
    return ClusterOut(is_tags.trues, is_story.trues, is_story.falses)


def build_flow(
    config: RunConfig,
    source: Source[RawRecord],
    sinks: Sinks,
    replay: bool = True,
    snapshots: bool = True,
    generation: int = 0,
    recovery_directory: Path | None = None,
    enricher: Enricher | None = None,
) -> Dataflow:
    """Wire the steps. `replay=True` batches by size only (deterministic results); `snapshots=False`
    (no recovery store) skips copying the clustering state at every epoch; `generation` > 0 goes
    into story IDs and versions (flows/generation.py), and the recovery directory then keeps the
    record of the IDs minted (flows/minted.py). `enricher`: the process's models (default: loaded
    for `config`), shared by its worker threads."""
    enricher = enricher or load_enricher(config.models, config.topics)
    flow = Dataflow("storywire")
    raw = op.input("input", flow, source)
    decoded = decode_records("decode", raw, config)

    timeout = REPLAY_BATCH_TIMEOUT if replay else timedelta(milliseconds=config.batch.timeout_ms)
    batches = micro_batch("micro_batch", op.key_on("batch_key", decoded.oks, batch_key), timeout, config.batch.max_size)
    # Keys route by hash, so a few partition keys can land on one worker (8 round-robin lanes hashed 6:2 onto
    # 2 workers): each batch goes to a random worker instead, which spreads any number of partitions evenly.
    spread = op.redistribute("spread", batches)
    enriched = enrich_batches("enrich", spread, enricher, config.limits.dead_letter_raw_bytes)
    if sinks.vectors is not None:
        op.output("vectors", op.map("vectors_json", enriched.oks, vector_line), sinks.vectors)

    sharded = op.key_on("shard", enriched.oks, shard_of)
    clustered = op.stateful_batch(
        "cluster",
        sharded,
        lambda state: ShardLogic(
            state,
            config.clustering,
            shard_of,
            enricher.versions,
            config.output.tombstone_after_hours,
            config.limits,
            snapshots,
            replay,
            generation,
            recovery_directory,
        ),
    )
    routed = route_outputs("route", op.key_rm("unshard", clustered))
    line = functools.partial(sinks.line, config.limits.max_output_bytes)
    op.output("tags", op.map("tags_json", routed.tags, line), sinks.tags)
    op.output("stories", op.map("stories_json", routed.stories, line), sinks.stories)

    dead = op.merge("dead_letters", decoded.errs, enriched.errs)
    dead_lines = op.merge(
        "all_dead_letters",
        op.map("dead_letter_json", dead, lambda d: line(OutputRecord(DEAD, d.key, d.to_json()))),
        op.map("cluster_dead_json", routed.dead_letters, line),
    )
    op.output("dlq", dead_lines, sinks.dead_letters)
    return flow
