"""Scoring a replay from its outputs: quality, story-ID stability, and a picture of the stream.

Works on the plain records a run wrote (tags and stories as dicts), so it
scores any run the same way, whatever produced it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from replay.quality import score_clustering
from replay.times import epoch_seconds, utc_datetime


@dataclass(frozen=True)
class Stability:
    id_churn: float  # share of articles whose story changed after first assignment, merges excepted
    merged_fraction: float  # share of articles whose story was merged into another

    def to_json(self) -> dict:
        return asdict(self)


def resolve(story_id: str, merged_into: Mapping[str, str]) -> str:
    """Follow merged_into links to the surviving story."""
    seen = set()
    while story_id in merged_into and story_id not in seen:
        seen.add(story_id)
        story_id = merged_into[story_id]
    return story_id


def story_assignments(tag_records: Iterable[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(first story id, latest story id) per article, by tag version."""
    first: dict[str, tuple[int, str]] = {}
    last: dict[str, tuple[int, str]] = {}
    for record in tag_records:
        key, entry = record["id"], (record["version"], record["story"]["id"])
        if key not in first or entry[0] < first[key][0]:
            first[key] = entry
        if key not in last or entry[0] >= last[key][0]:
            last[key] = entry
    return {k: v[1] for k, v in first.items()}, {k: v[1] for k, v in last.items()}


def stability(tag_records: Iterable[dict[str, Any]], story_records: list[dict[str, Any]]) -> tuple[Stability, dict[str, str]]:
    """ID churn and merged fraction, and the final (merge-resolved) story of every article."""
    merged_into = {s["cluster_id"]: s["merged_into"] for s in story_records if s.get("merged_into")}
    first, last = story_assignments(tag_records)
    final = {a: resolve(s, merged_into) for a, s in last.items()}
    merged = sum(1 for a, s in first.items() if resolve(s, merged_into) != s)
    churned = sum(1 for a, s in first.items() if resolve(s, merged_into) != final[a])
    n = len(first) or 1
    return Stability(round(churned / n, 4), round(merged / n, 4)), final


def weekly_f1(final: Mapping[str, str], labels: Mapping[str, str], published: Mapping[str, float]) -> dict[str, float]:
    """BCubed F1 per ISO week of published_at, so drift over a long replay is visible."""
    weeks: dict[str, list[str]] = defaultdict(list)
    for article_id in labels:
        if article_id in final and article_id in published:
            day = utc_datetime(published[article_id])
            weeks[f"{day.isocalendar().year}-W{day.isocalendar().week:02d}"].append(article_id)
    return {week: score_clustering({i: final[i] for i in ids}, {i: labels[i] for i in ids}).bcubed_f1 for week, ids in sorted(weeks.items())}


def top_topic(tag_record: Mapping[str, Any]) -> tuple[str, str] | None:
    """(code, label) of a tag record's highest-scoring level-1 topic (ties: smallest code); None without one."""
    level1 = [t for t in tag_record.get("topics", ()) if t.get("level") == 1]
    if not level1:
        return None
    best = min(level1, key=lambda t: (-t["score"], t["code"]))
    return best["code"], best["label"]


def plot_stream(story_records: list[dict[str, Any]], final: Mapping[str, str], path: Path, title: str = "") -> None:
    """Story sizes (log histogram) and story births/merges per hour of event time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(Counter(final.values()).values())
    births, merges = [], []
    seen: set[str] = set()
    for story in story_records:
        if story["cluster_id"] not in seen:
            seen.add(story["cluster_id"])
            births.append(epoch_seconds(story["first_seen"]))
        if story["status"] == "merged":
            merges.append(epoch_seconds(story["last_seen"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    left.hist(sizes, bins=min(50, max(5, len(set(sizes)))), log=True, color="#4c72b0")
    left.set(xlabel="articles per story (final)", ylabel="stories (log)", title=f"{len(sizes)} stories")
    for times, label, color in ((births, "stories opened", "#4c72b0"), (merges, f"stories merged ({len(set(merges))})", "#dd8452")):
        times = sorted(times)
        right.step([utc_datetime(t) for t in times], range(1, len(times) + 1), where="post", label=label, color=color)
    right.set(ylabel="cumulative count", title="story births and merges over event time")
    right.tick_params(axis="x", labelrotation=30, labelsize=8)
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
