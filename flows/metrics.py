"""Prometheus metrics and a health endpoint for the running service.

One HTTP server per process: /metrics (ours plus the Python-side Bytewax
metrics in the default registry, such as consumer lag) and /healthz (JSON:
ok while the dataflow runs; includes when the last batch was clustered).
"""

from __future__ import annotations

import json
import threading
import time
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
RECLUSTER_SECONDS = Histogram("storywire_recluster_stall_seconds", "Time re-clustering held the stream (submit or apply)")
RECLUSTER_WINDOW = Gauge("storywire_recluster_window_articles", "Articles in the latest window sent to HDBSCAN", ["shard"])

_state = {"started_at": time.time(), "last_batch_at": None, "status": "starting"}
_peaks = {"stall_s": 0.0, "window": 0}  # longest time re-clustering added to one batch; largest window re-clustered


def record_recluster(stall_seconds: float, window: int) -> None:
    _peaks["stall_s"] = max(_peaks["stall_s"], stall_seconds)
    _peaks["window"] = max(_peaks["window"], window)


def max_stall_seconds() -> float:
    return _peaks["stall_s"]


def max_recluster_window() -> int:
    return _peaks["window"]


def reset_peaks() -> None:
    _peaks.update(stall_s=0.0, window=0)


def mark(status: str) -> None:
    _state["status"] = status


def batch_done() -> None:
    _state["last_batch_at"] = time.time()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/metrics"):
            body, ctype, code = generate_latest(REGISTRY), CONTENT_TYPE_LATEST, 200
        elif self.path.startswith("/healthz"):
            healthy = _state["status"] in ("starting", "running")
            body = json.dumps(_state).encode()
            ctype, code = "application/json", 200 if healthy else 503
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
