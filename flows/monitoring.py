"""Prometheus metrics and a health endpoint for the running service.

One HTTP server per process: /metrics (ours plus the Python-side Bytewax
metrics in the default registry, such as consumer lag), /readyz (200 once the
models are loaded and the dataflow runs) and /healthz (JSON; 503 when the
dataflow stopped or failed, when records read are waiting with no progress
for `metrics.stall_after_s`, when more than `metrics.max_dead_letter_ratio`
of the last minute's records (at least `metrics.dead_letter_min_records` of
them) were dead-lettered, or while outputs wait for an unreachable broker).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ARTICLES_IN = Counter("storywire_articles_in_total", "Records read from the source")
ARTICLES_TAGGED = Counter("storywire_articles_tagged_total", "Article versions tagged and published")
DEAD_LETTERS = Counter("storywire_dead_letters_total", "Records sent to the dead-letter output", ["stage"])
DUPLICATES = Counter("storywire_duplicates_total", "Identical re-deliveries ignored")
LATENCY = Histogram(
    "storywire_end_to_end_latency_seconds",
    "From a record being received to its tags being emitted",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60),
)
ACTIVE_STORIES = Gauge("storywire_active_stories", "Live stories", ["shard"])
STORED_TAGS_BYTES = Gauge("storywire_stored_tag_records_bytes", "Latest tag records kept (limits.max_stored_tags_mb)", ["shard"])
TRACKED_IDS = Gauge("storywire_tracked_article_ids", "Ids remembered for duplicate and edit detection", ["shard"])
TRACKED_IDS_BYTES = Gauge("storywire_tracked_article_ids_bytes", "Memory of the duplicate table (limits.max_tracked_ids_mb)", ["shard"])
WINDOW_BYTES = Gauge("storywire_window_bytes", "Memory of the clustering window's articles (limits.max_window_mb)", ["shard"])
RECLUSTER_SECONDS = Histogram("storywire_recluster_stall_seconds", "Time re-clustering held the stream (submit or apply)")
SKIPPED_OFFSETS = Counter(
    "storywire_source_skipped_offsets_total", "Offsets of the articles topic never read (deleted by retention before they were)", ["partition"]
)
RECLUSTER_WORKER_RESTARTS = Counter("storywire_recluster_worker_restarts_total", "Re-clustering worker processes that died and were replaced")
RECLUSTER_WINDOW = Gauge("storywire_recluster_window_articles", "Articles in the latest window sent to HDBSCAN", ["shard"])
CLUSTER_SECONDS = Counter(
    "storywire_cluster_seconds_total",
    "Time the clustering step spent, re-clustering stalls included (one worker per shard: articles_total / seconds_total is the shard's ceiling in articles/s)",
    ["shard"],
)
CLUSTER_ARTICLES = Counter("storywire_cluster_articles_total", "Articles the clustering step took", ["shard"])

_state = {"started_at": time.time(), "last_batch_at": None, "status": "starting", "ready": False}
WINDOW_S = 60
_peaks = {"stall_s": 0.0, "window": 0}  # longest time re-clustering added to one batch; largest window re-clustered
_clustering = {"seconds": 0.0, "articles": 0}  # this process's clustering cost, for summaries


def clustered(shard: str, articles: int, seconds: float) -> None:
    """One call of the clustering step: its cost, the ceiling of a shard that lives on one worker."""
    CLUSTER_SECONDS.labels(shard).inc(seconds)
    CLUSTER_ARTICLES.labels(shard).inc(articles)
    _clustering["seconds"] += seconds
    _clustering["articles"] += articles


def cluster_ms_per_article() -> float | None:
    """Milliseconds of clustering per article in this process; None if no shard ran here."""
    if not _clustering["articles"]:
        return None
    return round(_clustering["seconds"] * 1000 / _clustering["articles"], 3)


def record_recluster(stall_seconds: float, window: int) -> None:
    _peaks["stall_s"] = max(_peaks["stall_s"], stall_seconds)
    _peaks["window"] = max(_peaks["window"], window)


def max_stall_seconds() -> float:
    return _peaks["stall_s"]


def max_recluster_window() -> int:
    return _peaks["window"]


def reset_peaks() -> None:
    _peaks.update(stall_s=0.0, window=0)
    _clustering.update(seconds=0.0, articles=0)


def mark(status: str) -> None:
    _state["status"] = status


BROKER_OUTAGE = Gauge("storywire_broker_outage_seconds", "How long outputs have been waiting for the broker (0: delivering)")
_outages: dict[str, float] = {}  # sink -> since when it waits


def broker_outage(sink: str, since: float | None) -> None:
    """A sink waits for the broker since `since` (None: it delivers again)."""
    if since is None:
        _outages.pop(sink, None)
    else:
        _outages[sink] = since
    _state["broker_outage_since"] = min(_outages.values(), default=None)
    BROKER_OUTAGE.set(time.time() - _state["broker_outage_since"] if _outages else 0.0)


def batch_done() -> None:
    _state["last_batch_at"] = time.time()


class Health:
    """Records read and finished (tagged, dead-lettered or duplicate), per second over the last minute."""

    def __init__(self, stall_after_s: float = 120.0, max_dead_letter_ratio: float = 0.5, dead_letter_min_records: int = 20) -> None:
        self.stall_after_s = stall_after_s
        self.max_dead_letter_ratio = max_dead_letter_ratio
        self.dead_letter_min_records = dead_letter_min_records
        self._lock = threading.Lock()
        self._seconds: deque[list[int]] = deque()  # [second, records read, dead-lettered]
        self.in_flight = 0
        self.last_progress = time.time()

    def _bucket(self, now: float) -> list[int]:
        second = int(now)
        if not self._seconds or self._seconds[-1][0] != second:
            self._seconds.append([second, 0, 0])
        while self._seconds[0][0] <= second - WINDOW_S:
            self._seconds.popleft()
        return self._seconds[-1]

    def read(self) -> None:
        with self._lock:
            self._bucket(time.time())[1] += 1
            self.in_flight += 1

    def finished(self, n: int, dead: bool = False) -> None:
        now = time.time()
        with self._lock:
            if dead:
                self._bucket(now)[2] += n
            self.in_flight -= n
            self.last_progress = now

    def problems(self, now: float | None = None) -> list[str]:
        """Why the service is unhealthy; empty when it is healthy."""
        now = time.time() if now is None else now
        with self._lock:
            recent = [b for b in self._seconds if b[0] > now - WINDOW_S]
            read, dead = sum(b[1] for b in recent), sum(b[2] for b in recent)
            stalled = now - self.last_progress
            in_flight = self.in_flight
        problems = []
        if in_flight > 0 and stalled > self.stall_after_s:
            problems.append(f"no progress for {stalled:.0f} s with {in_flight} records read and waiting")
        if read >= self.dead_letter_min_records and dead > self.max_dead_letter_ratio * read:
            problems.append(f"{dead} of the {read} records read in the last minute were dead-lettered")
        return problems


HEALTH = Health()


def configure_health(stall_after_s: float, max_dead_letter_ratio: float, dead_letter_min_records: int) -> None:
    HEALTH.stall_after_s = stall_after_s
    HEALTH.max_dead_letter_ratio = max_dead_letter_ratio
    HEALTH.dead_letter_min_records = dead_letter_min_records


def article_in() -> None:
    ARTICLES_IN.inc()
    HEALTH.read()


def dead_lettered(stage: str, n: int = 1) -> None:
    DEAD_LETTERS.labels(stage).inc(n)
    HEALTH.finished(n, dead=True)


def tagged(n: int) -> None:
    ARTICLES_TAGGED.inc(n)
    HEALTH.finished(n)


def duplicates(n: int) -> None:
    DUPLICATES.inc(n)
    HEALTH.finished(n)


def ready() -> None:
    """The models are loaded: /readyz turns ready while the dataflow runs."""
    _state["ready"] = True


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/metrics"):
            body, ctype, code = generate_latest(REGISTRY), CONTENT_TYPE_LATEST, 200
        elif self.path.startswith("/healthz"):
            problems = HEALTH.problems()
            if _state.get("broker_outage_since"):
                problems.insert(0, f"outputs wait for the Kafka broker since {time.time() - _state['broker_outage_since']:.0f} s")
            if _state["status"] not in ("starting", "running"):
                problems.insert(0, f"dataflow {_state['status']}")
            body = json.dumps({**_state, "in_flight": HEALTH.in_flight, "problems": problems}).encode()
            ctype, code = "application/json", 503 if problems else 200
        elif self.path.startswith("/readyz"):
            ready = _state["ready"] and _state["status"] == "running"
            body = json.dumps({"ready": ready, "status": _state["status"]}).encode()
            ctype, code = "application/json", 200 if ready else 503
        else:
            body, ctype, code = b"not found\n", "text/plain", 404
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep scrapes out of the logs
        pass


def serve(host: str, port: int) -> ThreadingHTTPServer:
    """Start the metrics/health server in a daemon thread."""
    try:
        server = ThreadingHTTPServer((host, port), _Handler)
    except OSError as exc:
        raise RuntimeError(f"cannot serve metrics on {host}:{port} ({exc}); set metrics.port (0 = off)") from None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
