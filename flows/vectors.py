"""The `article-vectors` output: each enriched article's embedding, compact (int8 and its scale).

One record per article version the flow embeds, keyed by article id:
`{"id", "content_hash", "published_at", "dtype": "int8", "scale", "vector"}`,
`vector` being base64 of the int8 components; component i is
`int8[i] * scale`. 384 dimensions take 384 bytes (512 in base64), against
1,536 as float32. Downstream (the story service) indexes them without
embedding the text again. On with `output.vectors = true`.
"""

from __future__ import annotations

import base64

import numpy as np

from flows.connectors import to_line
from flows.enrich import EnrichedArticle
from flows.schema import iso


def vector_record(item: EnrichedArticle) -> dict:
    vector = np.asarray(item.vector, dtype=np.float32)
    peak = float(np.max(np.abs(vector))) if vector.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    article = item.article
    return {
        "id": article.id,
        "content_hash": article.content_hash,
        "published_at": iso(article.published_at),
        "dtype": "int8",
        "scale": scale,
        "vector": base64.b64encode(np.round(vector / scale).astype(np.int8).tobytes()).decode("ascii"),
    }


def vector_line(item: EnrichedArticle) -> tuple[str, str]:
    """(key, JSON line) for a sink."""
    return item.article.id, to_line(vector_record(item))
