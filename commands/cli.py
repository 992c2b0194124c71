"""The `storywire` command line: the parsers of every subcommand, and handlers that call one function of the job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.summary import replay_and_report
from flows import logs
from flows.config import ConfigError, ModelsConfig, RunConfig
from flows.runner import ScaleOptions
from replay import FORMATS, PROTOCOLS
from training.topics import SliceOptions


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.log_level, args.json_logs)
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        # Bytewax wraps what our sources raise while it builds them: say the innermost cause
        config = next((e for e in _causes(exc) if isinstance(e, ConfigError)), None)
        if config is not None:
            print(f"storywire: configuration error: {config}", file=sys.stderr)
            return 2
        print(f"storywire: {': '.join(map(str, _causes(exc)))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and the ones it was raised from, outermost first."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    return chain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storywire",
        description="Tag news articles (entities, IPTC topics) and group them into stories, on Bytewax.",
    )
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING or ERROR (default: WARNING)")
    parser.add_argument("--json-logs", action="store_true", help="log one JSON object per line")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="replay the bundled demo firehose through the real flow and print a summary",
        description="Replay the bundled demo firehose (161 articles about 22 events, plus malformed records) "
        "through the real flow, write tags, stories and dead letters to --out and print a summary "
        "with BCubed F1 against the written event labels.",
    )
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.set_defaults(handler=cmd_demo)

    run_cmd = commands.add_parser(
        "run",
        help="run the flow as configured in a TOML file",
        description="Run the flow with a TOML config; STORYWIRE_<SECTION>__<KEY> environment variables override it.",
    )
    run_cmd.add_argument("--config", type=Path, help="TOML config file (default: built-in defaults)")
    _add_scale_options(run_cmd)
    run_cmd.set_defaults(handler=cmd_run)

    replay = commands.add_parser(
        "replay",
        help="replay an archive file through the flow",
        description="Replay an archive (JSON lines, optionally .gz, or the UCI News Aggregator dump) through the "
        "flow. With a label field present, the summary scores stories against it.",
    )
    replay.add_argument("file", type=Path, help="archive to replay (.jsonl or .jsonl.gz)")
    _add_archive_options(replay)
    replay.add_argument("--label-field", default=None, help="field with the true event label (default: event)")
    replay.add_argument("--out", default=None, help="output folder (default: out)")
    replay.add_argument("--config", type=Path, help="TOML config for everything else")
    replay.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    to_kafka = replay.add_argument_group("into Kafka instead of through the flow")
    to_kafka.add_argument("--to-kafka", action="store_true", help="produce the archive's records to a Kafka topic")
    to_kafka.add_argument("--topic", help="topic to produce to (default: kafka.articles_topic)")
    pace = to_kafka.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="records per second")
    pace.add_argument("--speed", type=float, help="K times the archive's own pace, from published_at")
    _add_scale_options(replay)
    replay.set_defaults(handler=cmd_replay)

    evaluate_cmd = commands.add_parser(
        "eval",
        help="score stories against a labelled archive (metrics.json, table, plot)",
        description="Run the real flow in embedded mode over a labelled archive and write DIR/metrics.json "
        "(BCubed, ARI, AMI, ID churn, merged fraction, docs/s, peak RSS of the process tree, max stall, per-week F1), "
        "a table on stdout and DIR/stream.png.",
    )
    evaluate_cmd.add_argument("--input", help='labelled archive ("demo" for the bundled one)')
    evaluate_cmd.add_argument("--label-field", help="field with the true event (uci: story)")
    evaluate_cmd.add_argument(
        "--suite",
        choices=["dev"],
        help="instead of --input: every labelled dev set in --data (and the demo), storywire beside the naive baselines and offline HDBSCAN (DIR/suite.json)",
    )
    evaluate_cmd.add_argument("--data", type=Path, default=Path("../shared/data"), help="where the dev sets are (default: ../shared/data)")
    _add_archive_options(evaluate_cmd)
    evaluate_cmd.add_argument("--out", type=Path, required=True, help="output folder")
    evaluate_cmd.add_argument("--baseline", action="store_true", help="also score the naive online baseline in the same run")
    evaluate_cmd.add_argument("--embedding-cache", help="SQLite file caching embeddings across evaluations")
    evaluate_cmd.add_argument("--config", type=Path, help="TOML config for everything else")
    evaluate_cmd.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_scale_options(evaluate_cmd, recovery=False)
    evaluate_cmd.set_defaults(handler=cmd_eval)

    _add_ab_command(commands)
    _add_export_command(commands)

    kafka = commands.add_parser("kafka", help="Kafka administration", description="Kafka administration.")
    kafka_commands = kafka.add_subparsers(title="commands", required=True, metavar="COMMAND")
    topics = kafka_commands.add_parser(
        "init-topics",
        help="create the storywire topics where missing (idempotent)",
        description="Create articles, article-tags, story-clusters (compacted) and articles.dlq where missing.",
    )
    topics.add_argument("--config", type=Path, help="TOML config (kafka section)")
    topics.add_argument("--partitions", type=int, help="partitions per new topic (default: kafka.partitions)")
    topics.set_defaults(handler=cmd_init_topics)

    tail = commands.add_parser(
        "tail",
        help="follow article-tags or story-clusters, readably",
        description="Follow an output topic and print one readable line per record (--json for raw JSON).",
    )
    tail.add_argument("topic", choices=("article-tags", "story-clusters", "articles.dlq"), help="which output to follow")
    tail.add_argument("--config", type=Path, help="TOML config (kafka section)")
    tail.add_argument("--latest", action="store_true", help="only new records (default: from the beginning)")
    tail.add_argument("--group", help="consumer group to commit offsets to (default: none)")
    tail.add_argument("--idle-exit", type=float, help="exit after this many seconds without records")
    tail.add_argument("--json", action="store_true", help="print each record as JSON")
    tail.set_defaults(handler=cmd_tail)
    _add_taxonomy_commands(commands)
    _add_dlq_commands(commands)
    _add_encoder_commands(commands)
    _add_serve_command(commands)
    return parser


def _add_ab_command(commands) -> None:
    ab = commands.add_parser(
        "ab",
        help="compare two configurations over the same labelled replay (report.html, report.json)",
        description="Evaluate configuration A and configuration B over the same replay, each in a fresh process, one "
        "after the other, into DIR/a and DIR/b; then compare them: every quality metric with a bootstrap interval "
        "(resampling the true stories) and the paired difference, topic accuracy (with --topic-field), docs/s, "
        "peak RSS, story counts, sizes and churn, how far the two partitions agree, the stories they disagree on "
        "most, and topic changes per class. Writes DIR/report.json, DIR/report.html and a summary on stdout.",
    )
    ab.add_argument("--a", type=Path, required=True, help="TOML config of variant A")
    ab.add_argument("--b", type=Path, required=True, help="TOML config of variant B")
    ab.add_argument("--input", required=True, help='labelled archive ("demo" for the bundled one)')
    ab.add_argument("--label-field", help="field with the true story (default: event; uci: story)")
    _add_archive_options(ab)
    ab.add_argument("--topic-field", help="field with the true topic category (uci: category), for topic accuracy")
    ab.add_argument("--topic-mapping", help="category -> taxonomy code mapping for --topic-field: a JSON file or uci-categories")
    ab.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (default: 1000)")
    ab.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the replicates (default: 0)")
    ab.add_argument("--embedding-cache", help="SQLite embedding cache for both variants (then docs/s compares cached runs)")
    ab.add_argument("--out", type=Path, required=True, help="output folder")
    ab.add_argument("--reuse-runs", action="store_true", help="compare the runs already in DIR/a and DIR/b (e.g. with other bootstrap settings)")
    ab.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    ab.set_defaults(handler=cmd_ab)


def cmd_ab(args: argparse.Namespace) -> int:
    from abtest.command import AbOptions, run_ab

    print(
        run_ab(
            AbOptions(
                args.a,
                args.b,
                args.input,
                args.out,
                _archive_values(args),
                args.label_field,
                args.topic_field,
                args.topic_mapping,
                args.bootstrap,
                args.bootstrap_seed,
                args.embedding_cache,
                args.reuse_runs,
                not args.no_progress,
                args.log_level,
            )
        )
    )
    return 0


def _add_export_command(commands) -> None:
    export = commands.add_parser(
        "export",
        help="a run's tags, stories and labels as partitioned Parquet (training data)",
        description="Write the tag records (all versions), the story records (all versions, tombstones too) and, "
        "from the archive, the true labels of a run's output folder or of the Kafka output topics as Parquet "
        'partitioned by day (layout and schema: README, "storywire export"). `taxonomy train` and '
        "`encoder finetune` read the result as --input.",
    )
    export.add_argument("--from", dest="source", required=True, help='a run\'s output folder, or "kafka" (the topics in --config)')
    export.add_argument("--to", type=Path, required=True, help="export folder (its tables are replaced)")
    export.add_argument("--format", choices=["parquet"], default="parquet", help="output format (default: parquet)")
    labels = export.add_argument_group("labels, from the archive the run replayed")
    labels.add_argument("--archive", help="the archive (default: the input named in the folder's metrics.json)")
    labels.add_argument("--archive-format", choices=FORMATS, help="its format (default: from metrics.json, else jsonl)")
    labels.add_argument("--label-field", help="field with the true story (uci: story)")
    labels.add_argument("--topic-field", help="field with the topic category (uci: category)")
    labels.add_argument("--topic-mapping", help="category -> taxonomy code mapping (a JSON file or uci-categories)")
    export.add_argument("--idle-exit", type=float, default=10.0, help="with kafka: stop after this many idle seconds (default: 10)")
    export.add_argument("--config", type=Path, help="TOML config (kafka section; topics.taxonomy)")
    export.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from export.command import LabelOptions, export_run

    labels = LabelOptions(args.archive, args.archive_format, args.label_field, args.topic_field, args.topic_mapping)
    print(export_run(args.source, RunConfig.load(args.config), args.to, labels, args.idle_exit, not args.no_progress))
    return 0


def _add_serve_command(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="the story service: API, vector search and the live board",
        description="Keep a materialised view of the outputs (SQLite, WAL) from a replay's folder or from Kafka "
        "(a consumer group over article-tags, story-clusters and article-vectors) and serve the API (/docs) and the board (/).",
    )
    source = serve.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-dir", type=Path, help="a replay's output folder (followed as it grows)")
    source.add_argument("--kafka", action="store_true", help="consume the output topics named in --config")
    serve.add_argument("--config", type=Path, help="TOML config: kafka section, models.encoder")
    serve.add_argument(
        "--join-cosine",
        type=float,
        default=0.45,
        help="cosine to a story's centroid at which `match` says "
        "the text would join it (default 0.45; the flow's calibrated score also weighs words, entities and time)",
    )
    serve.add_argument("--database", type=Path, default=Path("out/service.sqlite"), help="SQLite file, kept across restarts (default: out/service.sqlite)")
    serve.add_argument("--group", default="storywire-service", help="Kafka consumer group (default: storywire-service)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from service import ServeOptions, serve

    config = RunConfig.load(args.config)
    k = config.kafka
    serve(
        ServeOptions(
            database=args.database,
            replay_dir=args.from_dir,
            kafka_client=k.client_config() if args.kafka else None,
            kafka_group=args.group,
            kafka_topics={k.tags_topic: "article", k.stories_topic: "story", k.vectors_topic: "vector"},
            host=args.host,
            port=args.port,
            encoder=config.models.encoder,
            backend=config.models.backend,
            cache_dir=config.models.cache_dir,
            static_model=config.models.static_model,
            threshold=args.join_cosine,
            window_hours=config.clustering.window_hours,
            taxonomy=config.topics.taxonomy,
        )
    )
    return 0


def _add_dlq_commands(commands) -> None:
    dlq = commands.add_parser("dlq", help="re-drive dead letters after a fix", description="Work with dead letters.")
    sub = dlq.add_subparsers(title="commands", required=True, metavar="COMMAND")
    redrive = sub.add_parser(
        "redrive",
        help="feed dead letters' original bytes back to the input",
        description="Read dead letters from a dead-letters file or the dead-letter topic, keep those whose reason "
        "matches --reason, and send their original bytes to the articles topic (--to-kafka) or to a JSON-lines "
        "archive (--out) for `storywire replay`. Re-driven articles are tagged, not ignored as duplicates: "
        "a record that failed was never recorded as seen.",
    )
    origin = redrive.add_mutually_exclusive_group(required=True)
    origin.add_argument("--file", type=Path, help="a dead-letters file (JSON lines, e.g. out/dead-letters.jsonl)")
    origin.add_argument("--from-topic", action="store_true", help="read kafka.dlq_topic from the beginning")
    redrive.add_argument("--reason", help="regular expression the reason must contain, e.g. '^enrichment failed'")
    target = redrive.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-kafka", action="store_true", help="produce to kafka.articles_topic")
    target.add_argument("--out", type=Path, help="write a JSON-lines archive")
    redrive.add_argument("--idle-exit", type=float, default=5.0, help="with --from-topic: stop after this many idle seconds (default: 5)")
    redrive.add_argument("--config", type=Path, help="TOML config (kafka section)")
    redrive.set_defaults(handler=cmd_dlq_redrive)


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    from admin.redrive import redrive

    report = redrive(RunConfig.load(args.config).kafka, None if args.from_topic else args.file, args.reason, args.out, args.idle_exit)
    print(report.render())
    return 0


def _add_taxonomy_commands(commands) -> None:
    taxonomy = commands.add_parser(
        "taxonomy",
        help="browse the taxonomy; train and evaluate topic taggers",
        description="Browse the taxonomy; train and evaluate topic taggers on labelled files.",
    )
    sub = taxonomy.add_subparsers(title="commands", required=True, metavar="COMMAND")
    show = sub.add_parser(
        "show", help="print a subtree (all top-level concepts without CODE)", description="Print CODE and its descendants as a tree (all roots without CODE)."
    )
    show.add_argument("code", nargs="?", help="concept code, e.g. medtop:04000000")
    show.add_argument("--taxonomy", default="iptc", help='"iptc" or a .json/.csv/.tsv file (default: iptc)')
    show.add_argument("--depth", type=int, default=2, help="levels below CODE to print (default: 2)")
    show.add_argument("--retired", action="store_true", help="include retired concepts")
    show.add_argument("--aliases", action="store_true", help="print aliases too")
    show.set_defaults(handler=cmd_taxonomy_show)

    def labelled_file_options(p) -> None:
        p.add_argument("--input", required=True, help="labelled JSON lines (.jsonl or .jsonl.gz), or a Parquet export folder (storywire export)")
        p.add_argument("--label-field", required=True, help="field with the category")
        p.add_argument("--mapping", required=True, help="category -> code mapping: a JSON file or uci-categories / huffpost-categories")
        p.add_argument("--title-field", default="title", help="field with the title or headline (default: title)")
        p.add_argument("--text-field", help="field with more text, appended to the title (e.g. short_description)")
        _add_date_range_options(p)
        p.add_argument("--sample", type=int, help="use N records drawn without replacement")
        p.add_argument("--seed", type=int, default=0, help="seed for --sample (default: 0)")
        p.add_argument("--taxonomy", default="iptc", help='"iptc" or a custom taxonomy file (default: iptc)')
        p.add_argument("--embedding-cache", help="SQLite file caching embeddings across runs")
        p.add_argument("--config", type=Path, help="TOML config (models section: encoder)")

    train = sub.add_parser(
        "train",
        help="train a topic head on a labelled file",
        description="Train a logistic-regression topic head on the encoder's embeddings of a "
        "labelled file, or (--finetune-epochs) fine-tune the encoder with a softmax layer; labels "
        "become taxonomy codes through --mapping. Point topics.head at the output to use it in the flow.",
    )
    labelled_file_options(train)
    train.add_argument("--out", type=Path, required=True, help="where to write the model (JSON); a fine-tuned encoder goes beside it in OUT.encoder/")
    train.add_argument("--C", type=float, default=10.0, help="inverse regularisation strength of logistic regression (default: 10)")
    train.add_argument(
        "--finetune-epochs",
        type=int,
        default=0,
        help="fine-tune the encoder with the head for N passes (torch, CPU; a pass over 20k headlines takes ~7 min on 2 idle cores); "
        "0 = logistic regression on the frozen encoder (default)",
    )
    train.add_argument("--learning-rate", type=float, default=5e-5, help="AdamW peak learning rate when fine-tuning (default: 5e-5)")
    train.set_defaults(handler=cmd_taxonomy_train)

    evaluate = sub.add_parser(
        "eval",
        help="score zero-shot or a trained head on a labelled file",
        description="Accuracy@1, macro-F1 and per-class precision/recall of zero-shot topics "
        "(candidates: every active concept of the mapped level) or of --model; writes a "
        "confusion matrix PNG and prints `accuracy: 0.xxx` last.",
    )
    labelled_file_options(evaluate)
    evaluate.add_argument("--model", type=Path, help="a trained topic head (default: zero-shot)")
    evaluate.add_argument("--out", type=Path, default=Path("out/taxonomy-eval"), help="folder for metrics.json and confusion.png")
    evaluate.set_defaults(handler=cmd_taxonomy_eval)


def _add_date_range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date-field", help="field with the date (epoch ms/s or ISO; UCI: timestamp), for --since/--until")
    parser.add_argument("--since", help="first day to use, YYYY-MM-DD (inclusive)")
    parser.add_argument("--until", help="day to stop at, YYYY-MM-DD (exclusive)")


def _add_encoder_commands(commands) -> None:
    encoder = commands.add_parser("encoder", help="adapt the sentence encoder to a news stream", description="Adapt the sentence encoder to a news stream.")
    sub = encoder.add_subparsers(title="commands", required=True, metavar="COMMAND")
    finetune = sub.add_parser(
        "finetune",
        help="fine-tune the encoder on same-story headline pairs",
        description="Fine-tune the configured encoder (models.encoder) on pairs of titles from the same labelled "
        "story, with other stories of the same group and week as negatives. Point models.encoder at --out "
        "to cluster with it; train on days disjoint from those you evaluate on.",
    )
    finetune.add_argument("--input", required=True, help="labelled JSON lines (.jsonl or .jsonl.gz), or a Parquet export folder (storywire export)")
    finetune.add_argument("--label-field", required=True, help="field with the story label (UCI: story)")
    finetune.add_argument("--title-field", default="title", help="field with the title (default: title)")
    finetune.add_argument("--group-field", help="field whose stories make hard negatives for each other (UCI: category)")
    _add_date_range_options(finetune)
    finetune.add_argument("--pairs-per-story", type=int, default=6, help="title pairs drawn per story (default: 6)")
    finetune.add_argument("--batch-size", type=int, default=64, help="pairs per batch; the others are negatives (default: 64)")
    finetune.add_argument("--epochs", type=int, default=1, help="passes over the pairs (default: 1)")
    finetune.add_argument("--learning-rate", type=float, default=2e-5, help="AdamW peak learning rate (default: 2e-5)")
    finetune.add_argument("--seed", type=int, default=0, help="seed for pairs, batches and weights (default: 0)")
    finetune.add_argument("--config", type=Path, help="TOML config (models.encoder is the starting model)")
    finetune.add_argument("--out", type=Path, required=True, help="folder for the fine-tuned sentence-transformers model")
    finetune.set_defaults(handler=cmd_encoder_finetune)
    static = sub.add_parser(
        "distill-static",
        help="train the static backend on news text (models.static_model)",
        description="Distil the configured encoder into a static model2vec model (optionally with frequent corpus "
        "words added to its vocabulary), then train its token vectors so each text's mean vector points where the encoder's "
        'embedding of it does (taggers/static_training.py). Set models.backend = "static" and '
        "models.static_model = OUT to use it; train on days disjoint from those you evaluate on.",
    )
    static.add_argument(
        "--input",
        required=True,
        action="append",
        help="JSON lines of articles (title, optional summary and body), date-filtered by --since/--until; repeatable",
    )
    static.add_argument("--extra", action="append", default=[], help="more JSON lines of articles, taken whole; repeatable")
    _add_date_range_options(static)
    static.add_argument("--min-count", type=int, default=5, help="a corpus word joins the vocabulary from this many uses (default: 5)")
    static.add_argument(
        "--max-words",
        type=int,
        default=0,
        help="add up to N frequent corpus words missing from the word pieces to the vocabulary before training (not measured yet; default: 0, none)",
    )
    static.add_argument("--epochs", type=int, default=3, help="passes over the corpus (default: 3); 0: distil only")
    static.add_argument("--learning-rate", type=float, default=5e-3, help="Adam learning rate (default: 5e-3)")
    static.add_argument("--seed", type=int, default=0, help="seed of the validation split and batches (default: 0)")
    static.add_argument("--embedding-cache", help="SQLite file caching the encoder's embeddings of the corpus")
    static.add_argument("--config", type=Path, help="TOML config (models.encoder is the teacher; models.embed_max_chars)")
    static.add_argument("--out", type=Path, required=True, help="folder for the static model")
    static.set_defaults(handler=cmd_encoder_distill_static)


ARCHIVE_OPTIONS = ("format", "protocol", "seed", "days", "limit")


def _add_archive_options(parser: argparse.ArgumentParser) -> None:
    """How an archive is read, sliced and ordered; unset options keep the config's value."""
    parser.add_argument("--format", choices=FORMATS, help="archive format (default: jsonl)")
    parser.add_argument("--protocol", choices=PROTOCOLS, help="replay protocol (default: none)")
    parser.add_argument("--seed", type=int, help="seed for the jitter and shuffle protocols (default: 1)")
    parser.add_argument("--days", type=int, help="only the first N UTC days that have data")
    parser.add_argument("--limit", type=int, help="at most N records")


