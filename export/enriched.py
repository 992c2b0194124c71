"""Precomputed enrichments as Parquet: what the distributed backfill writes and the flow replays instead of the models.

    BACKFILL/enriched/day=YYYY-MM-DD/*.parquet  one row per valid article of the replay
    BACKFILL/enriched/_models.json              the model versions that computed them (stamped on the tags)

Floats are kept exactly (float32 vectors, float64 scores), so a replay over
them makes the same decisions as one that runs the models.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from export.parquet import ENTITY
from taggers import Entity, Topic

ENRICHED_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),  # position among the replay's valid articles
        ("id", pa.string()),
        ("key", pa.string()),  # the enricher's text key (flows.enrich.Enricher.text_key)
        ("covered", pa.bool_()),  # the models cover the article's language
        ("vector", pa.list_(pa.float32())),
        ("entities", pa.list_(ENTITY)),
        (
            "topics",
            pa.list_(
                pa.struct(
                    [
                        ("code", pa.string()),
                        ("label", pa.string()),
                        ("level", pa.int32()),
                        ("score", pa.float64()),
                        ("ancestors", pa.list_(pa.string())),
                        ("evidence_json", pa.string()),
                    ]
                )
            ),
        ),
        ("day", pa.string()),  # UTC day of published_at
    ]
)


def enriched_row(
    seq: int, article_id: str, key: str, covered: bool, vector: np.ndarray, entities: tuple[Entity, ...], topics: tuple[Topic, ...], day: str
) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": article_id,
        "key": key,
        "covered": covered,
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
        "entities": [e.to_json() for e in entities],
        "topics": [
            {
                "code": t.code,
                "label": t.label,
                "level": t.level,
                "score": t.score,
                "ancestors": list(t.ancestors),
                "evidence_json": json.dumps(list(t.evidence)),
            }
            for t in topics
        ],
        "day": day,
    }


def from_row(row: dict[str, Any]) -> tuple[np.ndarray, tuple[Entity, ...], tuple[Topic, ...], bool]:
    """(vector, entities, topics, covered) exactly as the enricher computed them."""
    entities = tuple(Entity(**e) for e in row["entities"])
    topics = tuple(Topic(t["code"], t["label"], t["level"], t["score"], tuple(t["ancestors"]), tuple(json.loads(t["evidence_json"]))) for t in row["topics"])
    return np.asarray(row["vector"], dtype=np.float32), entities, topics, row["covered"]
