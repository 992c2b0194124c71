"""The enricher with small components: a blank spaCy pipeline with an entity ruler and a hashing encoder."""

import hashlib

import numpy as np
import pytest

from flows.config import ModelsConfig
from flows.enrich import Enricher
from flows.schema import Article, DeadLetter
from taggers import EntityTagger, ZeroShotTopicClassifier
from taxonomy import Concept, Taxonomy

QUAKE = "Magnitude 6.4 earthquake strikes off Hokkaido, Japan"
RATES = "Federal Reserve holds interest rates steady"


class HashingEncoder:
    """Bag of hashed words in 32 dimensions, unit length; counts the texts it embeds."""

    version = "hashing-32"
    dimension = 32

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        if any("poison" in t for t in texts):
            raise ValueError("cannot embed this text")
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in zip(vectors, texts):
            for word in text.lower().split():
                row[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@pytest.fixture(scope="module")
def small_ner(tmp_path_factory):
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", name="ner")  # the tagger keeps the component called "ner"
    ruler.add_patterns([{"label": "GPE", "pattern": "Japan"}, {"label": "GPE", "pattern": "Hokkaido"}, {"label": "ORG", "pattern": "Federal Reserve"}])
    path = tmp_path_factory.mktemp("ner") / "tiny"
    nlp.to_disk(path)
    return EntityTagger(str(path))


def small_enricher(small_ner, memo_size=100):
    encoder = HashingEncoder()
    taxonomy = Taxonomy.from_concepts("tiny", [Concept("quake", "earthquake Japan", 1), Concept("economy", "interest rates", 1)])
    topics = ZeroShotTopicClassifier(taxonomy, encoder, levels=(1,), thresholds={1: 0.2}, top_k=1).fit()
    encoder.seen.clear()
    return Enricher(ModelsConfig(memo_size=memo_size), entity_tagger=small_ner, encoder=encoder, topic_classifier=topics)


def article(i, title):
    return Article(id=str(i), title=title, published_at=1.7e9, received_at=1.7e9, origin="t", position=i, lang="en")


def test_identical_texts_are_embedded_and_tagged_once(small_ner):
    enricher = small_enricher(small_ner)
    first = enricher.enrich([article(1, QUAKE), article(2, QUAKE), article(3, RATES)])
    again = enricher.enrich([article(4, RATES)])
    assert enricher.encoder.seen == [QUAKE, RATES]
    assert np.array_equal(first[0].vector, first[1].vector) and np.array_equal(first[2].vector, again[0].vector)
    assert [e.canonical for e in first[0].entities] == ["Hokkaido", "Japan"] and first[0].entities == first[1].entities
    assert [t.code for t in first[0].topics] == ["quake"] and [t.code for t in again[0].topics] == ["economy"]


def test_the_memo_is_bounded_by_memo_size(small_ner):
    enricher = small_enricher(small_ner, memo_size=1)
    enricher.enrich([article(1, QUAKE)])
    enricher.enrich([article(2, RATES)])
    enricher.enrich([article(3, QUAKE)])  # evicted by RATES: embedded again
    assert enricher.encoder.seen == [QUAKE, RATES, QUAKE]


def test_an_article_the_models_fail_on_is_dead_lettered_alone(small_ner):
    enricher = small_enricher(small_ner)
    results = enricher.enrich_or_dead_letter([article(1, QUAKE), article(2, "poison pill"), article(3, RATES)], raw_cap=1024)
    assert [type(r).__name__ for r in results] == ["EnrichedArticle", "DeadLetter", "EnrichedArticle"]
    assert isinstance(results[1], DeadLetter) and results[1].reason == "enrichment failed: ValueError: cannot embed this text"
