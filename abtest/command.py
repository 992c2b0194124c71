"""`storywire ab`: evaluate two configurations over the same replay, each in a fresh process, and compare them.

The one module of abtest/ that runs the flow (through `storywire eval` in a subprocess, so each variant's
peak RSS and timings are its own); the statistics stay pure over the two output folders.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from abtest.compare import build_report, counts_from_runs
from abtest.render import summary, write_report
from flows.config import ConfigError, RunConfig
from flows.runner import Archive
from taxonomy import load_taxonomy
from taxonomy.mapping import load_mapping


@dataclass(frozen=True)
class AbOptions:
    a: Path  # TOML config of variant A
    b: Path
    input: str  # the labelled archive ("demo": the bundled one)
    out: Path
    archive_options: dict[str, object] = field(default_factory=dict)  # format, protocol, seed, days, limit as given
    label_field: str | None = None
    topic_field: str | None = None
    topic_mapping: str | None = None
    bootstrap: int = 1000
    bootstrap_seed: int = 0
    embedding_cache: str | None = None
    reuse_runs: bool = False  # compare the runs already in OUT/a and OUT/b
    progress: bool = True
    log_level: str = "WARNING"


def run_ab(options: AbOptions) -> str:
    """Evaluate (unless reusing) and compare; writes OUT/report.json and OUT/report.html, returns the summary to print."""
    if bool(options.topic_field) != bool(options.topic_mapping):
        raise ConfigError("give --topic-field and --topic-mapping together (e.g. --topic-field category --topic-mapping uci-categories)")
    source = {"path": options.input, "progress": options.progress, **options.archive_options}
    if options.label_field is not None:
        source["label_field"] = options.label_field
    values: dict = {"source": source}
    if options.embedding_cache:
        values["models"] = {"embedding_cache": options.embedding_cache}
    configs = [RunConfig.load(path).with_values(values) for path in (options.a, options.b)]
    archive = Archive.load(configs[0])
    if not archive.has_labels():
        raise ValueError(f"no record of {archive.path} has the label field {configs[0].source.label_field!r}")
    for config, config_path, side in zip(configs, (options.a, options.b), ("a", "b")):
        if not options.reuse_runs:
            _eval_in_subprocess(options, config_path, config.source.label_field, options.out / side)
        elif not (options.out / side / "metrics.json").exists():
            raise FileNotFoundError(f"--reuse-runs: {options.out / side}/metrics.json does not exist (run without it first)")
    topic_labels = _topic_labels(archive, options.topic_field, options.topic_mapping, configs[0].topics.taxonomy) if options.topic_field else {}
    counts = counts_from_runs(options.out / "a", options.out / "b", archive.labels(), topic_labels)
    report = build_report(counts, options.bootstrap, options.bootstrap_seed)
    names = (str(options.a), str(options.b))
    write_report(report, options.out, names)
    out = options.out
    return summary(report, names) + f"\n\nwrote {out}/report.html and {out}/report.json (runs in {out}/a and {out}/b)"


def _eval_in_subprocess(options: AbOptions, config_path: Path, label_field: str, out: Path) -> None:
    """`storywire eval` of one variant in a fresh process: its peak RSS and timings are its own."""
    argv = [
        sys.executable,
        "-m",
        "commands.cli",
        "--log-level",
        options.log_level,
        "eval",
        "--input",
        options.input,
        "--config",
        str(config_path),
        "--label-field",
        label_field,
        "--out",
        str(out),
    ]
    given = {**options.archive_options, "embedding_cache": options.embedding_cache}
    for name, value in given.items():
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    if not options.progress:
        argv.append("--no-progress")
    done = subprocess.run(argv, stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"the evaluation of {config_path} into {out} failed (exit code {done.returncode}); its error is above")


def _topic_labels(archive: Archive, field: str, mapping_path: str, taxonomy_path: str) -> dict[str, str]:
    """The true topic code of every replayed article whose `field` value the mapping covers."""
    mapping = load_mapping(mapping_path, load_taxonomy(taxonomy_path))
    raw = replace(archive, label_field=field).labels()
    return {article: mapping[value] for article, value in raw.items() if mapping.get(value)}
