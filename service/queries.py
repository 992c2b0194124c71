"""Read-side queries over the view: story lists, one story, articles, trends, map points.

"Now" is the view's clock (the newest published_at it holds), so a replayed
archive trends as it did when it was live. The trending score of a story is
its members' sum of exp(-age / 6 h); an entity's or topic's velocity is its
article count in the last 24 h against its own rate over the 72 h before,
(recent + 1) / (baseline * 24 / 72 + 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from replay.times import rfc3339
from service.store import Store

TREND_HALF_LIFE_S = 6 * 3600.0
RECENT_S = 24 * 3600.0
BASELINE_S = 72 * 3600.0
SPARK_BUCKETS = 12
SPARK_BUCKET_S = 4 * 3600.0
SORTS = ("trending", "recency", "size")
STATUSES = ("active", "merged", "retired", "any")


class NotFound(LookupError):
    """An unknown story or article id."""


@dataclass(frozen=True)
class StoryFilter:
    topic_codes: tuple[str, ...] = ()  # a code and its descendants
    entity: str | None = None
    text: str | None = None
    since: float | None = None
    until: float | None = None
    status: str = "active"
    sort: str = "trending"
    limit: int = 20
    offset: int = 0


def _trend(now: float, published_at: float | None) -> float:
    return 0.0 if published_at is None or published_at > now else math.exp(-(now - published_at) / TREND_HALF_LIFE_S)


def view_now(store: Store) -> float:
    row = store.one("SELECT MAX(published_at) AS t FROM articles")
    return float(row["t"]) if row and row["t"] is not None else 0.0


def list_stories(store: Store, f: StoryFilter) -> dict:
    """One page of stories matching the filter, with the total and the view's clock."""
    now = view_now(store)
    where, params = ["s.deleted = 0"], []
    if f.status != "any":
        where.append("s.status = ?")
        params.append(f.status)
    if f.topic_codes:
        where.append(
            f"s.id IN (SELECT a.story_id FROM articles a JOIN article_topics t ON t.article_id = a.id WHERE t.code IN ({','.join('?' * len(f.topic_codes))}))"
        )
        params.extend(f.topic_codes)
    if f.entity:
        where.append("s.id IN (SELECT a.story_id FROM articles a JOIN article_entities e ON e.article_id = a.id WHERE e.name = ? COLLATE NOCASE)")
        params.append(f.entity)
    if f.text:
        where.append("(s.search LIKE ? OR s.id IN (SELECT story_id FROM articles WHERE title LIKE ?))")
        params.extend([f"%{f.text.lower()}%", f"%{f.text}%"])
    if f.since is not None:
        where.append("s.last_seen >= ?")
        params.append(f.since)
    if f.until is not None:
        where.append("s.first_seen <= ?")
        params.append(f.until)
    order = {"trending": "trend DESC, s.last_seen DESC", "recency": "s.last_seen DESC", "size": "s.size DESC, s.last_seen DESC"}[f.sort]
    db = store.connection()
    db.create_function("trend", 1, lambda t: _trend(now, t), deterministic=True)
    clause = " AND ".join(where)
    total = db.execute(f"SELECT COUNT(*) FROM stories s WHERE {clause}", params).fetchone()[0]
    rows = db.execute(
        f"SELECT s.*, COALESCE(t.trend, 0) AS trend FROM stories s "
        f"LEFT JOIN (SELECT story_id, SUM(trend(published_at)) AS trend FROM articles WHERE published_at >= ? GROUP BY story_id) t "
        f"ON t.story_id = s.id WHERE {clause} ORDER BY {order}, s.id LIMIT ? OFFSET ?",
        [now - 8 * TREND_HALF_LIFE_S, *params, f.limit, f.offset],
    ).fetchall()
    sparks = _sparklines(store, [r["id"] for r in rows], now)
    return {
        "total": total,
        "now": _iso(now),
        "offset": f.offset,
        "limit": f.limit,
        "items": [_summary(r, sparks.get(r["id"], [0] * SPARK_BUCKETS)) for r in rows],
    }


