"""Assemble and run the service: database, view, one source in a background thread, the app under uvicorn."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from service.app import create_app
from service.ingest import FileSource, KafkaSource
from service.projection import Projector
from service.search import Encoder, Searcher
from service.store import Store
from service.view import View
from taxonomy import load_taxonomy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """Everything `storywire serve` decides; Kafka settings come from the flow's config, as plain values."""

    database: Path = Path("out/service.sqlite")
    replay_dir: Path | None = None  # follow a replay's output files ...
    kafka_client: dict[str, str] | None = None  # ... or consume the output topics with a group
    kafka_group: str = "storywire-service"
    kafka_topics: dict[str, str] = field(default_factory=lambda: {"article-tags": "article", "story-clusters": "story", "article-vectors": "vector"})
    host: str = "127.0.0.1"
    port: int = 8000
    encoder: str | None = None  # the flow's models.encoder; None = the default all-MiniLM-L6-v2
    backend: str = "torch"  # the flow's models.backend, so queries and articles are embedded alike
    cache_dir: str | None = None  # the flow's models.cache_dir (derived ONNX/static models)
    static_model: str | None = None  # the flow's models.static_model (a static model trained on news)
    threshold: float = 0.45  # cosine to a story's centroid at which `match` says the text would join (serve --join-cosine)
    window_hours: float = 72.0
    taxonomy: str = "iptc"
    umap_map: bool = True  # False: the map is PCA only (no worker process)


def build(options: ServeOptions, encoder: Encoder | None = None) -> tuple[FastAPI, View]:
    """The app and its view, with the source following in the background while the app runs."""
    if (options.replay_dir is None) == (options.kafka_client is None):
        raise ValueError("serve needs exactly one source: a replay folder or Kafka")
    view = View(Store(options.database), window_hours=options.window_hours)
    encoder = encoder or Encoder(options.encoder, options.backend, options.cache_dir, static_model=options.static_model)
    searcher = Searcher(view, encoder, options.threshold)
    source = FileSource(options.replay_dir) if options.replay_dir is not None else KafkaSource(options.kafka_client, options.kafka_group, options.kafka_topics)
    projector = Projector(view, umap=options.umap_map)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if isinstance(source, FileSource):
            source.read_once(view)  # the board opens on what the replay already wrote
        threads = [
            threading.Thread(target=source.follow, args=(view, stop), name="ingest", daemon=True),
            threading.Thread(target=encoder.warm_up, name="encoder-warm-up", daemon=True),
        ]
        for thread in threads:
            thread.start()
        projector.start()
        try:
            yield
        finally:
            stop.set()
            projector.stop()
            threads[0].join(timeout=10)

    app = create_app(view, searcher, projector, load_taxonomy(options.taxonomy))
    app.router.lifespan_context = lifespan
    return app, view


def serve(options: ServeOptions) -> None:
    import uvicorn

    app, _ = build(options)
    print(f"storywire service on http://{options.host}:{options.port}/ (API docs at /docs); database {options.database}", flush=True)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")
