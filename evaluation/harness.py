"""`storywire eval`: run the real flow over a labelled archive and score it.

Writes DIR/metrics.json (quality, ID stability, speed, memory, stalls, per-week
F1, and optionally the naive online baseline measured in the same run), the
outputs of the run, and DIR/stream.png.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Iterator

from clustering import OnlineStoryClusterer, StoryDoc
from evaluation.summary import other_process_report
from flows import monitoring
from flows.config import RunConfig
from flows.enrich import Enricher, load_enricher
from flows.runner import Archive, ScaleOptions, run
from flows.schema import Article, InvalidArticle, RawRecord, decode_article
from replay import read_outputs, score_clustering
from replay.output_scores import epoch_seconds, plot_stream, stability, weekly_f1

# vary run to run; the rest must not
TIMING_FIELDS = ("docs_per_s", "wall_s", "startup_s", "peak_rss_mb", "peak_rss_by_part_mb", "max_stall_ms", "cluster_ms_per_article")
BASELINE = {"threshold": 0.45, "idle_hours": 24.0}  # nearest centroid, cosine >= 0.45, stories idle 24 h closed


class PeakRss:
    """Samples the resident memory of this process and all its descendants (the whole tree).

    Also keeps the peaks of this process alone and of its children (the
    re-clustering worker), so a growing tree says which part grows.
    """

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_main_bytes = 0
        self.peak_children_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss", daemon=True)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            per_process = tree_rss_bytes(os.getpid())
            main = per_process.get(os.getpid(), 0)
            total = sum(per_process.values())
            self.peak_bytes = max(self.peak_bytes, total)
            self.peak_main_bytes = max(self.peak_main_bytes, main)
            self.peak_children_bytes = max(self.peak_children_bytes, total - main)
            if self._stop.wait(self.interval_s):
                return

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)

    def peaks_by_part_mb(self) -> dict[str, float]:
        return {"main": round(self.peak_main_bytes / 2**20, 1), "children": round(self.peak_children_bytes / 2**20, 1)}


def tree_rss_bytes(root: int) -> dict[int, int]:
    """Resident bytes of `root` and each of its descendants, by pid."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        tree[pid] = rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return tree


def evaluate_stories(
    config: RunConfig, out_dir: Path, baseline: bool = False, scale: ScaleOptions = ScaleOptions(), enricher: Enricher | None = None
) -> dict | None:
    """Run and score; in the other processes of a cluster only run (process 0 scores), returning None.
    `enricher`: models already loaded for `config` (the suite shares its own)."""
    config = config.with_values({"output": {"kind": "file", "directory": str(out_dir)}})
    if not scale.primary:
        run(config, scale, enricher=enricher)
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = Archive.load(config)
    if not archive.has_labels():
        raise ValueError(f"no record of {archive.path} has the label field {config.source.label_field!r}")
    monitoring.reset_peaks()
    with PeakRss() as rss:
        started = time.perf_counter()
        enricher = enricher or load_enricher(config.models, config.topics)
        enricher.warm_up()  # model loading is startup, not stream throughput
        startup = time.perf_counter() - started
        started = time.perf_counter()
        run(config, scale, archive=archive, enricher=enricher)
        wall = time.perf_counter() - started
    published: dict[str, float] = {}

    def tags() -> Iterator[dict]:
        """Tag records streamed once: all of them at once would cost the scorer more memory than the run."""
        for tag in read_outputs(out_dir / "tags.jsonl"):
            published[tag["id"]] = epoch_seconds(tag["published_at"])
            yield tag

    stories = [s for s in read_outputs(out_dir / "stories.jsonl") if not s.get("tombstone")]
    stab, final = stability(tags(), stories)
    labels = archive.labels()
    scores = score_clustering(final, labels)
    result = {
        **scores.to_json(),
        **stab.to_json(),
        "docs_per_s": round(len(archive) / wall, 1),
        "wall_s": round(wall, 1),
        "startup_s": round(startup, 1),
        "peak_rss_mb": rss.peak_mb,
        "peak_rss_by_part_mb": rss.peaks_by_part_mb(),
        "max_stall_ms": round(monitoring.max_stall_seconds() * 1000, 1),
        "cluster_ms_per_article": monitoring.cluster_ms_per_article(),  # None: the shard ran in another process
        "layout": {"processes": len(scale.addresses or [None]), "workers_per_process": scale.workers_per_process},
        "recluster_mode": config.clustering.recluster_mode.replace("auto", "replay"),  # eval replays an archive
        "max_recluster_window": monitoring.max_recluster_window(),
        "weekly_bcubed_f1": weekly_f1(final, labels, published),
        "input": {
            "path": str(archive.path),
            "format": config.source.format,
            "protocol": config.source.protocol,
            "seed": config.source.seed,
            "days": config.source.days,
            "limit": config.source.limit,
        },
        "embedding_cache": config.models.embedding_cache,
    }
    if baseline:
        result["baseline"] = score_baseline(config, archive, labels, enricher.encoder)
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    plot_stream(stories, final, out_dir / "stream.png", title=f"{archive.path.name}: BCubed F1 {scores.bcubed_f1:.3f}")
    return result


