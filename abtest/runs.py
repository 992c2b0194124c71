"""One run's outputs as the A/B report reads them: final story, title and top topic per article, and its metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from replay.output_scores import stability, top_topic
from replay.readers import read_outputs


@dataclass(frozen=True)
class RunView:
    final: dict[str, str]  # article id -> final (merge-resolved) story
    titles: dict[str, str]  # article id -> title of its latest version
    topics: dict[str, str | None]  # article id -> code of its latest version's top level-1 topic
    topic_names: dict[str, str]  # topic code -> label
    metrics: dict  # metrics.json of the run ({} when absent)

    @classmethod
    def from_dir(cls, directory: Path) -> "RunView":
        """Read DIR/tags.jsonl, DIR/stories.jsonl and DIR/metrics.json as `storywire eval` wrote them."""
        directory = Path(directory)
        if not (directory / "tags.jsonl").exists():
            raise FileNotFoundError(f"{directory}/tags.jsonl does not exist: not a run's output folder")
        tags = list(read_outputs(directory / "tags.jsonl"))
        stories = list(read_outputs(directory / "stories.jsonl"))
        _, final = stability(tags, [s for s in stories if not s.get("tombstone")])
        latest: dict[str, dict] = {}
        for tag in tags:
            if tag["id"] not in latest or tag["version"] >= latest[tag["id"]]["version"]:
                latest[tag["id"]] = tag
        topics, names = {}, {}
        for article, tag in latest.items():
            best = top_topic(tag)
            topics[article] = best[0] if best else None
            if best:
                names[best[0]] = best[1]
        metrics_path = directory / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        return cls(final, {a: t.get("title") or "" for a, t in latest.items()}, topics, names, metrics)