def _archive_values(args: argparse.Namespace, *extra: str) -> dict:
    """The archive options given on the command line (unset ones keep the config's value)."""
    return {k: getattr(args, k) for k in (*ARCHIVE_OPTIONS, *extra) if getattr(args, k) is not None}


def _source_values(args: argparse.Namespace, path: str, *extra: str) -> dict:
    return {"path": path, "progress": not args.no_progress, **_archive_values(args, *extra)}


def _add_scale_options(parser: argparse.ArgumentParser, recovery: bool = True) -> None:
    group = parser.add_argument_group("Bytewax scaling" + (" and recovery" if recovery else "") + " (passed through)")
    group.add_argument("-w", "--workers-per-process", type=int, default=1, help="worker threads per process")
    group.add_argument("-i", "--process-id", type=int, help="this process's id, with -a (process 0 reads a replayed archive and writes the output files)")
    group.add_argument("-a", "--addresses", help='all processes, separated by ";": "host1:2101;host2:2101"')
    if not recovery:
        parser.set_defaults(recovery_directory=None, snapshot_interval=None, backup_interval=None)
        return
    group.add_argument("-r", "--recovery-directory", type=Path, help="recovery store (created if missing)")
    group.add_argument("-s", "--snapshot-interval", type=float, help="seconds between state snapshots")
    group.add_argument("-b", "--backup-interval", type=float, help="seconds to keep old snapshots")


