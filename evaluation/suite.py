"""`storywire eval --suite dev`: every labelled dev set, storywire's defaults beside the baselines.

For each set in ../shared/data (and the bundled demo) the suite runs the real
flow with the configuration given (`evaluation.harness.evaluate_stories`), then scores, on
the same articles and embeddings, the naive online centroid at several
thresholds with and without closing stories idle 72 h, and offline HDBSCAN.
The articles' features (embedding, entities, time, label) are computed once per
set and model and kept in `features_dir`, so a second run, and the tuning
benchmark (benchmarks/tune_clustering.py), cost seconds.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clustering import OnlineStoryClusterer, StoryDoc
from evaluation.harness import evaluate_stories, naive_centroid, valid_articles
from flows.config import RunConfig
from flows.enrich import Enricher, load_enricher
from flows.runner import Archive
from replay import score_clustering

BASELINE_THRESHOLDS = (0.45, 0.55, 0.65, 0.75)
IDLE_CLOSE_HOURS = 72.0
HDBSCAN_SIZES = (2, 3)
MAX_OFFLINE_DOCS = 5_000  # offline HDBSCAN over the raw vectors of a larger set takes tens of minutes


@dataclass(frozen=True)
class DevSet:
    """A labelled archive and the replay protocol the data README prescribes for it."""

    name: str
    path: str  # "demo" = the bundled demo firehose
    format: str = "jsonl"
    protocol: str = "none"
    seed: int = 1
    days: int | None = None
    label_field: str = "event"

    def configure(self, config: RunConfig) -> RunConfig:
        return config.with_values(
            {
                "source": {
                    "kind": "file",
                    "path": self.path,
                    "format": self.format,
                    "protocol": self.protocol,
                    "seed": self.seed,
                    "days": self.days,
                    "limit": None,
                    "label_field": self.label_field,
                }
            }
        )


def dev_sets(data_dir: Path) -> list[DevSet]:
    """The dev sets present under `data_dir` (../shared/data), then the demo."""
    candidates = [
        DevSet("uci-14d", str(data_dir / "uci-news" / "uci-news-dev.jsonl.gz"), "uci", "jitter", 1, 14, "story"),
        DevSet("g5w1h", str(data_dir / "events" / "g5w1h-events.jsonl.gz")),
        DevSet("ecbplus", str(data_dir / "events" / "ecbplus-events.jsonl.gz"), protocol="shuffle"),
    ]
    return [s for s in candidates if Path(s.path).exists()] + [DevSet("demo", "demo")]


@dataclass(frozen=True)
class SetFeatures:
    """What clustering sees of each valid article of a replayed set, in stream order, with its label."""

    ids: list[str]
    titles: list[str]
    texts: list[str]  # title, lead and body, as the flow hands them to clustering
    published_at: np.ndarray  # epoch seconds
    vectors: np.ndarray  # unit length, float32
    entities: list[tuple[str, ...]]  # canonical forms
    labels: list[str]
    dated: list[bool]  # False: the record had no published_at

    def docs(self) -> list[StoryDoc]:
        return [
            StoryDoc(i, v, float(t), title, tuple(e), text=text, dated=d)
            for i, v, t, title, text, e, d in zip(self.ids, self.vectors, self.published_at, self.titles, self.texts, self.entities, self.dated)
        ]

    def head(self, n: int) -> "SetFeatures":
        """The first `n` articles."""
        return SetFeatures(
            self.ids[:n], self.titles[:n], self.texts[:n], self.published_at[:n], self.vectors[:n], self.entities[:n], self.labels[:n], self.dated[:n]
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".npy"), self.vectors)
        meta = {
            "ids": self.ids,
            "titles": self.titles,
            "texts": self.texts,
            "published_at": self.published_at.tolist(),
            "entities": [list(e) for e in self.entities],
            "labels": self.labels,
            "dated": self.dated,
        }
        path.with_suffix(".json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: Path) -> "SetFeatures":
        """Features saved by `save`; in files saved before they kept `dated`, an undated record is one at epoch 0
        (`valid_articles` reads records with a received time of 0)."""
        meta = json.loads(path.with_suffix(".json").read_text())
        dated = meta.get("dated") or [t != 0 for t in meta["published_at"]]
        return cls(
            meta["ids"],
            meta["titles"],
            meta["texts"],
            np.array(meta["published_at"]),
            np.load(path.with_suffix(".npy")),
            [tuple(e) for e in meta["entities"]],
            meta["labels"],
            dated,
        )


def set_features(dev_set: DevSet, config: RunConfig, features_dir: Path | None, enricher: Enricher) -> SetFeatures:
    """The set's features (computed with `enricher`, the models of `config`), from `features_dir` when computed
    before with the same models."""
    config = dev_set.configure(config)
    models = hashlib.sha256(f"{enricher.encoder.version}|{enricher.entity_tagger.version}".encode()).hexdigest()[:12]
    cached = features_dir / f"{dev_set.name}-{models}" if features_dir else None
    if cached is not None and cached.with_suffix(".json").exists():
        return SetFeatures.load(cached)
    archive = Archive.load(config)
    labels = archive.labels()
    articles = [a for a in valid_articles(config, archive) if a.id in labels]
    enriched = []
    for start in range(0, len(articles), config.batch.max_size):
        enriched.extend(enricher.enrich(articles[start : start + config.batch.max_size]))
    features = SetFeatures(
        ids=[e.article.id for e in enriched],
        titles=[e.article.title for e in enriched],
        texts=[e.article.text() for e in enriched],
        published_at=np.array([e.article.published_at for e in enriched]),
        vectors=np.stack([e.vector for e in enriched]).astype(np.float32),
        entities=[tuple(x.canonical for x in e.entities) for e in enriched],
        labels=[labels[e.article.id] for e in enriched],
        dated=[e.article.dated for e in enriched],
    )
    if cached is not None:
        features.save(cached)
    return features


def assign(features: SetFeatures, clusterer: OnlineStoryClusterer, batch_size: int = 64) -> dict[str, str]:
    """Every article's final story when `clusterer` reads the set in order (merged stories resolved to survivors)."""
    docs = features.docs()
    story: dict[str, str] = {}
    merged_into: dict[str, str] = {}
    for start in range(0, len(docs), batch_size):
        story.update((a.doc_id, a.story_id) for a in clusterer.partial_fit_predict(docs[start : start + batch_size]))
        changed, moved = clusterer.drain_changes()
        story.update((m.doc_id, m.story_id) for m in moved)
        merged_into.update((s.story_id, s.merged_into) for s in changed if s.merged_into)

    def survivor(story_id: str) -> str:
        while story_id in merged_into:
            story_id = merged_into[story_id]
        return story_id

    return {doc_id: survivor(story_id) for doc_id, story_id in story.items()}


