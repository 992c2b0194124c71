"""Word and entity evidence for story assignment: IDF-weighted cosines against a story's profile.

Embeddings of long texts agree on the kind of event (two earthquakes, two
acquisitions); the words and names that differ (places, people, numbers such
as death tolls and dates) tell the events apart. Document frequencies come from
the stream itself, in a fixed-size table of hashed terms, so their memory does
not grow with the vocabulary; the hash is crc32, stable across processes, so
replays repeat. With a `journal`, `observe` records its inverse (clustering.journal).
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from clustering.journal import Journal

_WORD = re.compile(r"[a-z0-9]+")


Key = int | str  # a hashed word, or an entity's canonical form (hashed when its IDF is looked up)


@dataclass(frozen=True)
class Terms:
    """An article's terms and their weights: its most frequent hashed words with sublinear term
    frequencies (1 + log count), or its distinct entities with weight 1."""

    keys: tuple[Key, ...] = ()
    weights: tuple[float, ...] = ()

    @classmethod
    def of_entities(cls, entities: Iterable[str]) -> "Terms":
        keys = tuple(sorted(set(entities)))
        return cls(keys, (1.0,) * len(keys))


class TermStatistics:
    """Document frequencies of hashed terms seen in the stream, and the IDF weights they give."""

    def __init__(self, *, n_buckets: int = 2**19) -> None:
        self.n_buckets = n_buckets
        self.n_docs_ = 0
        self._df = np.zeros(n_buckets, dtype=np.float64)

    def bucket(self, key: Key) -> int:
        return key if isinstance(key, int) else _bucket(key, self.n_buckets)

    def observe(self, keys: Iterable[Key], journal: Journal | None = None) -> None:
        """One document that holds these (distinct) terms."""
        buckets = np.unique(self._buckets(list(keys)))
        self.n_docs_ += 1
        self._df[buckets] += 1.0
        if journal is not None:  # counts are whole numbers in float64: subtracting restores them exactly
            journal.record(self._unobserve, buckets)

    def _unobserve(self, buckets: np.ndarray) -> None:
        self.n_docs_ -= 1
        self._df[buckets] -= 1.0

    def document_frequency(self, keys: Sequence[Key]) -> np.ndarray:
        return self._df[self._buckets(keys)]

    def _buckets(self, keys: Sequence[Key]) -> np.ndarray:
        if keys and isinstance(keys[0], int):  # hashed words
            return np.fromiter(keys, dtype=np.int64, count=len(keys))
        return np.fromiter((_bucket(k, self.n_buckets) for k in keys), dtype=np.int64, count=len(keys))

    def idf(self, keys: Sequence[Key]) -> np.ndarray:
        """Smoothed inverse document frequency, as scikit-learn's TfidfVectorizer."""
        return np.log((1.0 + self.n_docs_) / (1.0 + self.document_frequency(keys))) + 1.0

    def terms(self, text: str, max_chars: int, max_terms: int) -> Terms:
        """The `max_terms` most frequent words (stop words out, numbers in) of the text's first `max_chars`."""
        counts = Counter(w for w in _WORD.findall(text[:max_chars].lower()) if (len(w) > 2 or w.isdigit()) and w not in ENGLISH_STOP_WORDS)
        hashed: Counter = Counter()
        for word, count in counts.items():
            hashed[self.bucket(word)] += count
        top = sorted(hashed.items(), key=lambda item: (-item[1], item[0]))[:max_terms]
        return Terms(tuple(i for i, _ in top), tuple(1.0 + math.log(c) for _, c in top))

    def norm(self, profile: Mapping[Key, float]) -> float:
        """The IDF-weighted length of a profile (computed when a story changes, reused per article)."""
        keys = [k for k, w in profile.items() if w > 0]
        if not keys:
            return 0.0
        weights = np.fromiter((profile[k] for k in keys), dtype=np.float64, count=len(keys)) * self.idf(keys)
        return float(np.sqrt(weights @ weights))

    @staticmethod
    def cosines(terms: Terms, idf: np.ndarray, profiles: Sequence[Mapping[Key, float]], norms: np.ndarray) -> np.ndarray:
        """IDF-weighted cosines between an article's terms (with their `idf`) and each story profile (with its norm)."""
        if not terms.keys or not profiles:
            return np.zeros(len(profiles))
        article = np.array(terms.weights) * idf
        shared = np.maximum(np.array([[p.get(k, 0.0) for k in terms.keys] for p in profiles]), 0.0)
        denominator = float(np.sqrt(article @ article)) * norms
        return np.divide(shared @ (article * idf), denominator, out=np.zeros(len(profiles)), where=denominator > 0)


@lru_cache(maxsize=2**16)
def _bucket(term: str, n_buckets: int) -> int:
    """A term's bucket: crc32, stable across processes (Python's hash() is salted per process)."""
    return zlib.crc32(term.encode("utf-8", "surrogatepass")) % n_buckets
