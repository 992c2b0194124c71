"""Reading a run's outputs back: final story per article, story table, counts, quality; what `demo`, `replay`
and `run` print when the flow ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from flows import monitoring
from flows.config import RunConfig
from flows.runner import ScaleOptions, run
from replay import ClusteringScores, read_outputs, score_clustering


def latest_by(records: Iterator[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Keep the highest version per key: what a consumer that dedupes by (key, version) sees.

    Tombstones are skipped: they delete a story from the compacted topic after
    its final record, which is what the summary reports.
    """
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("tombstone"):
            continue
        current = latest.get(record[key])
        if current is None or record["version"] >= current["version"]:
            latest[record[key]] = record
    return latest


@dataclass
class RunSummary:
    n_input: int
    tags: dict[str, dict[str, Any]]  # article id -> latest tags
    stories: dict[str, dict[str, Any]]  # cluster id -> latest story record
    dead_letters: list[dict[str, Any]]
    scores: ClusteringScores | None = None

    @classmethod
    def from_outputs(cls, directory: str | Path, n_input: int, labels: dict[str, str] | None = None) -> "RunSummary":
        directory = Path(directory)
        tags = latest_by(read_outputs(directory / "tags.jsonl"), "id")
        stories = latest_by(read_outputs(directory / "stories.jsonl"), "cluster_id")
        dead = list(read_outputs(directory / "dead-letters.jsonl"))
        summary = cls(n_input, tags, stories, dead)
        if labels:
            summary.scores = score_clustering({aid: resolve(t["story"]["id"], stories) for aid, t in tags.items()}, labels)
        return summary

    @property
    def n_tagged(self) -> int:
        return len(self.tags)

    @property
    def n_duplicates(self) -> int:
        """Input records that produced neither tags nor a dead letter: identical re-deliveries."""
        return self.n_input - self.n_tagged - len(self.dead_letters)

    def top_stories(self, k: int = 10) -> list[dict[str, Any]]:
        live = [s for s in self.stories.values() if s["status"] != "merged"]
        return sorted(live, key=lambda s: (-s["size"], s["cluster_id"]))[:k]

    def render(self, k: int = 10) -> str:
        counts = {}
        for story in self.stories.values():
            counts[story["status"]] = counts.get(story["status"], 0) + 1
        lines = [
            f"articles in: {self.n_input}  tagged: {self.n_tagged}  dead-lettered: {len(self.dead_letters)}  duplicates ignored: {self.n_duplicates}",
            "stories: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
        ]
        if self.scores is not None:
            s = self.scores
            lines.append(
                f"quality vs labels: BCubed F1 {s.bcubed_f1:.3f} (precision {s.bcubed_precision:.3f}, recall "
                f"{s.bcubed_recall:.3f}), ARI {s.ari:.3f}, AMI {s.ami:.3f}; {s.n_docs} articles, {s.n_labels} events, "
                f"{s.n_stories} stories"
            )
        lines.append("")
        lines.append(f"top {k} stories:")
        for story in self.top_stories(k):
            lines.append(f"  {story['cluster_id']}  size {story['size']:>3}  {story['representative_title']}")
            lines.append(f"      entities: {', '.join(story['top_entities'][:5]) or '-'}")
            lines.append(f"      topics:   {', '.join(story['top_topics'][:3]) or '-'}")
        if self.dead_letters:
            lines.append("")
            lines.append("dead letters:")
            for d in self.dead_letters:
                lines.append(f"  {d['origin']} line {d['position']}: {d['reason']}")
        return "\n".join(lines)


def resolve(story_id: str, stories: dict[str, dict[str, Any]]) -> str:
    """Follow merged_into links to the story that absorbed this one."""
    seen = set()
    while story_id in stories and stories[story_id].get("merged_into") and story_id not in seen:
        seen.add(story_id)
        story_id = stories[story_id]["merged_into"]
    return story_id


def replay_and_report(config: RunConfig, scale: ScaleOptions = ScaleOptions()) -> str:
    """Run the flow (`demo`, `replay`, `run`) and say what it did: the summary of its output files, or, in the
    other processes of a cluster and with Kafka outputs, what this process did."""
    archive = run(config, scale)
    if archive is None or config.output.kind != "file":
        return other_process_report(scale)
    summary = RunSummary.from_outputs(config.output.directory, len(archive), archive.labels())
    lines = [summary.render(), *clustering_cost_lines(), f"\noutputs in {config.output.directory}/: tags.jsonl, stories.jsonl, dead-letters.jsonl"]
    return "\n".join(lines)


def clustering_cost_lines() -> list[str]:
    """What clustering cost per article in this process: the ceiling of a shard, which lives on one worker."""
    ms = monitoring.cluster_ms_per_article()
    if ms is None:
        return []
    return [f"clustering: {ms:.2f} ms per article on one worker (the shard's ceiling: ~{1000 / max(ms, 1e-6):,.0f} articles/s)"]


def other_process_report(scale: ScaleOptions) -> str:
    """What a process other than process 0 says when done (nothing in a single process)."""
    if scale.primary:
        return ""
    return "\n".join([f"{scale.label()}: done; process 0 read the input and wrote the outputs", *clustering_cost_lines()])
