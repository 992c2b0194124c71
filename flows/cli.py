"""The `storywire` command line: demo, run and replay, each with --help."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows import logs
from flows.config import ConfigError, RunConfig
from flows.runner import ScaleOptions, run
from flows.summary import RunSummary
from replay import FORMATS, PROTOCOLS


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.log_level, args.json_logs)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"storywire: configuration error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"storywire: {exc}", file=sys.stderr)
        return 1


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
    replay.add_argument("--format", choices=FORMATS, default=None, help="archive format (default: jsonl)")
    replay.add_argument("--protocol", choices=PROTOCOLS, default=None, help="replay protocol (default: none)")
    replay.add_argument("--seed", type=int, default=None, help="seed for the jitter protocol (default: 1)")
    replay.add_argument("--days", type=int, default=None, help="only the first N UTC days that have data")
    replay.add_argument("--limit", type=int, default=None, help="at most N records")
    replay.add_argument("--label-field", default=None, help="field with the true event label (default: event)")
    replay.add_argument("--out", default=None, help="output folder (default: out)")
    replay.add_argument("--config", type=Path, help="TOML config for everything else")
    replay.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_scale_options(replay)
    replay.set_defaults(handler=cmd_replay)
    return parser


def _add_scale_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Bytewax scaling and recovery (passed through)")
    group.add_argument("-w", "--workers-per-process", type=int, default=1, help="worker threads per process")
    group.add_argument("-i", "--process-id", type=int, help="this process's id, with -a")
    group.add_argument("-a", "--addresses", help='all processes, separated by ";": "host1:2101;host2:2101"')
    group.add_argument("-r", "--recovery-directory", type=Path, help="recovery store (created if missing)")
    group.add_argument("-s", "--snapshot-interval", type=float, help="seconds between state snapshots")
    group.add_argument("-b", "--backup-interval", type=float, help="seconds to keep old snapshots")


def _scale(args: argparse.Namespace) -> ScaleOptions:
    return ScaleOptions(
        workers_per_process=args.workers_per_process,
        process_id=args.process_id,
        addresses=args.addresses.split(";") if args.addresses else None,
        recovery_directory=args.recovery_directory,
        snapshot_interval_s=args.snapshot_interval,
        backup_interval_s=args.backup_interval,
    )


def _run_and_summarize(config: RunConfig, scale: ScaleOptions = ScaleOptions()) -> RunSummary:
    archive = run(config, scale)
    summary = RunSummary.from_outputs(config.output.directory, len(archive.records), archive.labels)
    print(summary.render())
    print(f"\noutputs in {config.output.directory}/: tags.jsonl, stories.jsonl, dead-letters.jsonl")
    return summary


def cmd_demo(args: argparse.Namespace) -> int:
    config = RunConfig.load().with_values({"output": {"directory": args.out}, "source": {"path": "demo", "progress": not args.no_progress}})
    _run_and_summarize(config)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    _run_and_summarize(RunConfig.load(args.config), _scale(args))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    source = {"path": str(args.file), "progress": not args.no_progress}
    for key in ("format", "protocol", "seed", "days", "limit", "label_field"):
        if getattr(args, key) is not None:
            source[key] = getattr(args, key)
    values = {"source": source}
    if args.out is not None:
        values["output"] = {"directory": args.out}
    _run_and_summarize(RunConfig.load(args.config).with_values(values), _scale(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
