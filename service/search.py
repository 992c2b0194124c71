"""Vector questions: similar articles and `match` (which story new text would join).

`match` embeds the query text with the same encoder and backend as the
flow (the taggers package; loaded once, used for queries only), compares it with the
centroids of the live stories (mean of their members' vectors in the index)
and with the nearest articles. The score is the cosine to the centroid; at
or above `threshold` (a raw cosine, `serve --join-cosine`) the text
would join that story, below it would open a new one. The flow also weighs
entity overlap and time, which the service leaves out: NER would need spaCy
in the service.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from service.queries import article_titles
from service.view import View


class Encoder:
    """The flow's encoder backend (taggers), for query texts only; loaded on first use or by `warm_up`.

    One thread: a single headline gains nothing from intra-op parallelism,
    and on a small machine the requests, the ingest and the map share the cores.
    """

    def __init__(
        self, model: str | None = None, backend: str = "torch", cache_dir: str | None = None, threads: int = 1, static_model: str | None = None
    ) -> None:
        from taggers.backends import make_encoder

        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # the server's console: no weight-loading reports
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if backend == "torch":
            import torch

            torch.set_num_threads(threads)
        self._encoder = make_encoder(backend, model, cache_dir, threads=threads, static_model=static_model)
        self._lock = threading.Lock()

    def encode(self, text: str) -> np.ndarray:
        with self._lock:
            return self._encoder.encode([text])[0]

    def warm_up(self) -> None:
        self.encode("warm up")


def query_text(title: str, body: str | None, max_chars: int = 1000) -> str:
    """What the flow embeds for an article: title and body joined (models.embed_max_chars)."""
    parts = [p for p in (title, body) if p]
    return ". ".join(p.rstrip(". ") for p in parts)[:max_chars]


class Searcher:
    """Answers vector questions over the view's index and its story centroids."""

    def __init__(self, view: View, encoder: Encoder, threshold: float = 0.45) -> None:
        self.view = view
        self.encoder = encoder
        self.threshold = threshold
        self._cache: tuple[int, list[str], np.ndarray] | None = None
        self._lock = threading.Lock()

    def centroids(self) -> tuple[list[str], np.ndarray]:
        """Story ids with members in the window and their unit centroids, rebuilt when the view changes."""
        with self._lock:
            generation = self.view.generation
            if self._cache is None or self._cache[0] != generation:
                self._cache = (generation, *self.view.centroids.snapshot(self.view.index.dimension))
            return self._cache[1], self._cache[2]

    def similar_to_vector(self, vector: np.ndarray, k: int, exclude: str | None = None) -> list[dict]:
        neighbours = [n for n in self.view.index.search(vector, k + 1) if n.article_id != exclude][:k]
        titles = article_titles(self.view.store, [n.article_id for n in neighbours])
        return [{"id": n.article_id, "similarity": round(n.similarity, 4), **titles.get(n.article_id, {})} for n in neighbours]

    def match(self, title: str, body: str | None, k: int) -> dict:
        vector = self.encoder.encode(query_text(title, body))
        story_ids, matrix = self.centroids()
        candidates = []
        if story_ids:
            scores = matrix @ vector
            for i in np.argsort(-scores)[:5]:
                candidates.append({"story_id": story_ids[i], "score": round(float(scores[i]), 4)})
        best = candidates[0] if candidates else None
        joins = best is not None and best["score"] >= self.threshold
        return {
            "story_id": best["story_id"] if joins else None,
            "score": best["score"] if best else None,
            "would_join": joins,
            "threshold": self.threshold,
            "candidates": candidates,
            "nearest_articles": self.similar_to_vector(vector, k),
        }