def _scale(args: argparse.Namespace) -> ScaleOptions:
    addresses = [a.strip() for a in args.addresses.split(";") if a.strip()] if args.addresses else None
    if (args.process_id is None) != (addresses is None):
        raise ConfigError(
            '-i/--process-id and -a/--addresses go together: -i 0 -a "host1:2101;host2:2101" on the first machine, -i 1 with the same -a on the second'
        )
    if addresses is not None and not 0 <= args.process_id < len(addresses):
        raise ConfigError(f"-i {args.process_id}: -a lists {len(addresses)} processes, so use 0 to {len(addresses) - 1}")
    if args.workers_per_process < 1:
        raise ConfigError(f"-w {args.workers_per_process}: use 1 or more workers per process")
    return ScaleOptions(
        workers_per_process=args.workers_per_process,
        process_id=args.process_id,
        addresses=addresses,
        recovery_directory=args.recovery_directory,
        snapshot_interval_s=args.snapshot_interval,
        backup_interval_s=args.backup_interval,
    )


def _say(text: str) -> None:
    """Print a command's report; nothing at all when it has nothing to say."""
    if text:
        print(text)


def cmd_demo(args: argparse.Namespace) -> int:
    config = RunConfig.load().with_values({"output": {"directory": args.out}, "source": {"path": "demo", "progress": not args.no_progress}})
    _say(replay_and_report(config))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    _say(replay_and_report(RunConfig.load(args.config), _scale(args)))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    values = {"source": _source_values(args, str(args.file), "label_field")}
    if args.out is not None:
        values["output"] = {"directory": args.out}
    config = RunConfig.load(args.config).with_values(values)
    if args.to_kafka:
        from admin.produce import produce_to_kafka

        return produce_to_kafka(config, args.topic, args.rate, args.speed)
    _say(replay_and_report(config, _scale(args)))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from evaluation.harness import eval_report

    scale = _scale(args)
    if args.suite:
        if scale.addresses or scale.workers_per_process > 1:
            raise ConfigError("eval --suite runs one process with one worker: drop -w/-i/-a (or eval one set with --input)")
        return _eval_suite(args)
    if not args.input or not args.label_field:
        raise SystemExit("storywire eval: give --input and --label-field, or --suite dev")
    values = {"source": _source_values(args, args.input, "label_field")}
    if args.embedding_cache:
        values["models"] = {"embedding_cache": args.embedding_cache}
    _say(eval_report(RunConfig.load(args.config).with_values(values), args.out, args.baseline, scale))
    return 0


