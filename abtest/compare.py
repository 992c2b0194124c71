"""The A/B report as data: what two runs over the same replay did differently, from aggregated counts.

`AbCounts` is everything the report reads: contingency counts and story sizes,
never per-article rows, so a Spark job can aggregate it from exports of any
size (spark/ab_report.py) and `build_report` gives the same numbers either way.
`counts_from_runs` aggregates it from two runs' output folders.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from abtest.runs import RunView
from abtest.stats import (
    QUALITY_METRICS,
    Contingency,
    accuracy_replicates,
    bootstrap_weights,
    interval,
    pair_agreement,
    quality_replicates,
)

SPEED_FIELDS = ("docs_per_s", "wall_s", "startup_s", "peak_rss_mb", "max_stall_ms")
NO_TOPIC = ""  # an article without a level-1 topic


@dataclass(frozen=True)
class VariantCounts:
    """One variant's side: its stories against the truth, its topic hits, its story sizes and its run metrics."""

    truth: list[tuple[str, str, int]]  # (true story, final story, articles), labelled articles both runs tagged
    topic_hits: list[tuple[str, int, int]]  # (true story, articles with a topic label, of them with the right top topic)
    story_sizes: list[int]  # final story sizes over all the run's articles
    metrics: dict  # the run's metrics.json


@dataclass(frozen=True)
class AbCounts:
    a: VariantCounts
    b: VariantCounts
    cross: list[tuple[str, str, int, str]]  # (A story, B story, articles, title of the smallest article id), common articles
    topics: list[tuple[str, str, str, int]]  # (true topic, A's top topic, B's top topic, articles); NO_TOPIC where none
    topic_names: dict[str, str] = field(default_factory=dict)  # topic code -> label


def counts_from_runs(dir_a: Path, dir_b: Path, labels: dict[str, str], topic_labels: dict[str, str]) -> AbCounts:
    """Aggregate two runs' outputs; `labels` are the true stories, `topic_labels` the true topic codes, by article id."""
    a, b = RunView.from_dir(dir_a), RunView.from_dir(dir_b)
    common = sorted(set(a.final) & set(b.final))
    cross: dict[tuple[str, str], list] = {}
    for article in common:  # sorted: the first article of a cell has its smallest id
        cell = cross.setdefault((a.final[article], b.final[article]), [0, a.titles.get(article, "")])
        cell[0] += 1
    topics = Counter((topic_labels.get(i, NO_TOPIC), a.topics.get(i) or NO_TOPIC, b.topics.get(i) or NO_TOPIC) for i in common)
    return AbCounts(
        a=_variant(a, common, labels, topic_labels),
        b=_variant(b, common, labels, topic_labels),
        cross=[(sa, sb, n, title) for (sa, sb), (n, title) in sorted(cross.items())],
        topics=[(*k, n) for k, n in sorted(topics.items())],
        topic_names={**a.topic_names, **b.topic_names},
    )


def _variant(run: RunView, common: list[str], labels: dict[str, str], topic_labels: dict[str, str]) -> VariantCounts:
    labelled = [i for i in common if i in labels]
    truth = Counter((labels[i], run.final[i]) for i in labelled)
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i in labelled:
        if i in topic_labels:
            hits[labels[i]][0] += 1
            hits[labels[i]][1] += int(run.topics.get(i) == topic_labels[i])
    return VariantCounts(
        truth=[(*k, n) for k, n in sorted(truth.items())],
        topic_hits=[(story, n, ok) for story, (n, ok) in sorted(hits.items())],
        story_sizes=sorted(Counter(run.final.values()).values()),
        metrics=run.metrics,
    )


def build_report(counts: AbCounts, n_boot: int = 1000, seed: int = 0, level: float = 0.95, top_k: int = 10) -> dict:
    """Every statistic of the A/B report, as JSON-ready data."""
    stories = sorted({story for story, _, _ in counts.a.truth})
    weights = bootstrap_weights(len(stories), n_boot, seed)
    a_truth = Contingency.from_counts(counts.a.truth, stories)
    b_truth = Contingency.from_counts(counts.b.truth, stories)
    a_reps, b_reps = quality_replicates(a_truth, weights), quality_replicates(b_truth, weights)
    quality = {m: _paired(a_reps[m], b_reps[m], level) for m in QUALITY_METRICS}
    quality["ami"] = {"a": _ami(a_truth), "b": _ami(b_truth)}
    report = {
        "bootstrap": {"replicates": n_boot, "seed": seed, "level": level, "resampled": "true stories", "n_stories": len(stories)},
        "quality": quality,
        "topic_accuracy": _topic_accuracy(counts, stories, weights, level),
        "speed": {k: {"a": counts.a.metrics.get(k), "b": counts.b.metrics.get(k)} for k in SPEED_FIELDS},
        "stories": {"a": _story_stats(counts.a), "b": _story_stats(counts.b)},
        "agreement": pair_agreement(Contingency.from_counts([(sa, sb, n) for sa, sb, n, _ in counts.cross])),
        "disagreements": {"a_stories_split_by_b": _most_split(counts.cross, 0, top_k), "b_stories_split_by_a": _most_split(counts.cross, 1, top_k)},
        "topic_changes": _topic_changes(counts),
        "inputs": {side: v.metrics.get("input") for side, v in (("a", counts.a), ("b", counts.b))},
    }
    return report


