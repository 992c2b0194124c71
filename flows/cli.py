"""The `storywire` command line: demo, run and replay, each with --help."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from flows import logs
from flows.config import ConfigError, RunConfig
from flows.kafka import SHUTDOWN, check_connectivity, follow, init_topics
from flows.runner import Archive, ScaleOptions, run
from flows.summary import RunSummary
from replay import FORMATS, PROTOCOLS, produce_archive


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
    evaluate_cmd.add_argument("--suite", choices=["dev"], help="instead of --input: every labelled dev set in --data "
                              "(and the demo), storywire beside the naive baselines and offline HDBSCAN (DIR/suite.json)")
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
        "ab", help="compare two configurations over the same labelled replay (report.html, report.json)",
        description="Evaluate configuration A and configuration B over the same replay, each in a fresh process, one "
        "after the other, into DIR/a and DIR/b; then compare them: every quality metric with a bootstrap interval "
        "(resampling the true stories) and the paired difference, topic accuracy (with --topic-field), docs/s, "
        "peak RSS, story counts, sizes and churn, how far the two partitions agree, the stories they disagree on "
        "most, and topic changes per class. Writes DIR/report.json, DIR/report.html and a summary on stdout.")
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
    from abtest import build_report, counts_from_runs, summary, write_report

    if bool(args.topic_field) != bool(args.topic_mapping):
        raise ConfigError("give --topic-field and --topic-mapping together (e.g. --topic-field category --topic-mapping uci-categories)")
    values = {"source": _source_values(args, args.input, "label_field")}
    if args.embedding_cache:
        values["models"] = {"embedding_cache": args.embedding_cache}
    configs = [RunConfig.load(path).with_values(values) for path in (args.a, args.b)]
    archive = Archive.load(configs[0])
    if not archive.has_labels():
        raise ValueError(f"no record of {archive.path} has the label field {configs[0].source.label_field!r}")
    for config, config_path, side in zip(configs, (args.a, args.b), ("a", "b")):
        if not args.reuse_runs:
            _eval_in_subprocess(args, config_path, config.source.label_field, args.out / side)
        elif not (args.out / side / "metrics.json").exists():
            raise FileNotFoundError(f"--reuse-runs: {args.out / side}/metrics.json does not exist (run without it first)")
    topic_labels = _topic_labels(archive, args.topic_field, args.topic_mapping, configs[0].topics.taxonomy) if args.topic_field else {}
    counts = counts_from_runs(args.out / "a", args.out / "b", archive.labels(), topic_labels)
    report = build_report(counts, args.bootstrap, args.bootstrap_seed)
    names = (str(args.a), str(args.b))
    write_report(report, args.out, names)
    print(summary(report, names))
    print(f"\nwrote {args.out}/report.html and {args.out}/report.json (runs in {args.out}/a and {args.out}/b)")
    return 0


def _eval_in_subprocess(args: argparse.Namespace, config_path: Path, label_field: str, out: Path) -> None:
    """`storywire eval` of one variant in a fresh process: its peak RSS and timings are its own."""
    import subprocess

    argv = [sys.executable, "-m", "flows.cli", "--log-level", args.log_level, "eval", "--input", args.input,
            "--config", str(config_path), "--label-field", label_field, "--out", str(out)]
    for name in (*ARCHIVE_OPTIONS, "embedding_cache"):
        if getattr(args, name) is not None:
            argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.no_progress:
        argv.append("--no-progress")
    done = subprocess.run(argv, stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"the evaluation of {config_path} into {out} failed (exit code {done.returncode}); its error is above")


def _topic_labels(archive: Archive, field: str, mapping_path: str, taxonomy_path: str) -> dict[str, str]:
    """The true topic code of every replayed article whose `field` value the mapping covers."""
    from dataclasses import replace

    from flows.topic_tasks import load_for_cli

    _, mapping = load_for_cli(taxonomy_path, mapping_path)
    raw = replace(archive, label_field=field).labels()
    return {article: mapping[value] for article, value in raw.items() if mapping.get(value)}


def _add_export_command(commands) -> None:
    export = commands.add_parser(
        "export", help="a run's tags, stories and labels as partitioned Parquet (training data)",
        description="Write the tag records (all versions), the story records (all versions, tombstones too) and, "
        "from the archive, the true labels of a run's output folder or of the Kafka output topics as Parquet "
        "partitioned by day (layout and schema: README, \"storywire export\"). `taxonomy train` and "
        "`encoder finetune` read the result as --input.")
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
    from export import archive_labels, write_export
    from flows.summary import read_jsonl as read_outputs
    from flows.topic_tasks import load_for_cli
    from replay import read_archive

    config = RunConfig.load(args.config)
    if args.source == "kafka":
        k = config.kafka
        check_connectivity(k, [k.tags_topic, k.stories_topic])
        tags = (value for _, value in follow(k, k.tags_topic, True, None, args.idle_exit) if value is not None)
        stories = [value or {"cluster_id": key, "tombstone": True} for key, value in follow(k, k.stories_topic, True, None, args.idle_exit)]
        run_info: dict = {"source": f"kafka {k.bootstrap_servers} {k.tags_topic} {k.stories_topic}"}
    else:
        folder = Path(args.source)
        if not (folder / "tags.jsonl").exists():
            raise FileNotFoundError(f"{folder}/tags.jsonl does not exist: give a run's output folder or kafka")
        tags, stories = read_outputs(folder / "tags.jsonl"), list(read_outputs(folder / "stories.jsonl"))
        run_info = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
        run_info["source"] = str(folder)
    labels = {}
    if args.label_field or args.topic_field:
        given = run_info.get("input", {})
        archive = args.archive or given.get("path")
        if not archive:
            raise ConfigError("labels need the archive: give --archive (the folder's metrics.json names none)")
        mapping = load_for_cli(config.topics.taxonomy, args.topic_mapping)[1] if args.topic_mapping else {}
        records = (r.parsed for r in read_archive(archive, args.archive_format or given.get("format", "jsonl")))
        labels = archive_labels(records, args.label_field, args.topic_field, mapping)
    with tqdm(tags, desc="export tags", unit="record", disable=args.no_progress) as counted:
        report = write_export(counted, stories, labels, args.to, run_info)
    print(f"wrote {args.to}: {report.tags} articles over {report.days} days in tags/, {report.stories} story records "
          f"in stories/, {report.labels} labelled articles in labels/")
    return 0


def _add_serve_command(commands) -> None:
    serve = commands.add_parser(
        "serve", help="the story service: API, vector search and the live board",
        description="Keep a materialised view of the outputs (SQLite, WAL) from a replay's folder or from Kafka "
        "(a consumer group over article-tags, story-clusters and article-vectors) and serve the API (/docs) and the board (/).")
    source = serve.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-dir", type=Path, help="a replay's output folder (followed as it grows)")
    source.add_argument("--kafka", action="store_true", help="consume the output topics named in --config")
    serve.add_argument("--config", type=Path, help="TOML config: kafka section, models.encoder")
    serve.add_argument("--join-cosine", type=float, default=0.45, help="cosine to a story's centroid at which `match` says "
                       "the text would join it (default 0.45; the flow's calibrated score also weighs words, entities and time)")
    serve.add_argument("--database", type=Path, default=Path("out/service.sqlite"), help="SQLite file, kept across restarts (default: out/service.sqlite)")
    serve.add_argument("--group", default="storywire-service", help="Kafka consumer group (default: storywire-service)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from service import ServeOptions, serve

    config = RunConfig.load(args.config)
    k = config.kafka
    serve(ServeOptions(
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
        threshold=args.join_cosine,
        window_hours=config.clustering.window_hours,
        taxonomy=config.topics.taxonomy,
    ))
    return 0


def _add_dlq_commands(commands) -> None:
    dlq = commands.add_parser("dlq", help="re-drive dead letters after a fix", description="Work with dead letters.")
    sub = dlq.add_subparsers(title="commands", required=True, metavar="COMMAND")
    redrive = sub.add_parser(
        "redrive", help="feed dead letters' original bytes back to the input",
        description="Read dead letters from a dead-letters file or the dead-letter topic, keep those whose reason "
        "matches --reason, and send their original bytes to the articles topic (--to-kafka) or to a JSON-lines "
        "archive (--out) for `storywire replay`. Re-driven articles are tagged, not ignored as duplicates: "
        "a record that failed was never recorded as seen.")
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
    from flows import redrive

    config = RunConfig.load(args.config)
    report = redrive.RedriveReport()
    letters = redrive.from_topic(config.kafka, args.idle_exit) if args.from_topic else redrive.from_file(args.file)
    records = redrive.selected(letters, args.reason, report)
    if args.to_kafka:
        redrive.to_topic(records, config.kafka, config.kafka.articles_topic, report)
    else:
        redrive.to_archive(records, args.out, report)
    print(report.render())
    return 0


def _add_taxonomy_commands(commands) -> None:
    taxonomy = commands.add_parser("taxonomy", help="browse the taxonomy; train and evaluate topic taggers",
                                   description="Browse the taxonomy; train and evaluate topic taggers on labelled files.")
    sub = taxonomy.add_subparsers(title="commands", required=True, metavar="COMMAND")
    show = sub.add_parser("show", help="print a subtree (all top-level concepts without CODE)",
                          description="Print CODE and its descendants as a tree (all roots without CODE).")
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

    train = sub.add_parser("train", help="train a topic head on a labelled file",
                           description="Train a logistic-regression topic head on the encoder's embeddings of a "
                           "labelled file, or (--finetune-epochs) fine-tune the encoder with a softmax layer; labels "
                           "become taxonomy codes through --mapping. Point topics.head at the output to use it in the flow.")
    labelled_file_options(train)
    train.add_argument("--out", type=Path, required=True, help="where to write the model (JSON); a fine-tuned encoder goes beside it in OUT.encoder/")
    train.add_argument("--C", type=float, default=10.0, help="inverse regularisation strength of logistic regression (default: 10)")
    train.add_argument("--finetune-epochs", type=int, default=0,
                       help="fine-tune the encoder with the head for N passes (torch, CPU; a pass over 20k headlines takes ~7 min on 2 idle cores); "
                       "0 = logistic regression on the frozen encoder (default)")
    train.add_argument("--learning-rate", type=float, default=5e-5, help="AdamW peak learning rate when fine-tuning (default: 5e-5)")
    train.set_defaults(handler=cmd_taxonomy_train)

    evaluate = sub.add_parser("eval", help="score zero-shot or a trained head on a labelled file",
                              description="Accuracy@1, macro-F1 and per-class precision/recall of zero-shot topics "
                              "(candidates: every active concept of the mapped level) or of --model; writes a "
                              "confusion matrix PNG and prints `accuracy: 0.xxx` last.")
    labelled_file_options(evaluate)
    evaluate.add_argument("--model", type=Path, help="a trained topic head (default: zero-shot)")
    evaluate.add_argument("--out", type=Path, default=Path("out/taxonomy-eval"), help="folder for metrics.json and confusion.png")
    evaluate.set_defaults(handler=cmd_taxonomy_eval)


def _add_date_range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date-field", help="field with the date (epoch ms/s or ISO; UCI: timestamp), for --since/--until")
    parser.add_argument("--since", help="first day to use, YYYY-MM-DD (inclusive)")
    parser.add_argument("--until", help="day to stop at, YYYY-MM-DD (exclusive)")


def _add_encoder_commands(commands) -> None:
    encoder = commands.add_parser("encoder", help="adapt the sentence encoder to a news stream",
                                  description="Adapt the sentence encoder to a news stream.")
    sub = encoder.add_subparsers(title="commands", required=True, metavar="COMMAND")
    finetune = sub.add_parser(
        "finetune", help="fine-tune the encoder on same-story headline pairs",
        description="Fine-tune the configured encoder (models.encoder) on pairs of titles from the same labelled "
        "story, with other stories of the same group and week as negatives. Point models.encoder at --out "
        "to cluster with it; train on days disjoint from those you evaluate on.")
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
        "distill-static", help="train the static backend on news text (models.static_model)",
        description="Distil the configured encoder into a static model2vec model (optionally with frequent corpus "
        "words added to its vocabulary), then train its token vectors so each text's mean vector points where the encoder's "
        "embedding of it does (taggers/static_training.py). Set models.backend = \"static\" and "
        "models.static_model = OUT to use it; train on days disjoint from those you evaluate on.")
    static.add_argument("--input", required=True, action="append", help="JSON lines of articles (title, optional summary "
                        "and body), date-filtered by --since/--until; repeatable")
    static.add_argument("--extra", action="append", default=[], help="more JSON lines of articles, taken whole; repeatable")
    _add_date_range_options(static)
    static.add_argument("--min-count", type=int, default=5, help="a corpus word joins the vocabulary from this many uses (default: 5)")
    static.add_argument("--max-words", type=int, default=0, help="add up to N frequent corpus words missing from the word pieces "
                        "to the vocabulary before training (not measured yet; default: 0, none)")
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


def _source_values(args: argparse.Namespace, path: str, *extra: str) -> dict:
    source = {"path": path, "progress": not args.no_progress}
    source.update({k: getattr(args, k) for k in (*ARCHIVE_OPTIONS, *extra) if getattr(args, k) is not None})
    return source


def _add_scale_options(parser: argparse.ArgumentParser, recovery: bool = True) -> None:
    group = parser.add_argument_group("Bytewax scaling" + (" and recovery" if recovery else "") + " (passed through)")
    group.add_argument("-w", "--workers-per-process", type=int, default=1, help="worker threads per process")
    group.add_argument("-i", "--process-id", type=int, help="this process's id, with -a (process 0 reads a replayed "
                       "archive and writes the output files)")
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
        raise ConfigError("-i/--process-id and -a/--addresses go together: -i 0 -a \"host1:2101;host2:2101\" on the "
                          "first machine, -i 1 with the same -a on the second")
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


def _run_and_summarize(config: RunConfig, scale: ScaleOptions = ScaleOptions()) -> RunSummary | None:
    archive = run(config, scale)
    if archive is None or config.output.kind != "file":
        _print_other_process(scale)
        return None
    summary = RunSummary.from_outputs(config.output.directory, len(archive), archive.labels())
    print(summary.render())
    _print_clustering_cost()
    print(f"\noutputs in {config.output.directory}/: tags.jsonl, stories.jsonl, dead-letters.jsonl")
    return summary


def _print_clustering_cost() -> None:
    """What clustering cost per article in this process: the ceiling of a shard, which lives on one worker."""
    from flows import metrics

    ms = metrics.cluster_ms_per_article()
    if ms is not None:
        print(f"clustering: {ms:.2f} ms per article on one worker (the shard's ceiling: ~{1000 / max(ms, 1e-6):,.0f} articles/s)")


def _print_other_process(scale: ScaleOptions) -> None:
    if not scale.primary:
        print(f"{scale.label()}: done; process 0 read the input and wrote the outputs")
        _print_clustering_cost()


def cmd_demo(args: argparse.Namespace) -> int:
    config = RunConfig.load().with_values({"output": {"directory": args.out}, "source": {"path": "demo", "progress": not args.no_progress}})
    _run_and_summarize(config)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    _run_and_summarize(RunConfig.load(args.config), _scale(args))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    values = {"source": _source_values(args, str(args.file), "label_field")}
    if args.out is not None:
        values["output"] = {"directory": args.out}
    config = RunConfig.load(args.config).with_values(values)
    if args.to_kafka:
        return _replay_to_kafka(config, args)
    _run_and_summarize(config, _scale(args))
    return 0


def _replay_to_kafka(config: RunConfig, args: argparse.Namespace) -> int:
    archive = Archive.load(config)
    topic = args.topic or config.kafka.articles_topic
    check_connectivity(config.kafka, [topic])
    with tqdm(total=len(archive), desc=f"produce {topic}", unit="record", disable=not config.source.progress) as bar:
        report = produce_archive(archive.records(), config.kafka.client_config(), topic, args.rate, args.speed, bar.update)
    print(
        f"produced {report.sent} of {len(archive)} records to {topic} at {config.kafka.bootstrap_servers} "
        f"in {report.seconds:.1f}s ({report.rate:.1f}/s); failed: {report.failed}"
        + (f" (first error: {report.first_error})" if report.first_error else "")
    )
    return 0 if report.failed == 0 else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from flows.evaluate import evaluate, render

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
    result = evaluate(RunConfig.load(args.config).with_values(values), args.out, args.baseline, scale)
    if result is None:
        _print_other_process(scale)
        return 0
    print(render(result))
    print(f"\nwrote {args.out}/metrics.json and {args.out}/stream.png")
    return 0


def _eval_suite(args: argparse.Namespace) -> int:
    from flows.suite import render_suite, run_suite

    values: dict = {"source": {"progress": not args.no_progress}}
    if args.embedding_cache:
        values["models"] = {"embedding_cache": args.embedding_cache}
    results = run_suite(RunConfig.load(args.config).with_values(values), args.data, args.out, args.out / "features")
    print(render_suite(results))
    print(f"\nwrote {args.out}/suite.json")
    return 0


def cmd_taxonomy_show(args: argparse.Namespace) -> int:
    from taxonomy import load_taxonomy

    taxonomy = load_taxonomy(args.taxonomy)
    roots = [taxonomy[args.code]] if args.code else taxonomy.roots(args.retired)
    for root in roots:
        for concept in taxonomy.walk(root.code, args.retired):
            depth = concept.level - root.level
            if depth > args.depth:
                continue
            extra = f"  (retired {concept.retired})" if concept.retired else ""
            extra += f"  aliases: {', '.join(concept.aliases)}" if args.aliases and concept.aliases else ""
            print(f"{'  ' * depth}{concept.code}  {concept.label}{extra}")
    return 0


def _labelled_slice(args: argparse.Namespace):
    from flows.enrich import encoder_for
    from flows.topic_tasks import SliceOptions, load_for_cli, read_labelled

    taxonomy, mapping = load_for_cli(args.taxonomy, args.mapping)
    options = SliceOptions(args.title_field, args.text_field, args.label_field, args.date_field, args.since, args.until, args.sample, args.seed)
    config = RunConfig.load(args.config)
    if args.embedding_cache:
        config = config.with_values({"models": {"embedding_cache": args.embedding_cache}})
    return taxonomy, read_labelled(args.input, mapping, options), encoder_for(config.models)


def cmd_taxonomy_train(args: argparse.Namespace) -> int:
    from flows.topic_tasks import finetune_head, train_head
    from taggers.finetune import CLASSIFIER_BATCH_SIZE

    if args.finetune_epochs < 0:
        raise ConfigError(f"--finetune-epochs {args.finetune_epochs}: use 0 (no fine-tuning) or more")
    taxonomy, data, encoder = _labelled_slice(args)
    if args.finetune_epochs:
        with _training_bar(args.finetune_epochs * max(1, len(data.texts) // CLASSIFIER_BATCH_SIZE)) as on_step:
            head = finetune_head(data, _base_model(args), args.out, args.finetune_epochs, args.learning_rate, args.seed, on_step)
    else:
        head = train_head(data, encoder, args.out, C=args.C)
    counts = ", ".join(f"{taxonomy[c].label}: {n}" for c, n in head.metadata_["class_counts"].items())
    print(f"trained on {len(data.texts)} articles ({counts}); left out {data.skipped_unmapped} unmapped")
    print(f"wrote {args.out}")
    return 0


def cmd_taxonomy_eval(args: argparse.Namespace) -> int:
    from flows.enrich import head_encoder_for
    from flows.topic_tasks import evaluate, plot_confusion, render
    from taggers.topic_head import TopicHead

    taxonomy, data, encoder = _labelled_slice(args)
    head = TopicHead.load(args.model) if args.model else None
    if head is not None and head.encoder_path_:
        encoder = head_encoder_for(head, RunConfig.load(args.config).models)
    result, predicted = evaluate(data, taxonomy, encoder, head)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    plot_confusion(data, predicted, taxonomy, args.out / "confusion.png", f"{Path(args.input).name}: {result['method']}")
    print(f"wrote {args.out}/metrics.json and {args.out}/confusion.png")
    print(render(result))
    return 0


def cmd_encoder_finetune(args: argparse.Namespace) -> int:
    from flows.encoder_tasks import read_story_titles
    from flows.topic_tasks import SliceOptions
    from taggers.finetune import fine_tune, story_pair_batches

    options = SliceOptions(args.title_field, None, args.label_field, args.date_field, args.since, args.until)
    titles, groups = read_story_titles(args.input, options, args.group_field)
    data = story_pair_batches(titles, groups, args.pairs_per_story, args.batch_size, args.seed)
    print(f"{data.n_pairs} pairs from {data.n_stories} stories in {len(data.batches)} batches")
    with _training_bar(args.epochs * len(data.batches)) as on_step:
        fine_tune(_base_model(args), data, args.out, epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed, on_step=on_step)
    print(f"wrote {args.out}; set models.encoder = \"{args.out}\" to use it")
    return 0


def cmd_encoder_distill_static(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from flows.enrich import encoder_for
    from flows.schema import Article
    from flows.topic_tasks import SliceOptions, in_date_range, labelled_docs
    from taggers.static_training import train_static

    config = RunConfig.load(args.config)
    dated = SliceOptions(date_field=args.date_field, since=args.since, until=args.until)
    docs = [d for path in args.input for d in labelled_docs(path) if d and in_date_range(d, dated)]
    docs += [d for path in args.extra for d in labelled_docs(path) if d]
    texts = [Article("", d["title"], 0.0, 0.0, "corpus", 0, summary=d.get("summary"), body=d.get("body")).text(config.models.embed_max_chars)
             for d in docs if isinstance(d.get("title"), str) and d["title"].strip()]
    teacher = encoder_for(replace(config.models, backend="torch", embedding_cache=args.embedding_cache))
    print(f"{len(texts)} texts ({len(set(texts))} distinct); teacher {teacher.version}")

    def embed(batch: list[str]):
        import numpy as np

        chunks = []
        with tqdm(total=len(batch), unit="text", desc="teacher") as bar:
            for start in range(0, len(batch), 2048):
                chunks.append(teacher.encode(batch[start : start + 2048]))
                bar.update(len(chunks[-1]))
        return np.concatenate(chunks)

    model = train_static(_base_model(args), texts, embed, min_count=args.min_count, max_words=args.max_words,
                         max_epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed)
    model.save_pretrained(str(args.out))
    print(f"wrote {args.out} ({len(model.tokens)} tokens); set models.backend = \"static\" and models.static_model = \"{args.out}\"")
    return 0


def _base_model(args: argparse.Namespace) -> str:
    """The configured encoder's model folder: where fine-tuning starts."""
    from taggers.encoder import SentenceEncoder

    return SentenceEncoder(RunConfig.load(args.config).models.encoder).model_path


