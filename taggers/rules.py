"""Rule topics: spaCy PhraseMatcher over concept labels and curated aliases, with the matched span.

Rules are precise and explainable where embeddings are fuzzy: "earthquake" in a
title is evidence for disasters whatever the embedding says. Matching is
case-insensitive on whole tokens (the LOWER attribute); every match keeps its
text and character offsets. Only the configured levels get rules: deep IPTC
labels ("poetry", "rugby league") are fine phrases, but upper-level labels
need aliases to match real headlines at all.
"""

from __future__ import annotations

from typing import Iterable

from taggers.topics import Topic, topic_for
from taxonomy import Taxonomy


class RuleTopicTagger:
    """Tags articles with the concepts whose label or aliases occur in the title or lead."""

    def __init__(self, taxonomy: Taxonomy, levels: tuple[int, ...] = (1, 2), max_chars: int = 1000, batch_size: int = 256) -> None:
        self.taxonomy = taxonomy
        self.levels = levels
        self.max_chars = max_chars
        self.batch_size = batch_size

    def fit(self) -> "RuleTopicTagger":
        """Build the matcher over the labels and aliases of the active concepts at the configured levels."""
        import spacy
        from spacy.matcher import PhraseMatcher

        self.nlp_ = spacy.blank("en")  # no components: the tokenizer is all a PhraseMatcher needs
        self.matcher_ = PhraseMatcher(self.nlp_.vocab, attr="LOWER")
        self.n_phrases_ = 0
        for level in self.levels:
            for concept in self.taxonomy.at_level(level):
                phrases = [p for p in dict.fromkeys((concept.label, *concept.aliases)) if p.strip()]
                self.matcher_.add(concept.code, list(self.nlp_.pipe(phrases)))
                self.n_phrases_ += len(phrases)
        return self

    @property
    def version(self) -> str:
        return f"rules:{self.taxonomy.name}@levels{''.join(map(str, self.levels))}/{self.n_phrases_}"

    def predict(self, texts: Iterable[str]) -> list[list[Topic]]:
        """Topics for each text: one per matched concept, evidence = every matched span."""
        results = []
        with self.nlp_.memory_zone():  # frees the strings of new words after the batch; else the vocab grows forever
            for doc in self.nlp_.pipe((t[: self.max_chars] for t in texts), batch_size=self.batch_size):
                spans: dict[str, list[dict]] = {}
                for match_id, start, end in self.matcher_(doc):
                    span = doc[start:end]
                    code = self.nlp_.vocab.strings[match_id]
                    spans.setdefault(code, []).append({"kind": "rule", "span": span.text, "start": span.start_char, "end": span.end_char})
                results.append([topic_for(self.taxonomy, code, 1.0, tuple(evidence)) for code, evidence in sorted(spans.items())])
        return results
