"""Story state: what storywire knows about one event cluster."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from clustering.lexical import Terms

VERSION_SPAN = 1_000_000  # versions per generation: version = generation * VERSION_SPAN + count
MAX_TRACKED_TERMS = 64  # per counter; keeps a story's memory flat however large it grows
MAX_LEXICAL_TERMS = 256  # hashed words in a story's lexical profile (clustering.lexical)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\-]+")


@dataclass(frozen=True)
class StoryDoc:
    """What clustering needs of an article: plain data, no tagger types."""

    id: str
    vector: np.ndarray  # unit length
    published_at: float  # epoch seconds
    title: str = ""
    entities: tuple[str, ...] = ()  # canonical forms
    topics: tuple[str, ...] = ()  # taxonomy labels
    text: str = ""  # title, lead and body as the flow read them: the source of `terms` (dropped once they are taken)
    terms: Terms = Terms()  # the article's most frequent hashed words (clustering.lexical)
    dated: bool = True  # False: the record had no published_at (the time is when it was read; clustering.evidence)
    years: tuple[int, ...] = ()  # years its text mentions (clustering.evidence)


@dataclass
class Story:
    """One event cluster. `version` goes up with every change that is published."""

    story_id: str
    first_seen: float
    last_seen: float
    vector_sum: np.ndarray
    size: int = 0
    version: int = 0
    status: str = "active"  # active | merged | retired
    merged_into: str | None = None
    late: bool = False
    last_article: int = 0  # the stream's article count when the story last gained a member
    representative_title: str = ""
    representative_score: float = -1.0
    entity_counts: Counter = field(default_factory=Counter)
    topic_counts: Counter = field(default_factory=Counter)
    term_counts: Counter = field(default_factory=Counter)
    lexical: Counter = field(default_factory=Counter)  # hashed word -> summed term weight over the members
    distinctive_terms: list[str] = field(default_factory=list)  # title terms by class-based TF-IDF, best first
    year_counts: Counter = field(default_factory=Counter)  # year -> members whose text mentions it (clustering.evidence)
    n_year_members: int = 0  # members whose text mentions a year

    def __setstate__(self, state: dict) -> None:
        """Restore a story pickled before it counted years."""
        self.__dict__.update(state)
        self.__dict__.setdefault("year_counts", Counter())

    @property
    def centroid(self) -> np.ndarray:
        norm = float(np.linalg.norm(self.vector_sum))
        return self.vector_sum / norm if norm > 0 else self.vector_sum

    def add(self, doc: StoryDoc) -> None:
        self.size += 1
        self.vector_sum = self.vector_sum + doc.vector
        self.first_seen = min(self.first_seen, doc.published_at)
        self.last_seen = max(self.last_seen, doc.published_at)
        _bump(self.entity_counts, _distinct(doc.entities))
        _bump(self.topic_counts, _distinct(doc.topics))
        _bump(self.term_counts, _distinct(title_terms(doc.title)))
        _add_weights(self.lexical, doc.terms.keys, doc.terms.weights)
        self._count_years(doc.years, 1)
        closeness = float(doc.vector @ self.centroid)
        if closeness > self.representative_score:
            self.representative_title, self.representative_score = doc.title, closeness

    def remove(self, doc: StoryDoc) -> None:
        """Take back a member (an edited article that is re-assigned).

        The last member leaving keeps the centroid, so an edit of a one-article
        story can come back to the same story ID.
        """
        self.size = max(0, self.size - 1)
        if self.size:
            self.vector_sum = self.vector_sum - doc.vector
        self.entity_counts.subtract(_distinct(doc.entities))
        self.topic_counts.subtract(_distinct(doc.topics))
        self.term_counts.subtract(_distinct(title_terms(doc.title)))
        _add_weights(self.lexical, doc.terms.keys, [-w for w in doc.terms.weights])
        self._count_years(doc.years, -1)

    def _count_years(self, years: tuple[int, ...], sign: int) -> None:
        if years:
            self.year_counts.update({y: sign for y in years})
            self.n_year_members += sign

    def absorb(self, other: "Story", members: int) -> None:
        """Take over a story merged into this one: its content, and `members` of its articles."""
        self.size += members
        self.vector_sum = self.vector_sum + other.vector_sum
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.late = self.late and other.late
        for mine, theirs in (
            (self.entity_counts, other.entity_counts),
            (self.topic_counts, other.topic_counts),
            (self.term_counts, other.term_counts),
        ):
            _bump(mine, theirs)
        _add_weights(self.lexical, other.lexical.keys(), other.lexical.values())
        self.year_counts.update(other.year_counts)
        self.n_year_members += other.n_year_members

    def top_entities(self, k: int = 5) -> list[str]:
        return [e for e, c in self.entity_counts.most_common(k) if c > 0]

    def top_topics(self, k: int = 3) -> list[str]:
        return [t for t, c in self.topic_counts.most_common(k) if c > 0]

    def keywords(self, k: int = 8) -> list[str]:
        """What sets this story apart: its distinctive title terms once ranked, else its most frequent."""
        if self.distinctive_terms:
            return self.distinctive_terms[:k]
        return [t for t, c in self.term_counts.most_common(k) if c > 0]

    def rank_terms(self, rarity: Callable[[list[str]], np.ndarray], k: int = 8) -> None:
        """Class-based TF-IDF (as BERTopic): a title term's count in this story times its rarity in the
        stream, so two stories on one subject read differently (not "earthquake" for both)."""
        terms = [t for t, c in self.term_counts.items() if c > 0]
        if not terms:
            self.distinctive_terms = []
            return
        weights = np.array([self.term_counts[t] for t in terms], dtype=float) * rarity(terms)
        order = sorted(range(len(terms)), key=lambda i: (-weights[i], terms[i]))
        self.distinctive_terms = [terms[i] for i in order[:k]]


def next_version(version: int, generation: int) -> int:
    """The version after `version` when published by `generation` (0: replays, plain 1, 2, 3, ...).

    A generation's versions start above every version an earlier generation
    could have published (`generation` grows by at least one per start and by
    one per second of wall-clock time), so output re-published after a crash,
    under a new generation, never reuses a (key, version) with other content.
    """
    return max(version + 1, generation * VERSION_SPAN + 1)


def title_terms(title: str) -> list[str]:
    return [w for w in (m.group().lower().strip("'-") for m in _WORD.finditer(title)) if w not in ENGLISH_STOP_WORDS and len(w) > 2]


def _add_weights(counter: Counter, keys, weights) -> None:
    """Add weighted terms to a profile and keep only its MAX_LEXICAL_TERMS heaviest."""
    for key, weight in zip(keys, weights):
        counter[key] += weight
    if len(counter) > 2 * MAX_LEXICAL_TERMS:
        keep = counter.most_common(MAX_LEXICAL_TERMS)
        counter.clear()
        counter.update(dict(keep))


def _distinct(items) -> list:
    """Each item once, in first-seen order: a set's order follows string hashing, which differs between
    processes, and would make ties in top entities, topics and keywords differ between two replays."""
    return list(dict.fromkeys(items))


def _bump(counter: Counter, items) -> None:
    """Add to a counter and keep only its MAX_TRACKED_TERMS most common entries."""
    counter.update(items)
    if len(counter) > 2 * MAX_TRACKED_TERMS:
        keep = counter.most_common(MAX_TRACKED_TERMS)
        counter.clear()
        counter.update(dict(keep))
