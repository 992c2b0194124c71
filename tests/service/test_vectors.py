"""The article-vectors wire format: what the flow writes, the service reads back, and the index finds."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from flows.vectors import vector_line
from service.vectors import VectorIndex, decode_record, dequantize


def enriched(article_id: str, vector: np.ndarray) -> SimpleNamespace:
    article = SimpleNamespace(id=article_id, content_hash="abc123", published_at=1_772_000_000.0)
    return SimpleNamespace(article=article, vector=vector)


def test_int8_vectors_come_back_within_a_rounding_step():
    rng = np.random.default_rng(0)
    vector = rng.normal(size=384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    key, line = vector_line(enriched("a1", vector))
    record = json.loads(line)
    assert key == "a1" and record["dtype"] == "int8" and len(record["vector"]) == 512
    back = dequantize(*decode_record(record))
    assert float(back @ vector) > 0.9995


@pytest.mark.parametrize("broken", [{"dtype": "f32"}, {"vector": "not base64!"}, {"scale": None}])
def test_a_malformed_vector_record_is_refused(broken):
    record = json.loads(vector_line(enriched("a1", np.ones(4, dtype=np.float32) / 2))[1]) | broken
    with pytest.raises(ValueError):
        decode_record(record)


def test_the_index_finds_replaces_and_forgets_vectors():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(16)
    for i, v in enumerate(vectors):
        index.upsert(f"a{i}", v)
    assert index.search(vectors[7], 1)[0].article_id == "a7"
    index.upsert("a7", vectors[8])  # a new version moves it
    assert {n.article_id for n in index.search(vectors[8], 2)} == {"a7", "a8"}
    index.remove("a8")
    assert len(index) == 199 and "a8" not in {n.article_id for n in index.search(vectors[8], 5)}
