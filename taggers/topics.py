"""Zero-shot taxonomy topics: article embeddings against concept label+definition embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

import numpy as np

from taxonomy import Concept, Taxonomy


class Encoder(Protocol):
    version: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Topic:
    """A taxonomy concept assigned to an article, with its ancestors and why it was assigned."""

    code: str
    label: str
    level: int
    score: float
    ancestors: tuple[str, ...]
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "label": self.label,
            "level": self.level,
            "score": round(self.score, 4),
            "ancestors": list(self.ancestors),
            "evidence": self.evidence,
        }


def concept_text(concept: Concept) -> str:
    """What we embed for a concept: its label, aliases and definition."""
    names = ", ".join((concept.label, *concept.aliases))
    return f"{names}: {concept.definition}" if concept.definition else names


class ZeroShotTopicClassifier:
    """Hierarchical, multi-label zero-shot classifier over a taxonomy.

    Level 1 first; then, only under the chosen level-1 concepts, level 2. A
    concept scores the best cosine of itself and its embedded children (broad
    level-1 definitions match headlines poorly; their children say what they
    cover). At each level a concept is kept when its score is at least
    `thresholds[level]` and within `margin` of the best one, at most
    `max_per_level` of them.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        encoder: Encoder,
        levels: tuple[int, ...] = (1, 2),
        thresholds: Mapping[int, float] | None = None,
        margin: float = 0.04,
        max_per_level: int = 2,
    ) -> None:
        self.taxonomy = taxonomy
        self.encoder = encoder
        self.levels = levels
        self.thresholds = dict(thresholds or {1: 0.12, 2: 0.18})
        self.margin = margin
        self.max_per_level = max_per_level

    def fit(self) -> "ZeroShotTopicClassifier":
        """Embed the active concepts of the configured levels (once per process)."""
        concepts = [c for level in self.levels for c in self.taxonomy.at_level(level)]
        if not concepts:
            raise ValueError(f"taxonomy {self.taxonomy.name!r} has no active concepts at levels {self.levels}")
        self.codes_ = [c.code for c in concepts]
        self.index_ = {code: i for i, code in enumerate(self.codes_)}
        self.vectors_ = self.encoder.encode([concept_text(c) for c in concepts])
        self.evidence_codes_ = {
            code: [code] + [c.code for c in self.taxonomy.children(code) if c.code in self.index_] for code in self.codes_
        }
        return self

    @property
    def version(self) -> str:
        return f"zero-shot:{self.taxonomy.name}@levels{''.join(map(str, self.levels))}"

    def predict(self, vectors: np.ndarray) -> list[list[Topic]]:
        """Topics for each article vector (rows of unit length)."""
        scores = vectors @ self.vectors_.T
        return [self._topics_for(row) for row in scores]

    def _topics_for(self, row: np.ndarray) -> list[Topic]:
        chosen: list[Topic] = []
        candidates = [c.code for c in self.taxonomy.roots() if c.code in self.index_]
        for level in self.levels:
            picked = self._pick(row, candidates, self.thresholds.get(level, 0.0))
            chosen.extend(picked)
            candidates = [
                child.code for topic in picked for child in self.taxonomy.children(topic.code) if child.code in self.index_
            ]
            if not candidates:
                break
        return chosen

    def _pick(self, row: np.ndarray, codes: list[str], threshold: float) -> list[Topic]:
        scored = sorted((self._score(row, c) + (c,) for c in codes), reverse=True)
        if not scored:
            return []
        best = scored[0][0]
        kept = [x for x in scored if x[0] >= threshold and x[0] >= best - self.margin][: self.max_per_level]
        return [self._topic(code, score, matched) for score, matched, code in kept]

    def _score(self, row: np.ndarray, code: str) -> tuple[float, str]:
        """Best cosine among the concept and its embedded children, and which one it was."""
        return max((float(row[self.index_[c]]), c) for c in self.evidence_codes_[code])

    def _topic(self, code: str, score: float, matched: str) -> Topic:
        concept = self.taxonomy[code]
        return Topic(
            code=code,
            label=concept.label,
            level=concept.level,
            score=score,
            ancestors=tuple(a.code for a in self.taxonomy.ancestors(code)),
            evidence={"kind": "embedding", "score": round(score, 4), "matched": matched, "model": self.encoder.version},
        )
