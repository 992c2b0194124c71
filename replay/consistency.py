"""What a consumer of storywire's outputs may rely on, checked over everything the topics hold.

Reads plain (key, value) records, as a consumer gets them from `article-tags`
and `story-clusters` (value None: a tombstone), and checks the promises of the
README's guarantees section:
- every input article has a tag record;
- no (key, version) carries two different contents, byte for byte;
- no story ID names two different stories: at most one article ever opened it
  (`story.is_new`);
- a consumer that keeps the highest version per key ends with every article in
  exactly one story that is live (`active`) once followed through `merged_into`.
It also counts what a consumer sees besides: re-deliveries, stories no article
belongs to, stories whose `size` disagrees with their articles, and articles
moved by re-clustering (evidence that it ran).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

Record = tuple[str | None, dict | None]


@dataclass
class ConsistencyReport:
    articles: int
    tag_records: int
    story_records: int
    redelivered: int  # tag records of an article beyond its first
    identical_redeliveries: int  # the same (key, version) with the same content again
    untagged: list[str] = field(default_factory=list)
    conflicting_versions: list[str] = field(default_factory=list)  # "topic key@version"
    ids_minted_twice: list[str] = field(default_factory=list)
    not_in_a_live_story: list[str] = field(default_factory=list)  # article -> where its story ends
    live_stories: int = 0
    moved_by_reclustering: int = 0  # tag records re-published because re-clustering merged or split their story
    stories_without_articles: int = 0  # live stories no article resolves to (orphans of a lost epoch)
    size_mismatches: int = 0  # live stories whose size is not the number of articles resolving to them

    @property
    def ok(self) -> bool:
        return not (self.untagged or self.conflicting_versions or self.ids_minted_twice or self.not_in_a_live_story)

    def to_json(self, examples: int = 5) -> dict:
        out = asdict(self)
        for name in ("untagged", "conflicting_versions", "ids_minted_twice", "not_in_a_live_story"):
            out[name] = {"count": len(out[name]), "examples": out[name][:examples]}
        out["ok"] = self.ok
        return out


def latest(records: Iterable[Record], key_field: str) -> dict[str, dict | None]:
    """Highest version per key; a tombstone deletes the key (what a compacted-topic consumer keeps)."""
    out: dict[str, dict | None] = {}
    for key, value in records:
        if value is None:
            out[key] = None
        elif out.get(value[key_field]) is None or value["version"] >= out[value[key_field]]["version"]:
            out[value[key_field]] = value
    return out


def check_outputs(article_ids: Iterable[str], tags: list[Record], stories: list[Record]) -> ConsistencyReport:
    """Check the topics' records against the guarantees (see the module docstring)."""
    articles = set(article_ids)
    bodies: dict[tuple[str, str, int], set[str]] = {}
    for topic, key_field, records in (("tags", "id", tags), ("stories", "cluster_id", stories)):
        for _, value in records:
            if value is not None:
                bodies.setdefault((topic, value[key_field], value["version"]), set()).add(json.dumps(value, sort_keys=True))
    per_article = Counter(value["id"] for _, value in tags if value is not None)
    deliveries = Counter(json.dumps(value, sort_keys=True) for _, value in tags if value is not None)
    openers: dict[str, set[str]] = {}
    for _, value in tags:
        if value is not None and value["story"].get("is_new"):
            openers.setdefault(value["story"]["id"], set()).add(value["id"])

    final_tags = latest(tags, "id")
    final_stories = latest(stories, "cluster_id")
    live = {k for k, v in final_stories.items() if v is not None and v["status"] == "active"}
    members: Counter = Counter()
    lost = []
    for article_id in sorted(articles & set(final_tags)):
        story_id, hops = final_tags[article_id]["story"]["id"], 0
        while story_id not in live and final_stories.get(story_id) and final_stories[story_id]["merged_into"] and hops < 100:
            story_id, hops = final_stories[story_id]["merged_into"], hops + 1
        if story_id in live:
            members[story_id] += 1
        else:
            state = final_stories.get(story_id)
            lost.append(f"{article_id} -> {story_id} ({'deleted or never published' if state is None else state['status']})")
    return ConsistencyReport(
        articles=len(articles),
        tag_records=sum(per_article.values()),
        story_records=sum(1 for _, v in stories if v is not None),
        redelivered=sum(n - 1 for n in per_article.values()),
        identical_redeliveries=sum(n - 1 for n in deliveries.values()),
        untagged=sorted(articles - set(per_article)),
        conflicting_versions=sorted(f"{t} {k}@{v}" for (t, k, v), b in bodies.items() if len(b) > 1),
        ids_minted_twice=sorted(f"{s}: opened by {sorted(a)}" for s, a in openers.items() if len(a) > 1),
        not_in_a_live_story=lost,
        live_stories=len(live),
        moved_by_reclustering=sum(1 for _, v in tags if v is not None and {"story-merged", "story-split"} & set(v.get("flags", ()))),
        stories_without_articles=sum(1 for s in live if not members[s]),
        size_mismatches=sum(1 for s in live if members[s] and final_stories[s]["size"] != members[s]),
    )
