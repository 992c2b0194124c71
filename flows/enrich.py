"""The enrichment step: NER, one embedding per article and zero-shot topics, in batches.

`Enricher` takes its components (entity tagger, encoder, topic classifier, rule tagger) ready-made, so a test
builds them small; `Enricher.from_config` builds the real ones. Models load lazily, once per run
(`load_enricher`, which `flows.runner.run` calls and passes to the dataflow), never per item. Worker
threads of one process (`-w`) share them and take turns (spaCy pipelines and the
memo are not thread-safe: two threads in one pipeline crashed spaCy's NER);
processes are what scale. A batch that fails is retried article by article so one bad article becomes one dead
letter instead of taking its batch (or the dataflow) down.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from flows.config import ModelsConfig, TopicsConfig
from flows.schema import Article, DeadLetter, RawRecord
from taggers import CachedEncoder, Entity, EntityTagger, Topic, ZeroShotTopicClassifier
from taggers.backends import make_encoder
from taggers.rules import RuleTopicTagger
from taggers.topic_head import TopicHead
from taggers.topics import Encoder, HeadTopicClassifier, merge_topics
from taxonomy import Taxonomy, load_taxonomy

TopicClassifier = ZeroShotTopicClassifier | HeadTopicClassifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnrichedArticle:
    """An article with everything the taggers found; the input of the clustering step."""

    article: Article
    entities: tuple[Entity, ...]
    topics: tuple[Topic, ...]
    vector: np.ndarray
    lang_covered: bool


class Enricher:
    """Runs the taggers over a batch of articles.

    `models` gives the memo size, the text limits and the covered languages; the components do the work:
    `topic_encoder` embeds the texts again for a head fine-tuned with its own encoder (None: reuse `encoder`'s
    vectors), `rule_tagger` adds rule topics (None: off).
    """

    def __init__(
        self,
        models: ModelsConfig,
        *,
        entity_tagger: EntityTagger,
        encoder: Encoder,
        topic_classifier: TopicClassifier,
        rule_tagger: RuleTopicTagger | None = None,
        topic_encoder: Encoder | None = None,
    ) -> None:
        self.models = models
        self.entity_tagger = entity_tagger
        self.encoder = encoder
        self.topic_encoder = topic_encoder
        self.topic_classifier = topic_classifier
        self.rule_tagger = rule_tagger
        self._memo: OrderedDict[str, tuple[np.ndarray, tuple[Entity, ...]]] = OrderedDict()
        self._encode_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        self._lock = threading.Lock()  # one batch at a time per process, whichever worker thread brings it

    @classmethod
    def from_config(cls, models: ModelsConfig, topics: TopicsConfig) -> "Enricher":
        """The configured components: spaCy, the encoder backend, the taxonomy's head or zero-shot classifier, rules."""
        if models.torch_threads:
            import torch

            torch.set_num_threads(models.torch_threads)
        encoder = encoder_for(models)
        taxonomy = load_taxonomy(topics.taxonomy)
        topic_classifier, topic_encoder = topic_classifier_for(taxonomy, topics, models, encoder)
        rules = RuleTopicTagger(taxonomy, levels=topics.levels, max_chars=models.ner_max_chars).fit() if topics.rules else None
        return cls(
            models,
            entity_tagger=EntityTagger(models.spacy_model, max_chars=models.ner_max_chars),
            encoder=encoder,
            topic_classifier=topic_classifier,
            rule_tagger=rules,
            topic_encoder=topic_encoder,
        )

    def warm_up(self) -> None:
        """Load every model now (a bad model path fails at startup, not on the first batch)."""
        self.entity_tagger.tag([("Storywire starts", "Storywire starts")])
        self.encoder.encode(["Storywire starts"])
        if self.topic_encoder is not None:
            self.topic_encoder.encode(["Storywire starts"])

    def versions(self) -> dict[str, str]:
        topics = self.topic_classifier.version + (f"+{self.rule_tagger.version}" if self.rule_tagger else "")
        return {"ner": self.entity_tagger.version, "encoder": self.encoder.version, "topics": topics}

    def enrich(self, articles: list[Article]) -> list[EnrichedArticle]:
        covered = [self._covered(a) for a in articles]
        vectors, entities = self._embed_and_tag(articles, covered)
        return self.assemble(articles, covered, vectors, entities)

    def assemble(self, articles: list[Article], covered: list[bool], vectors: np.ndarray, entities: list[tuple[Entity, ...]]) -> list[EnrichedArticle]:
        """The batch's enriched articles from its embeddings and entities: topics are predicted here, for the whole batch."""
        tagged_idx = [i for i, ok in enumerate(covered) if ok]
        topics = self.topic_classifier.predict(self._topic_vectors(articles, vectors, tagged_idx)) if tagged_idx else []
        if self.rule_tagger is not None and tagged_idx:
            ruled = self.rule_tagger.predict([articles[i].text(self.models.ner_max_chars) for i in tagged_idx])
            topics = [merge_topics(model, rule) for model, rule in zip(topics, ruled)]
        by_index = {i: tuple(t) for i, t in zip(tagged_idx, topics)}
        return [EnrichedArticle(a, entities[i], by_index.get(i, ()), vector=vectors[i], lang_covered=covered[i]) for i, a in enumerate(articles)]

    def _topic_vectors(self, articles: list[Article], vectors: np.ndarray, tagged_idx: list[int]) -> np.ndarray:
        if self.topic_encoder is None:
            return vectors[tagged_idx]
        return self.topic_encoder.encode([articles[i].text(self.models.embed_max_chars) for i in tagged_idx])

    def _embed_and_tag(self, articles: list[Article], covered: list[bool]) -> tuple[np.ndarray, list[tuple[Entity, ...]]]:
        """Embeddings and entities, computed once per distinct text (wire copies are common) within a bounded memo."""
        keys = [self.text_key(a, ok) for a, ok in zip(articles, covered)]
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo))
        if todo:
            first = [keys.index(k) for k in todo]
            vectors, entities = self.embed_and_tag([articles[i] for i in first], [covered[i] for i in first])
            for k, v, e in zip(todo, vectors, entities):
                self._memo[k] = (v, e)
        results = [self._memo[k] for k in keys]
        for k in keys:
            self._memo.move_to_end(k)
        while len(self._memo) > self.models.memo_size:
            self._memo.popitem(last=False)
        if not results:
            return np.zeros((0, self.encoder.dimension), dtype=np.float32), []
        return np.stack([v for v, _ in results]), [e for _, e in results]

    def enrich_or_dead_letter(self, articles: list[Article], raw_cap: int) -> list[EnrichedArticle | DeadLetter]:
        """Enrich a batch; if it fails, retry one by one and dead-letter the articles that still fail."""
        with self._lock:
            return self._enrich_or_dead_letter(articles, raw_cap)

    def _enrich_or_dead_letter(self, articles: list[Article], raw_cap: int) -> list[EnrichedArticle | DeadLetter]:
        try:
            return list(self.enrich(articles))
        except Exception:  # noqa: BLE001 - any model failure is isolated below
            log.exception("enrichment of a batch of %d failed; retrying one by one", len(articles))
        results: list[EnrichedArticle | DeadLetter] = []
        for article in articles:
            try:
                results.extend(self.enrich([article]))
            except Exception as exc:  # noqa: BLE001
                log.error("enrich step: %s failed, dead-lettered: %s: %s", where(article), type(exc).__name__, exc, exc_info=True)
                results.append(dead_letter_for(article, f"enrichment failed: {type(exc).__name__}: {exc}", raw_cap))
        return results

    def text_key(self, article: Article, covered: bool) -> str:
        """What the embedding and the entities of an article depend on: the memo's key."""
        return hashlib.sha256(f"{covered}\x1f{article.title}\x1f{article.text(self.models.embed_max_chars)}".encode()).hexdigest()

    def embed_and_tag(self, articles: list[Article], covered: list[bool]) -> tuple[np.ndarray, list[tuple[Entity, ...]]]:
        """Embeddings of all `articles` in one encoder call and entities of the covered ones, no memo."""
        # The encoder (ONNX Runtime, torch) releases the GIL: it runs on one core while spaCy tags on the other.
        encoding = self._encode_thread.submit(self.encoder.encode, [a.text(self.models.embed_max_chars) for a in articles])
        tagged = [i for i, ok in enumerate(covered) if ok]
        found = dict(zip(tagged, self.entity_tagger.tag([(articles[i].title, articles[i].text()) for i in tagged])))
        return encoding.result(), [tuple(found.get(i, ())) for i in range(len(articles))]

    def _covered(self, article: Article) -> bool:
        return article.lang is None or article.lang.split("-")[0].lower() in self.models.languages