def _eval_suite(args: argparse.Namespace) -> int:
    from evaluation.suite import suite_report

    values: dict = {"source": {"progress": not args.no_progress}}
    if args.embedding_cache:
        values["models"] = {"embedding_cache": args.embedding_cache}
    print(suite_report(RunConfig.load(args.config).with_values(values), args.data, args.out))
    return 0


def cmd_taxonomy_show(args: argparse.Namespace) -> int:
    from taxonomy import load_taxonomy

    _say("\n".join(load_taxonomy(args.taxonomy).outline(args.code, args.depth, args.retired, args.aliases)))
    return 0


def _slice_options(args: argparse.Namespace) -> SliceOptions:
    return SliceOptions(
        args.title_field, getattr(args, "text_field", None), args.label_field, args.date_field, args.since, args.until, getattr(args, "sample", None), args.seed
    )


def _models(args: argparse.Namespace) -> ModelsConfig:
    config = RunConfig.load(args.config)
    if getattr(args, "embedding_cache", None):
        config = config.with_values({"models": {"embedding_cache": args.embedding_cache}})
    return config.models


def cmd_taxonomy_train(args: argparse.Namespace) -> int:
    from training.topics import train

    if args.finetune_epochs < 0:
        raise ConfigError(f"--finetune-epochs {args.finetune_epochs}: use 0 (no fine-tuning) or more")
    print(
        train(
            args.input,
            _slice_options(args),
            args.taxonomy,
            args.mapping,
            _models(args),
            args.out,
            C=args.C,
            finetune_epochs=args.finetune_epochs,
            learning_rate=args.learning_rate,
        )
    )
    return 0