@contextmanager
def _training_bar(steps: int):
    """A progress bar over training batches, showing the loss; yields the per-step callback."""
    with tqdm(total=steps, unit="batch", desc="fine-tuning") as bar:
        def on_step(step: int, loss: float) -> None:
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")

        yield on_step


def cmd_init_topics(args: argparse.Namespace) -> int:
    config = RunConfig.load(args.config)
    for topic, outcome in init_topics(config.kafka, args.partitions).items():
        print(f"{topic}: {outcome}")
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    config = RunConfig.load(args.config)
    topic = {"article-tags": config.kafka.tags_topic, "story-clusters": config.kafka.stories_topic, "articles.dlq": config.kafka.dlq_topic}[args.topic]
    signal.signal(signal.SIGTERM, lambda *_: SHUTDOWN.set())
    for key, value in follow(config.kafka, topic, not args.latest, args.group, args.idle_exit):
        print(json.dumps({"key": key, "value": value}, ensure_ascii=False) if args.json else describe(key, value), flush=True)
    return 0


def describe(key: str | None, value: dict | None) -> str:
    """One readable line for a tags, story or dead-letter record."""
    if value is None:
        return f"{key}  (tombstone: deleted)"
    if "cluster_id" in value:
        return (
            f"{value['cluster_id']} v{value['version']} {value['status']:<7} size {value['size']:>4}  "
            f"{value['representative_title']}  [{', '.join(value['top_entities'][:3])}]"
            + (f" -> {value['merged_into']}" if value.get("merged_into") else "")
        )
    if "story" in value:
        entities = ", ".join(e["canonical"] for e in value["entities"][:3])
        topics = ", ".join(t["label"] for t in value["topics"] if t["level"] == 1)
        return f"{value['id']} v{value['version']} story {value['story']['id']}  {value['title']}  [{entities}] ({topics})"
    return f"dead letter {key}: {value.get('reason')}"


if __name__ == "__main__":
    sys.exit(main())