def encoder_for(models: ModelsConfig):
    """The configured encoder backend, behind the on-disk embedding cache when one is configured."""
    encoder = make_encoder(models.backend, models.encoder, models.cache_dir, models.device, models.torch_threads, models.static_model)
    return CachedEncoder(encoder, models.embedding_cache) if models.embedding_cache else encoder


def topic_classifier_for(taxonomy: Taxonomy, topics: TopicsConfig, models: ModelsConfig, encoder: Encoder) -> tuple[TopicClassifier, Encoder | None]:
    """The trained head when one is configured (with the encoder it was fine-tuned with, if any), else zero-shot."""
    if topics.head:
        head = TopicHead.load(topics.head)
        topic_encoder = head_encoder_for(head, models) if head.encoder_path_ else None
        head.check_encoder((topic_encoder or encoder).version)
        return HeadTopicClassifier(taxonomy, head, threshold=topics.head_threshold, max_topics=topics.max_per_level), topic_encoder
    zero_shot = ZeroShotTopicClassifier(
        taxonomy,
        encoder,
        levels=topics.levels,
        thresholds={1: topics.threshold_level1, 2: topics.threshold_level2},
        margin=topics.margin,
        max_per_level=topics.max_per_level,
        top_k=topics.top_k,
    )
    return zero_shot.fit(), None


def head_encoder_for(head: TopicHead, models: ModelsConfig):
    """The encoder a topic head was fine-tuned with, on the configured backend."""
    return encoder_for(replace(models, encoder=head.encoder_path_))


def where(article: Article) -> str:
    """An article's source position in one token, for logs: origin[/partition]@position (id)."""
    partition = f"/{article.partition}" if article.partition is not None else ""
    return f"{article.origin}{partition}@{article.position} ({article.id[:80]!r})"


def dead_letter_for(article: Article, reason: str, raw_cap: int) -> DeadLetter:
    """A dead letter for an article that passed validation but failed later: its original bytes and position."""
    record = article.record or RawRecord(b"", article.origin, article.position, article.received_at, article.partition)
    return DeadLetter.from_raw(record, reason, raw_cap, article_id=article.id)


def load_enricher(models: ModelsConfig, topics: TopicsConfig) -> Enricher:
    """The enricher for a configuration (models load on first use; none with models.precomputed).

    Build one per process and share it (flows.runner.run does): each holds its own models."""
    if models.precomputed:
        from flows.precomputed import PrecomputedEnricher

        return PrecomputedEnricher(models)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    log.info("loading models (spaCy %s, encoder %s)", models.spacy_model, models.encoder or "default")
    return Enricher.from_config(models, topics)