def _sparklines(store: Store, ids: list[str], now: float) -> dict[str, list[int]]:
    """Member counts per 4 h over the last 48 h of the view's clock, oldest first."""
    if not ids:
        return {}
    start = now - SPARK_BUCKETS * SPARK_BUCKET_S
    rows = store.query(
        f"SELECT story_id, MIN(CAST((published_at - ?) / ? AS INTEGER), {SPARK_BUCKETS - 1}) AS b, COUNT(*) AS n FROM articles "
        f"WHERE story_id IN ({','.join('?' * len(ids))}) AND published_at > ? GROUP BY story_id, b",
        [start, SPARK_BUCKET_S, *ids, start],
    )
    sparks = {i: [0] * SPARK_BUCKETS for i in ids}
    for row in rows:
        sparks[row["story_id"]][row["b"]] += row["n"]
    return sparks


def _summary(row, sparkline: list[int]) -> dict:
    record = json.loads(row["record"])
    return {
        "id": row["id"],
        "version": row["version"],
        "status": row["status"],
        "merged_into": row["merged_into"],
        "size": row["size"],
        "first_seen": record.get("first_seen"),
        "last_seen": record.get("last_seen"),
        "title": row["title"],
        "entities": record.get("top_entities", []),
        "topics": record.get("top_topics", []),
        "keywords": record.get("keywords", []),
        "trending": round(float(row["trend"]), 4) if "trend" in row.keys() else None,
        "sparkline": sparkline,
    }


def resolve_story(store: Store, story_id: str) -> tuple[str, list[str]]:
    """The id that answers for `story_id`: itself, or the survivor its merges lead to (with the chain walked)."""
    chain = [story_id]
    while True:
        row = store.one("SELECT status, merged_into, deleted FROM stories WHERE id = ?", (chain[-1],))
        survivor = row["merged_into"] if row is not None else None
        if row is None and len(chain) == 1:
            edge = store.one("SELECT story_id FROM lineage WHERE parent_id = ? AND kind = 'merged'", (story_id,))
            survivor = edge["story_id"] if edge else None
            if survivor is None:
                raise NotFound(f"no story {story_id!r}")
        if survivor is None or survivor in chain:
            if row is not None and row["deleted"] and len(chain) == 1:
                raise NotFound(f"story {story_id!r} ended and was deleted")
            return chain[-1], chain
        chain.append(survivor)


def story_detail(store: Store, story_id: str, follow: bool = True, members_limit: int = 200) -> dict:
    """One story: its summary, members, timeline, top entities/topics/keywords and lineage both ways."""
    resolved, chain = resolve_story(store, story_id) if follow else (story_id, [story_id])
    row = store.one("SELECT * FROM stories WHERE id = ? AND deleted = 0", (resolved,))
    if row is None:
        raise NotFound(f"no story {resolved!r}")
    now = view_now(store)
    detail = _summary(row, _sparklines(store, [resolved], now)[resolved])
    members = store.query(
        "SELECT id, version, published_at, title FROM articles WHERE story_id = ? ORDER BY published_at, id LIMIT ?", (resolved, members_limit)
    )
    detail["members"] = [{"id": m["id"], "version": m["version"], "published_at": _iso(m["published_at"]), "title": m["title"]} for m in members]
    detail["member_count"] = store.one("SELECT COUNT(*) AS n FROM articles WHERE story_id = ?", (resolved,))["n"]
    detail["timeline"] = _timeline(store, resolved)
    detail["top_entities"] = [
        dict(r)
        for r in store.query(
            "SELECT e.name, MAX(e.label) AS label, COUNT(DISTINCT e.article_id) AS articles FROM article_entities e "
            "JOIN articles a ON a.id = e.article_id WHERE a.story_id = ? GROUP BY e.name ORDER BY articles DESC, e.name LIMIT 10",
            (resolved,),
        )
    ]
    detail["top_topics"] = [
        dict(r)
        for r in store.query(
            "SELECT t.code, MAX(t.label) AS label, COUNT(*) AS articles FROM article_topics t JOIN articles a ON a.id = t.article_id "
            "WHERE a.story_id = ? AND t.direct = 1 GROUP BY t.code ORDER BY articles DESC, t.code LIMIT 10",
            (resolved,),
        )
    ]
    detail["lineage"] = lineage(store, resolved)
    if resolved != story_id:
        detail["resolved_from"] = story_id
        detail["merge_chain"] = chain
    return detail