def eval_report(config: RunConfig, out_dir: Path, baseline: bool = False, scale: ScaleOptions = ScaleOptions()) -> str:
    """`storywire eval`: evaluate and return the table to print (what this process did, in the others of a cluster)."""
    result = evaluate_stories(config, out_dir, baseline, scale)
    if result is None:
        return other_process_report(scale)
    return f"{render(result)}\n\nwrote {out_dir}/metrics.json and {out_dir}/stream.png"


def valid_articles(config: RunConfig, archive: Archive) -> list[Article]:
    """The archive's records that decode, in replay order (what the baselines and the suite's features read)."""
    articles = []
    for record in archive.records():
        try:
            articles.append(decode_article(RawRecord(record.payload, "eval", record.line, 0.0), 2**31, config.limits.max_body_chars))
        except InvalidArticle:
            continue
    return articles


def score_baseline(config: RunConfig, archive: Archive, labels: dict[str, str], encoder) -> dict:
    """The naive online method on the same slice and embeddings (the run's `encoder`): what the system adds over it."""
    articles = valid_articles(config, archive)
    clusterer = naive_centroid(BASELINE["threshold"], BASELINE["idle_hours"])
    predicted = {}
    size = config.batch.max_size
    for start in range(0, len(articles), size):
        batch = articles[start : start + size]
        vectors = encoder.encode([a.text(config.models.embed_max_chars) for a in batch])
        docs = [StoryDoc(a.id, v, a.published_at, a.title) for a, v in zip(batch, vectors)]
        predicted.update((x.doc_id, x.story_id) for x in clusterer.partial_fit_predict(docs))
    return {"method": "nearest centroid, cosine >= 0.45, stories idle 24 h closed", **score_clustering(predicted, labels).to_json()}


def naive_centroid(threshold: float, idle_hours: float | None) -> OnlineStoryClusterer:
    """The naive online baseline: nearest centroid by raw cosine, no entities, words or time decay;
    stories idle `idle_hours` closed (None: never)."""
    horizon = idle_hours if idle_hours is not None else 1e12
    return OnlineStoryClusterer(
        calibrated=False,
        threshold=threshold,
        weight_entities=0.0,
        weight_lexical=0.0,
        time_grace_hours=0.0,
        time_scale_hours=1e12,
        time_floor=0.0,
        undated_decay=1.0,
        weight_years=0.0,
        window_hours=horizon,
        retire_after_hours=horizon,
        retire_after_articles=2**62,
        recluster_every=0,
    )


def render(result: dict) -> str:
    rows = [
        ("BCubed F1", "bcubed_f1"),
        ("BCubed precision", "bcubed_precision"),
        ("BCubed recall", "bcubed_recall"),
        ("ARI", "ari"),
        ("AMI", "ami"),
        ("articles", "n_docs"),
        ("events (labels)", "n_labels"),
        ("stories", "n_stories"),
        ("id churn", "id_churn"),
        ("merged fraction", "merged_fraction"),
        ("docs/s", "docs_per_s"),
        ("wall s", "wall_s"),
        ("startup s", "startup_s"),
        ("peak RSS MB", "peak_rss_mb"),
        ("max stall ms", "max_stall_ms"),
        ("cluster ms/doc", "cluster_ms_per_article"),
        ("re-cluster window", "max_recluster_window"),
    ]
    base = result.get("baseline", {})
    lines = [f"{'metric':<18}{'storywire':>12}" + (f"{'baseline':>12}" if base else "")]
    for label, key in rows:
        value = "-" if result[key] is None else result[key]  # None: measured in another process
        lines.append(f"{label:<18}{value!s:>12}" + (f"{base.get(key, '')!s:>12}" if base else ""))
    lines.append("per-week BCubed F1: " + ", ".join(f"{w} {f:.3f}" for w, f in result["weekly_bcubed_f1"].items()))
    return "\n".join(lines)