def cmd_taxonomy_eval(args: argparse.Namespace) -> int:
    from training.topics import evaluate_topics

    print(evaluate_topics(args.input, _slice_options(args), args.taxonomy, args.mapping, _models(args), args.out, args.model))
    return 0


def cmd_encoder_finetune(args: argparse.Namespace) -> int:
    from training.story_encoder import finetune

    finetune(
        args.input,
        _slice_options(args),
        args.group_field,
        _models(args),
        args.out,
        args.pairs_per_story,
        args.batch_size,
        args.epochs,
        args.learning_rate,
        args.seed,
    )
    return 0


def cmd_encoder_distill_static(args: argparse.Namespace) -> int:
    from training.static_encoder import distill_static

    dated = SliceOptions(date_field=args.date_field, since=args.since, until=args.until)
    distill_static(
        args.input,
        args.extra,
        dated,
        _models(args),
        args.out,
        min_count=args.min_count,
        max_words=args.max_words,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    return 0


def cmd_init_topics(args: argparse.Namespace) -> int:
    from admin.topics import init_topics

    config = RunConfig.load(args.config)
    for topic, outcome in init_topics(config.kafka, args.partitions).items():
        print(f"{topic}: {outcome}")
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    from admin.topics import tail

    k = RunConfig.load(args.config).kafka
    topic = {"article-tags": k.tags_topic, "story-clusters": k.stories_topic, "articles.dlq": k.dlq_topic}[args.topic]
    tail(k, topic, not args.latest, args.group, args.idle_exit, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
