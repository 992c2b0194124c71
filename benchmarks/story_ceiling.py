"""How well can any online clusterer do on the UCI jitter protocol with these inputs? An oracle bound.

    .venv/bin/python benchmarks/story_ceiling.py [--days 14] [--train-since 2014-04-01 --train-days 15] [--encoder DIR] [--embedding-cache FILE]

Every article is compared with the gold stories of its 40 nearest earlier
articles (72 h), each story built from its true earlier members only, so no
earlier mistake compounds. Reported, on the evaluation slice (first N days):
- `top1`: how often the true story ranks first, by cosine to its centroid, by
  cosine and time, and by a gradient-boosted ranker over cosine, time, size,
  entity and title-word overlap and nearest-member evidence trained on the
  training slice (disjoint days);
- `oracle_bcubed`: BCubed of the clustering where every story opens exactly at
  its true first article (an oracle join-or-new decision) and every other
  article joins the ranker's first choice.
A real online clusterer has neither the true history nor the oracle, so its F1
sits below `oracle_bcubed` for the same inputs (headline embeddings, entities,
time). Prints JSON.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import UCI, emit, require_dev_data  # noqa: E402
from clustering.story import Story, StoryDoc, title_terms  # noqa: E402
from replay.protocols import plan_replay  # noqa: E402
from replay.quality import bcubed  # noqa: E402
from replay.readers import read_uci  # noqa: E402
from replay.times import utc_day  # noqa: E402

HOUR = 3600.0
WINDOW_HOURS = 72.0
NEIGHBOURS = 40
FEATURES = ("cosine", "dt2_days", "abs_dt_days", "span_gap_days", "log_size", "entity_overlap", "term_overlap", "nearest_member", "votes_of_10")


def load_slice(days: int, since: str | None) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """(titles, published_at seconds, labels, ids) of a jittered slice (seed 1): the first `days` days from `since`."""
    records = list(read_uci(UCI))
    if since is not None:
        last = (date.fromisoformat(since) + timedelta(days=days)).isoformat()
        records = [r for r in records if since <= utc_day(r.parsed["published_at"] / 1000) < last]
    plan = plan_replay(records, "jitter", seed=1, days=days)
    rows = [(records[s.position].parsed, s.published_at / 1000.0) for s in plan]
    return [p["title"] for p, _ in rows], np.array([t for _, t in rows]), [str(p["story"]) for p, _ in rows], [str(p["id"]) for p, _ in rows]


def nearest_earlier(vectors: np.ndarray, published: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosines of each article's NEIGHBOURS most similar earlier articles within the window (-1: none)."""
    n = len(vectors)
    index, cosine = np.full((n, NEIGHBOURS), -1), np.zeros((n, NEIGHBOURS), dtype=np.float32)
    for start in range(0, n, 1024):
        stop = min(n, start + 1024)
        first = int(np.searchsorted(published, published[start] - WINDOW_HOURS * HOUR))
        sims = vectors[start:stop] @ vectors[first:stop].T
        for row in range(stop - start):
            sims[row, start + row - first :] = -9.0  # itself and later articles
            sims[row, : int(np.searchsorted(published, published[start + row] - WINDOW_HOURS * HOUR)) - first] = -9.0
        k = min(NEIGHBOURS, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1)
        top = np.take_along_axis(top, order, 1)
        index[start:stop, :k] = np.where(np.take_along_axis(sims, top, 1) > -9.0, top + first, -1)
        cosine[start:stop, :k] = np.take_along_axis(sims, top, 1)
    return index, cosine


def teacher_forced(docs: list[StoryDoc], labels: list[str], neighbours: tuple[np.ndarray, np.ndarray]):
    """Yield (article index, candidate labels, feature matrix or None) with gold stories built from true members only."""
    stories: dict[str, Story] = {}
    time_sum: Counter = Counter()
    index, cosine = neighbours
    for i, doc in enumerate(docs):
        near = index[i][index[i] >= 0]
        near_labels = [labels[j] for j in near]
        candidates = list(dict.fromkeys(near_labels))
        features = None
        if candidates:
            features = _features(doc, [stories[c] for c in candidates], [time_sum[c] for c in candidates], near_labels, cosine[i][: len(near)])
        yield i, candidates, features
        story = stories.setdefault(labels[i], Story(labels[i], doc.published_at, doc.published_at, np.zeros_like(doc.vector)))
        story.add(doc)
        time_sum[labels[i]] += doc.published_at