def _paired(a: np.ndarray, b: np.ndarray, level: float) -> dict:
    return {"a": interval(a, level), "b": interval(b, level), "b_minus_a": interval(b - a, level)}


def _ami(truth: Contingency) -> float:
    """AMI of the whole data (no interval: its expected-information term costs seconds per replicate)."""
    from sklearn.metrics import adjusted_mutual_info_score

    coo = truth.matrix.tocoo()
    n = coo.data.astype(np.int64)
    return round(float(adjusted_mutual_info_score(np.repeat(coo.row, n), np.repeat(coo.col, n))), 4)


def _topic_accuracy(counts: AbCounts, stories: list[str], weights: np.ndarray, level: float) -> dict | None:
    def per_story(hits: list[tuple[str, int, int]]) -> tuple[np.ndarray, np.ndarray]:
        index = {s: i for i, s in enumerate(stories)}
        total, correct = np.zeros(len(stories)), np.zeros(len(stories))
        for story, n, ok in hits:
            total[index[story]], correct[index[story]] = n, ok
        return correct, total

    if not counts.a.topic_hits:
        return None
    a = accuracy_replicates(*per_story(counts.a.topic_hits), weights)
    b = accuracy_replicates(*per_story(counts.b.topic_hits), weights)
    return {**_paired(a, b, level), "n_articles": sum(n for _, n, _ in counts.a.topic_hits)}


def _story_stats(variant: VariantCounts) -> dict:
    sizes = np.array(variant.story_sizes or [0])
    return {
        "n_stories": len(variant.story_sizes),
        "n_articles": int(sizes.sum()),
        "singletons": round(float(np.mean(sizes == 1)), 4),
        "size_p50": round(float(np.percentile(sizes, 50)), 1),
        "size_p90": round(float(np.percentile(sizes, 90)), 1),
        "size_p99": round(float(np.percentile(sizes, 99)), 1),
        "size_max": int(sizes.max()),
        "id_churn": variant.metrics.get("id_churn"),
        "merged_fraction": variant.metrics.get("merged_fraction"),
        "sizes": variant.story_sizes,
    }


def _most_split(cross: list[tuple[str, str, int, str]], side: int, top_k: int) -> list[dict]:
    """The stories of one side whose same-story pairs the other side separates most, with the parts' example titles."""
    parts: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for cell in cross:
        parts[cell[side]].append((cell[2], cell[1 - side], cell[3]))
    rows = []
    for story, pieces in parts.items():
        size = sum(n for n, _, _ in pieces)
        split_pairs = size * (size - 1) // 2 - sum(n * (n - 1) // 2 for n, _, _ in pieces)
        if split_pairs:
            pieces.sort(key=lambda p: (-p[0], p[1]))
            rows.append(
                {
                    "story": story,
                    "size": size,
                    "pairs_split": split_pairs,
                    "n_parts": len(pieces),
                    "parts": [{"story": other, "size": n, "example_title": title} for n, other, title in pieces[:4]],
                }
            )
    rows.sort(key=lambda r: (-r["pairs_split"], r["story"]))
    return rows[:top_k]


def _topic_changes(counts: AbCounts) -> dict:
    """Per A topic: how many articles B tags differently and where they go; per true topic: each side's accuracy."""
    by_a: dict[str, Counter] = defaultdict(Counter)
    by_truth: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for truth, a, b, n in counts.topics:
        by_a[a][b] += n
        if truth != NO_TOPIC:
            by_truth[truth][0] += n
            by_truth[truth][1] += n * (a == truth)
            by_truth[truth][2] += n * (b == truth)
    name = lambda code: counts.topic_names.get(code, code or "(no topic)")  # noqa: E731
    per_class = []
    for a, targets in sorted(by_a.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        total = sum(targets.values())
        moved = sorted(((b, n) for b, n in targets.items() if b != a), key=lambda x: (-x[1], x[0]))
        per_class.append(
            {
                "topic": a,
                "label": name(a),
                "n": total,
                "changed": sum(n for _, n in moved),
                "to": [{"topic": b, "label": name(b), "n": n} for b, n in moved[:3]],
            }
        )
    per_true = [
        {"topic": t, "label": name(t), "n": n, "accuracy_a": round(ok_a / n, 4), "accuracy_b": round(ok_b / n, 4)}
        for t, (n, ok_a, ok_b) in sorted(by_truth.items())
    ]
    return {"by_a_topic": per_class, "by_true_topic": per_true}
