"""Article vectors: the compact wire format and the ANN index over the live window.

Wire format of an `article-vectors` record (written by the flow with
`output.vectors = true`): `{"id", "content_hash", "published_at", "dtype":
"int8", "scale", "vector"}` where `vector` is base64 of the int8 components
and component i is `int8[i] * scale` (the vector had unit length). 384
dimensions cost 384 bytes plus a float.

The index is usearch's HNSW (cosine, f16 storage); settings are the ones
`benchmarks/vector_index.py` chose. Articles leave it when they leave the
window or change story/version, so it covers what the board calls live.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass

import numpy as np
from usearch.index import Index

CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64
INDEX_DTYPE = "f16"


def dequantize(scale: float, data: bytes) -> np.ndarray:
    vector = np.frombuffer(data, dtype=np.int8).astype(np.float32) * scale
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def decode_record(record: dict) -> tuple[float, bytes]:
    """(scale, int8 bytes) of an `article-vectors` record; ValueError when it is not one."""
    if record.get("dtype") != "int8":
        raise ValueError(f"article vector {record.get('id')!r}: dtype {record.get('dtype')!r}, expected int8")
    try:
        return float(record["scale"]), base64.b64decode(record["vector"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"article vector {record.get('id')!r}: {exc}") from None


@dataclass(frozen=True)
class Neighbour:
    article_id: str
    similarity: float


class VectorIndex:
    """Article id -> vector, searchable by cosine; thread-safe (one lock around usearch)."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._index = Index(
            ndim=dimension, metric="cos", dtype=INDEX_DTYPE, connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH
        )
        self._keys: dict[str, int] = {}
        self._ids: dict[int, str] = {}
        self._next_key = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._keys

    def upsert(self, article_id: str, vector: np.ndarray) -> None:
        with self._lock:
            self._remove(article_id)
            key = self._next_key
            self._next_key += 1
            self._index.add(key, np.asarray(vector, dtype=np.float32))
            self._keys[article_id], self._ids[key] = key, article_id

    def remove(self, article_id: str) -> None:
        with self._lock:
            self._remove(article_id)

    def _remove(self, article_id: str) -> None:
        key = self._keys.pop(article_id, None)
        if key is not None:
            self._index.remove(key)
            del self._ids[key]

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._keys)

    def vector(self, article_id: str) -> np.ndarray | None:
        with self._lock:
            key = self._keys.get(article_id)
            return None if key is None else np.asarray(self._index.get(key), dtype=np.float32)

    def search(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        with self._lock:
            if not self._keys:
                return []
            matches = self._index.search(np.asarray(vector, dtype=np.float32), min(k, len(self._keys)))
            return [Neighbour(self._ids[int(key)], 1.0 - float(distance)) for key, distance in zip(matches.keys, matches.distances) if int(key) in self._ids]
