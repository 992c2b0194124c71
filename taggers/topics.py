"""Zero-shot taxonomy topics: article embeddings against concept label+definition embeddings."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    evidence: tuple[dict, ...] = ()  # why: rule spans, embedding scores, head probabilities

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "label": self.label,
            "level": self.level,
            "score": round(self.score, 4),
            "ancestors": list(self.ancestors),
            "evidence": list(self.evidence),
        }


def topic_for(taxonomy: Taxonomy, code: str, score: float, evidence: tuple[dict, ...]) -> Topic:
    """The topic for a concept of `taxonomy`, with its ancestors (root first) and the evidence for it."""
    concept = taxonomy[code]
    return Topic(code, concept.label, concept.level, score, tuple(a.code for a in taxonomy.ancestors(code)), evidence)


def concept_texts(concept: Concept) -> list[str]:
    """What we embed for a concept: its label with its definition, its label, and each alias on its own.

    Headlines are short: one alias ("box office", "Federal Reserve") matches a
    headline far better than a long definition does.
    """
    texts = [f"{concept.label}: {concept.definition}" if concept.definition else concept.label, concept.label, *concept.aliases]
    return list(dict.fromkeys(texts))


def merge_topics(*sources: list[Topic]) -> list[Topic]:
    """One topic per code from several taggers: the best score, and every tagger's evidence."""
    merged: dict[str, Topic] = {}
    for topics in sources:
        for topic in topics:
            seen = merged.get(topic.code)
            merged[topic.code] = topic if seen is None else replace(seen, score=max(seen.score, topic.score), evidence=seen.evidence + topic.evidence)
    return sorted(merged.values(), key=lambda t: (t.level, -t.score, t.code))


class ZeroShotTopicClassifier:
    """Hierarchical, multi-label zero-shot classifier over a taxonomy.

    Level 1 first; then, only under the chosen level-1 concepts, level 2. A
    concept scores the mean of the `top_k` best cosines between the article
    and its texts (label with definition, label, each curated alias): broad
    definitions match headlines poorly, the aliases say what a concept covers. At each level a concept is kept when its score is at least
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
        top_k: int = 5,
    ) -> None:
        self.taxonomy = taxonomy
        self.encoder = encoder
        self.levels = levels
        self.thresholds = dict(thresholds or {1: 0.12, 2: 0.18})
        self.margin = margin
        self.max_per_level = max_per_level
        self.top_k = top_k

    def fit(self) -> "ZeroShotTopicClassifier":
        """Embed the texts of the active concepts of the configured levels (once per process)."""
        concepts = [c for level in self.levels for c in self.taxonomy.at_level(level)]
        if not concepts:
            raise ValueError(f"taxonomy {self.taxonomy.name!r} has no active concepts at levels {self.levels}")
        self.codes_ = [c.code for c in concepts]
        texts = [(c.code, text) for c in concepts for text in concept_texts(c)]
        self.text_owner_ = np.array([code for code, _ in texts])
        self.vectors_ = self.encoder.encode([text for _, text in texts])
        self.texts_ = [text for _, text in texts]
        self.rows_ = {code: np.flatnonzero(self.text_owner_ == code) for code in self.codes_}
        self.column_ = {code: i for i, code in enumerate(self.codes_)}
        width = max(len(rows) for rows in self.rows_.values())
        # each concept's text rows, padded with -1: a column that always scores -inf
        self.members_ = np.array([np.pad(self.rows_[c], (0, width - len(self.rows_[c])), constant_values=-1) for c in self.codes_])
        self.n_texts_ = np.array([len(self.rows_[c]) for c in self.codes_])
        return self

    @property
    def version(self) -> str:
        return f"zero-shot:{self.taxonomy.name}@levels{''.join(map(str, self.levels))}"

    def predict(self, vectors: np.ndarray) -> list[list[Topic]]:
        """Topics for each article vector (rows of unit length)."""
        scores, best = self._concept_scores(vectors)
        return [self._topics_for(s, b) for s, b in zip(scores, best)]

    def decision_function(self, vectors: np.ndarray, codes: list[str]) -> np.ndarray:
        """Scores of each article (rows) for each of `codes` (columns), as the classifier ranks them."""
        scores, _ = self._concept_scores(vectors)
        return scores[:, [self.column_[code] for code in codes]]

    def _concept_scores(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per article and concept: the mean of its `top_k` best text cosines, and its best text (the evidence).

        One array operation for the whole batch: a Python loop over concepts cost ~2 ms per article.
        """
        texts = np.asarray(vectors, dtype=np.float32) @ self.vectors_.T
        texts = np.concatenate([texts, np.full((len(texts), 1), -np.inf, dtype=texts.dtype)], axis=1)
        per_concept = texts[:, self.members_]  # (articles, concepts, texts per concept)
        top = -np.sort(-per_concept, axis=2)[:, :, : self.top_k]
        scores = np.where(np.isfinite(top), top, 0.0).sum(axis=2) / np.minimum(self.n_texts_, self.top_k)
        best = self.members_[np.arange(len(self.codes_)), per_concept.argmax(axis=2)]
        return scores, best

    def _topics_for(self, scores: np.ndarray, best: np.ndarray) -> list[Topic]:
        chosen: list[Topic] = []
        candidates = [c.code for c in self.taxonomy.roots() if c.code in self.rows_]
        for level in self.levels:
            picked = self._pick(scores, best, candidates, self.thresholds.get(level, 0.0))
            chosen.extend(picked)
            candidates = [child.code for topic in picked for child in self.taxonomy.children(topic.code) if child.code in self.rows_]
            if not candidates:
                break
        return chosen

    def _pick(self, scores: np.ndarray, best: np.ndarray, codes: list[str], threshold: float) -> list[Topic]:
        scored = sorted(((float(scores[self.column_[c]]), self.texts_[best[self.column_[c]]], c) for c in codes), reverse=True)
        if not scored:
            return []
        top = scored[0][0]
        kept = [x for x in scored if x[0] >= threshold and x[0] >= top - self.margin][: self.max_per_level]
        return [self._topic(code, score, matched) for score, matched, code in kept]

    def _topic(self, code: str, score: float, matched: str) -> Topic:
        evidence = {"kind": "embedding", "score": round(score, 4), "matched": matched, "model": self.encoder.version}
        return topic_for(self.taxonomy, code, score, (evidence,))


class HeadTopicClassifier:
    """Topics from a trained head (taggers.topic_head): every class with probability >= `threshold`."""

    def __init__(self, taxonomy: Taxonomy, head, threshold: float = 0.5, max_topics: int = 2) -> None:
        unknown = [c for c in head.classes_ if c not in taxonomy]
        if unknown:
            raise ValueError(f"the topic head predicts codes not in taxonomy {taxonomy.name!r}: {', '.join(unknown)}")
        self.taxonomy = taxonomy
        self.head = head
        self.threshold = threshold
        self.max_topics = max_topics

    @property
    def version(self) -> str:
        return f"head:{self.head.metadata_.get('name', 'topic-head')}@{len(self.head.classes_)}classes"

    def predict(self, vectors: np.ndarray) -> list[list[Topic]]:
        results = []
        for row in self.head.predict_proba(vectors):
            order = np.argsort(-row, kind="stable")[: self.max_topics]
            results.append([self._topic(str(self.head.classes_[i]), float(row[i])) for i in order if row[i] >= self.threshold])
        return results

    def _topic(self, code: str, probability: float) -> Topic:
        evidence = {"kind": "head", "probability": round(probability, 4), "model": self.version}
        return topic_for(self.taxonomy, code, probability, (evidence,))