def _features(doc: StoryDoc, stories: list[Story], time_sums: list[float], near_labels: list[str], near_cosine: np.ndarray) -> np.ndarray:
    terms, entities = set(title_terms(doc.title)), set(doc.entities)
    nearest: dict[str, float] = {}
    for label, c in zip(near_labels, near_cosine):
        nearest.setdefault(label, float(c))
    votes = Counter(near_labels[:10])
    rows = []
    for story, time_sum in zip(stories, time_sums):
        dt = (doc.published_at - time_sum / story.size) / (24 * HOUR)
        gap = max(0.0, story.first_seen - doc.published_at, doc.published_at - story.last_seen) / (24 * HOUR)
        rows.append(
            [
                float(story.centroid @ doc.vector),
                dt * dt,
                abs(dt),
                gap,
                math.log(story.size),
                _share(entities, story),
                _share(terms, story, terms=True),
                nearest[story.story_id],
                votes[story.story_id] / 10,
            ]
        )
    return np.array(rows)


def _share(items: set[str], story: Story, terms: bool = False) -> float:
    counts = story.term_counts if terms else story.entity_counts
    return sum(min(1.0, counts.get(x, 0) / story.size) for x in items) / len(items) if items else 0.0


def embed_and_tag(titles: list[str], model: str | None, cache: str | None) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    from taggers import CachedEncoder, EntityTagger, SentenceEncoder

    encoder = CachedEncoder(SentenceEncoder(model), cache) if cache else SentenceEncoder(model)
    vectors = encoder.encode(titles)
    entities = [tuple(e.canonical for e in found) for found in EntityTagger().tag([(t, t) for t in titles])]
    return vectors, entities


def prepare(days: int, since: str | None, model: str | None, cache: str | None):
    titles, published, labels, ids = load_slice(days, since)
    vectors, entities = embed_and_tag(titles, model, cache)
    docs = [StoryDoc(i, v, t, title, e) for i, v, t, title, e in zip(ids, vectors, published, titles, entities)]
    return docs, labels, nearest_earlier(vectors, published)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=14, help="evaluation slice: the first N days (default: 14)")
    parser.add_argument("--train-since", default="2014-04-01", help="first day of the ranker's training slice")
    parser.add_argument("--train-days", type=int, default=15)
    parser.add_argument("--encoder", help="sentence-transformers model folder (default: all-MiniLM-L6-v2), e.g. from `storywire encoder finetune`")
    parser.add_argument("--embedding-cache", help="SQLite embedding cache (storywire's format)")
    args = parser.parse_args()
    require_dev_data()
    from sklearn.ensemble import HistGradientBoostingClassifier

    train_docs, train_labels, train_near = prepare(args.train_days, args.train_since, args.encoder, args.embedding_cache)
    seen_train = [(x, [c == train_labels[i] for c in cands]) for i, cands, x in teacher_forced(train_docs, train_labels, train_near) if cands]
    ranker = HistGradientBoostingClassifier(max_iter=300, random_state=0).fit(np.vstack([x for x, _ in seen_train]), np.concatenate([y for _, y in seen_train]))

    docs, labels, near = prepare(args.days, None, args.encoder, args.embedding_cache)
    rankers = {
        "cosine": lambda x: x[:, 0],
        "cosine_time": lambda x: x[:, 0] - 0.1 * x[:, 1],  # a Gaussian time prior around the story's mean time
        "learned": lambda x: ranker.predict_proba(x)[:, 1],
    }
    hits: dict[str, int] = defaultdict(int)
    ranked = 0
    assigned: dict[str, dict[str, str]] = {name: {} for name in rankers}
    opened = set()
    for i, candidates, x in teacher_forced(docs, labels, near):
        first = labels[i] not in opened
        opened.add(labels[i])
        ranked += not first
        for name, score in rankers.items():
            if first or not candidates:  # the oracle opens the true first article's story; nothing near: a story of its own
                assigned[name][docs[i].id] = labels[i] if first else f"alone-{i}"
                continue
            choice = candidates[int(np.argmax(score(x)))]
            hits[name] += choice == labels[i]
            assigned[name][docs[i].id] = choice
    truth = {d.id: label for d, label in zip(docs, labels)}
    oracle = {}
    for name in rankers:
        p, r, f = bcubed(assigned[name], truth)
        oracle[name] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}
    emit(
        {
            "encoder": args.encoder or "all-MiniLM-L6-v2",
            "eval_slice": {"days": args.days, "n_docs": len(docs), "n_labels": len(set(labels))},
            "train_slice": {"since": args.train_since, "days": args.train_days, "n_docs": len(train_docs), "n_pairs": int(sum(len(y) for _, y in seen_train))},
            "features": list(FEATURES),
            "top1": {name: round(hits[name] / max(1, ranked), 4) for name in rankers},
            "oracle_bcubed": oracle,
        }
    )


if __name__ == "__main__":
    main()
