"""The enrichment step over a backfill's precomputed enrichments (spark/backfill.py) instead of the models.

With `models.precomputed` set, the flow looks every article's embedding,
entities and topics up by (id, text key) and runs the clustering step as
usual: a long archive is re-clustered without re-embedding. An article that
is not there (another archive, changed text) is dead-lettered with that reason.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from export.enriched import from_row
from flows.config import ModelsConfig
from flows.enrich import EnrichedArticle, Enricher
from flows.schema import Article


class PrecomputedEnricher(Enricher):
    """Enriches from a Parquet folder; loads no model. Holds every row in memory (one archive slice at a time)."""

    def __init__(self, models: ModelsConfig) -> None:
        import pyarrow.dataset as ds

        self.models = models
        self._lock = threading.Lock()  # Enricher.enrich_or_dead_letter takes it (worker threads take turns)
        folder = Path(models.precomputed)
        if not (folder / "_models.json").exists():
            raise FileNotFoundError(f"models.precomputed = {folder}: no _models.json there; give a backfill's enriched/ folder")
        self._versions = json.loads((folder / "_models.json").read_text())
        table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
        self._rows = {(r["id"], r["key"]): from_row(r) for r in table.to_pylist()}

    def warm_up(self) -> None:
        """Nothing to load."""

    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    def enrich(self, articles: list[Article]) -> list[EnrichedArticle]:
        enriched = []
        for article in articles:
            covered = self._covered(article)
            found = self._rows.get((article.id, self.text_key(article, covered)))
            if found is None:
                raise KeyError(f"article {article.id!r} with this text is not in the precomputed enrichments {self.models.precomputed}")
            vector, entities, topics, _ = found
            enriched.append(EnrichedArticle(article, entities, topics, vector=vector, lang_covered=covered))
        return enriched