def _timeline(store: Store, story_id: str) -> dict:
    """Members per hour of publication, and every published version of the story record."""
    hours = store.query(
        "SELECT CAST(published_at / 3600 AS INTEGER) * 3600 AS hour, COUNT(*) AS n FROM articles WHERE story_id = ? GROUP BY hour ORDER BY hour", (story_id,)
    )
    versions = store.query("SELECT version, status, size, last_seen, merged_into FROM story_versions WHERE id = ? ORDER BY version", (story_id,))
    return {
        "articles_per_hour": [{"hour": _iso(h["hour"]), "articles": h["n"]} for h in hours],
        "versions": [
            {"version": v["version"], "status": v["status"], "size": v["size"], "last_seen": _iso(v["last_seen"]), "merged_into": v["merged_into"]}
            for v in versions
        ],
    }


def lineage(store: Store, story_id: str) -> dict:
    """Where a story came from and where it went: merged into, merged from, split from, split into."""
    row = store.one("SELECT merged_into FROM stories WHERE id = ?", (story_id,))
    edges_in = store.query("SELECT parent_id, kind FROM lineage WHERE story_id = ? ORDER BY parent_id", (story_id,))
    edges_out = store.query("SELECT story_id, kind FROM lineage WHERE parent_id = ? ORDER BY story_id", (story_id,))
    return {
        "merged_into": row["merged_into"] if row else None,
        "merged_from": [e["parent_id"] for e in edges_in if e["kind"] == "merged"],
        "split_from": [e["parent_id"] for e in edges_in if e["kind"] == "split"],
        "split_into": [e["story_id"] for e in edges_out if e["kind"] == "split"],
    }


def article_detail(store: Store, article_id: str) -> dict:
    row = store.one("SELECT record FROM articles WHERE id = ?", (article_id,))
    if row is None:
        raise NotFound(f"no article {article_id!r}")
    return json.loads(row["record"])


def article_titles(store: Store, ids: list[str]) -> dict[str, dict]:
    """id -> {title, story_id, published_at} for the given articles (missing ids left out)."""
    if not ids:
        return {}
    rows = store.query(f"SELECT id, title, story_id, published_at FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)
    return {r["id"]: {"title": r["title"], "story_id": r["story_id"], "published_at": _iso(r["published_at"])} for r in rows}


def trending(store: Store, what: str, limit: int) -> dict:
    """Entities or topics ranked by velocity: recent count against their own baseline rate."""
    now = view_now(store)
    recent_from, baseline_from = now - RECENT_S, now - RECENT_S - BASELINE_S
    table, column, condition = ("article_entities", "name", "1") if what == "entities" else ("article_topics", "code", "x.direct = 1")
    rows = store.query(
        f"SELECT x.{column} AS key, MAX(x.label) AS label, SUM(a.published_at > ?) AS recent, SUM(a.published_at <= ?) AS baseline "
        f"FROM {table} x JOIN articles a ON a.id = x.article_id WHERE a.published_at > ? AND {condition} GROUP BY x.{column}",
        (recent_from, recent_from, baseline_from),
    )
    ranked = []
    for r in rows:
        if r["recent"] < 2:
            continue
        velocity = (r["recent"] + 1) / (r["baseline"] * RECENT_S / BASELINE_S + 1)
        ranked.append(
            {
                "entity" if what == "entities" else "topic": r["key"],
                "label": r["label"],
                "recent": r["recent"],
                "baseline": r["baseline"],
                "velocity": round(velocity, 3),
            }
        )
    ranked.sort(key=lambda x: (-x["velocity"], -x["recent"]))
    return {"now": _iso(now), "recent_hours": RECENT_S / 3600, "baseline_hours": BASELINE_S / 3600, "items": ranked[:limit]}


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return rfc3339(seconds, timespec="auto")