def offline_hdbscan(features: SetFeatures, min_cluster_size: int) -> dict[str, str]:
    """HDBSCAN over the whole set at once (euclidean on unit vectors); noise points are stories of their own."""
    import hdbscan

    labels = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean", core_dist_n_jobs=1).fit_predict(features.vectors)
    return {doc_id: (f"c{label}" if label >= 0 else f"noise-{doc_id}") for doc_id, label in zip(features.ids, labels)}


def _scored(method: str, predicted: dict[str, str], features: SetFeatures, seconds: float) -> dict:
    scores = score_clustering(predicted, dict(zip(features.ids, features.labels))).to_json()
    return {"method": method, **scores, "docs_per_s": round(len(features.ids) / max(seconds, 1e-9), 1)}


def baselines(features: SetFeatures) -> list[dict]:
    """The naive centroid at every threshold, with and without idle closing, and offline HDBSCAN; the best naive marked."""
    rows = []
    for idle in (None, IDLE_CLOSE_HOURS):
        for threshold in BASELINE_THRESHOLDS:
            started = time.perf_counter()
            predicted = assign(features, naive_centroid(threshold, idle))
            close = f", idle {idle:g} h closed" if idle else ""
            rows.append(_scored(f"naive centroid {threshold}{close}", predicted, features, time.perf_counter() - started))
    best = max((r for r in rows), key=lambda r: r["bcubed_f1"])
    best["best_naive"] = True
    for size in HDBSCAN_SIZES:
        if len(features.ids) > MAX_OFFLINE_DOCS:
            rows.append({"method": f"offline HDBSCAN mcs {size}", "skipped": f"{len(features.ids)} articles > {MAX_OFFLINE_DOCS}"})
            continue
        started = time.perf_counter()
        predicted = offline_hdbscan(features, size)
        rows.append(_scored(f"offline HDBSCAN mcs {size}", predicted, features, time.perf_counter() - started))
    return rows


def run_suite(config: RunConfig, data_dir: Path, out_dir: Path, features_dir: Path | None) -> dict:
    """Every dev set through the real flow with `config`, beside the baselines on the same features; writes suite.json."""
    results = {}
    enricher = load_enricher(config.models, config.topics)  # the sets differ in source only: one set of models
    for dev_set in dev_sets(data_dir):
        flow = evaluate_stories(dev_set.configure(config), out_dir / dev_set.name, enricher=enricher)
        features = set_features(dev_set, config, features_dir, enricher)
        storywire = {
            "method": "storywire defaults" if config.clustering == type(config.clustering)() else "storywire (config)",
            **{
                k: flow[k]
                for k in ("bcubed_precision", "bcubed_recall", "bcubed_f1", "ari", "ami", "n_docs", "n_labels", "n_stories", "docs_per_s", "id_churn")
            },
        }
        results[dev_set.name] = {"protocol": dev_set.protocol, "rows": [storywire, *baselines(features)]}
    (out_dir / "suite.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def suite_report(config: RunConfig, data_dir: Path, out_dir: Path) -> str:
    """`storywire eval --suite dev`: run the suite (features kept in OUT/features) and return the tables to print."""
    results = run_suite(config, data_dir, out_dir, out_dir / "features")
    return f"{render_suite(results)}\n\nwrote {out_dir}/suite.json"


def render_suite(results: dict) -> str:
    """One table per set: storywire first, then the baselines; * marks the best naive centroid."""
    lines = []
    for name, result in results.items():
        lines.append(f"\n{name} (protocol {result['protocol']})")
        lines.append(f"  {'method':<40}{'P':>7}{'R':>7}{'F1':>7}{'ARI':>7}{'AMI':>7}{'docs/s':>9}")
        for row in result["rows"]:
            if "skipped" in row:
                lines.append(f"  {row['method']:<40}  skipped: {row['skipped']}")
                continue
            mark = " *" if row.get("best_naive") else ""
            lines.append(
                f"  {row['method'] + mark:<40}{row['bcubed_precision']:>7.3f}{row['bcubed_recall']:>7.3f}"
                f"{row['bcubed_f1']:>7.3f}{row['ari']:>7.3f}{row['ami']:>7.3f}{row['docs_per_s']:>9}"
            )
    lines.append(
        "\n* best naive centroid; storywire's docs/s is the whole flow (models included), the baselines' is clustering alone over precomputed embeddings."
    )
    return "\n".join(lines)
